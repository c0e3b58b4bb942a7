"""The inbox page: lists messages newest first, escapes everything, shows HTML only in a sandboxed iframe."""

from __future__ import annotations

import html
import re
import smtplib
from email.message import EmailMessage

import requests

from mailcatcher import MailCatcher

HTML_PART = '<p class="hi">Hello <b>there</b></p><script>alert("part")</script>'


def send(catcher: MailCatcher, subject: str, *, html_part: str | None = None) -> str:
    """Send a message and return its id."""
    message = EmailMessage()
    message["From"] = "Sender <sender@example.com>"
    message["To"] = "you@example.com"
    message["Subject"] = subject
    message.set_content("Plain words & <angle brackets>.\n")
    if html_part is not None:
        message.add_alternative(html_part, subtype="html")
    with smtplib.SMTP(catcher.smtp_host, catcher.smtp_port, timeout=5) as client:
        client.send_message(message)
    items = requests.get(f"{catcher.api_url}/api/v2/messages", timeout=5).json()["items"]
    return items[0]["ID"]


def page(catcher: MailCatcher, path: str = "/") -> requests.Response:
    response = requests.get(catcher.api_url + path, timeout=5)
    assert response.headers["Content-Type"].startswith("text/html")
    return response


def test_the_inbox_lists_subjects_newest_first(catcher: MailCatcher) -> None:
    send(catcher, "First subject")
    send(catcher, "Second subject")

    response = page(catcher)

    assert response.status_code == 200
    text = response.text
    assert "Sender &lt;sender@example.com&gt;" in text
    assert "you@example.com" in text
    assert text.index("Second subject") < text.index("First subject")
    assert 'http-equiv="refresh"' in text


def test_the_inbox_escapes_a_script_subject(catcher: MailCatcher) -> None:
    send(catcher, "<script>alert(1)</script>")

    text = page(catcher).text

    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_an_empty_inbox_says_so(catcher: MailCatcher) -> None:
    text = page(catcher).text
    assert "No mail yet" in text
    assert f"{catcher.smtp_host}:{catcher.smtp_port}" in text


def test_a_message_shows_headers_plain_part_and_html_only_in_a_sandboxed_iframe(catcher: MailCatcher) -> None:
    message_id = send(catcher, "<script>alert(2)</script> subject", html_part=HTML_PART)
    listing = page(catcher).text
    link = re.search(r'href="(/messages/[^"]+)"', listing)
    assert link is not None

    response = page(catcher, html.unescape(link.group(1)))

    assert response.status_code == 200
    assert message_id in html.unescape(link.group(1))
    text = response.text
    assert "<script" not in text, "no script from the message reaches the page"
    assert "<b>there</b>" not in text and 'class="hi"' not in text
    assert "&lt;script&gt;alert(2)&lt;/script&gt; subject" in text
    assert "Plain words &amp; &lt;angle brackets&gt;." in text

    iframes = re.findall(r"<iframe[^>]*>", text)
    assert len(iframes) == 1
    iframe = iframes[0]
    assert re.search(r"\ssandbox[\s>]", iframe), "sandboxed with no permissions at all"
    assert "allow-" not in iframe
    srcdoc = re.search(r'srcdoc="([^"]*)"', iframe)
    assert srcdoc is not None
    assert html.unescape(srcdoc.group(1)).strip() == HTML_PART
    assert "script-src 'none'" in response.headers["Content-Security-Policy"]


def test_an_unknown_message_is_a_404_page(catcher: MailCatcher) -> None:
    response = page(catcher, "/messages/nope@mailcatcher.example")
    assert response.status_code == 404
    assert "Message not found" in response.text

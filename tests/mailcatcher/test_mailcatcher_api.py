"""Mail sent over SMTP shows up in the MailHog-shaped API; DELETE empties it."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
import requests

from mailcatcher import MailCatcher


def alternative(subject: str, sender: str = "Sender <sender@example.com>") -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "you@example.com"
    message["Subject"] = subject
    message.set_content("Hello in plain text.\n")
    message.add_alternative("<p>Hello in <b>HTML</b>.</p>\n", subtype="html")
    return message


def send(catcher: MailCatcher, message: EmailMessage, sender: str, recipients: list[str]) -> None:
    with smtplib.SMTP(catcher.smtp_host, catcher.smtp_port, timeout=5) as client:
        client.send_message(message, sender, recipients)


def listing(catcher: MailCatcher, **params: int) -> dict:
    response = requests.get(f"{catcher.api_url}/api/v2/messages", params=params, timeout=5)
    assert response.status_code == 200
    return response.json()


def test_a_message_appears_in_the_v2_api_in_mailhog_shape(catcher: MailCatcher) -> None:
    message = alternative("Hello there")
    send(catcher, message, "sender@example.com", ["you@example.com", "cc@example.org"])

    body = listing(catcher)
    assert (body["total"], body["count"], body["start"]) == (1, 1, 0)
    item = body["items"][0]

    assert item["ID"].endswith("@mailcatcher.example")
    assert item["From"] == {"Relays": None, "Mailbox": "sender", "Domain": "example.com", "Params": ""}
    assert [(to["Mailbox"], to["Domain"], to["Params"]) for to in item["To"]] == [
        ("you", "example.com", ""),
        ("cc", "example.org", ""),
    ]
    headers = item["Content"]["Headers"]
    assert headers["Subject"] == ["Hello there"]
    assert headers["From"] == ["Sender <sender@example.com>"]
    assert headers["To"] == ["you@example.com"]
    assert headers["Content-Type"][0].startswith("multipart/alternative; boundary=")
    assert headers["Return-Path"] == ["<sender@example.com>"]
    assert headers["Message-ID"] == [item["ID"]], "MailHog adds a Message-ID when the mail has none"

    raw = item["Raw"]
    assert raw["From"] == "sender@example.com"
    assert raw["To"] == ["you@example.com", "cc@example.org"]
    assert raw["Data"].startswith("From: Sender <sender@example.com>\r\n")
    _head, body_text = raw["Data"].split("\r\n\r\n", 1)
    assert item["Content"]["Body"] == body_text
    assert item["Content"]["Size"] == len(raw["Data"])

    created = datetime.fromisoformat(item["Created"])
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)

    plain, html = item["MIME"]["Parts"]
    assert plain["Headers"]["Content-Type"] == ['text/plain; charset="utf-8"']
    assert plain["Body"] == "Hello in plain text."
    assert html["Headers"]["Content-Type"] == ['text/html; charset="utf-8"']
    assert html["Body"] == "<p>Hello in <b>HTML</b>.</p>"


def test_a_single_part_message_has_no_mime_parts(catcher: MailCatcher) -> None:
    message = EmailMessage()
    message["Subject"] = "Plain only"
    message["Message-ID"] = "<given@example.com>"
    message.set_content("Just text.\n")
    send(catcher, message, "a@example.com", ["b@example.com"])

    item = listing(catcher)["items"][0]
    assert item["MIME"] is None
    assert item["Content"]["Body"] == "Just text.\r\n"
    assert item["Content"]["Headers"]["Message-ID"] == ["<given@example.com>"]


def test_messages_are_listed_newest_first_and_paged(catcher: MailCatcher) -> None:
    for n in range(3):
        send(catcher, alternative(f"Message {n}"), "a@example.com", ["b@example.com"])

    def subjects(body: dict) -> list[str]:
        return [item["Content"]["Headers"]["Subject"][0] for item in body["items"]]

    assert subjects(listing(catcher)) == ["Message 2", "Message 1", "Message 0"]
    page = listing(catcher, start=1, limit=1)
    assert (page["total"], page["count"], page["start"]) == (3, 1, 1)
    assert subjects(page) == ["Message 1"]


def test_one_message_by_id(catcher: MailCatcher) -> None:
    send(catcher, alternative("Find me"), "a@example.com", ["b@example.com"])
    listed = listing(catcher)["items"][0]

    response = requests.get(f"{catcher.api_url}/api/v1/messages/{listed['ID']}", timeout=5)
    assert response.status_code == 200
    assert response.json() == listed

    missing = requests.get(f"{catcher.api_url}/api/v1/messages/nope@mailcatcher.example", timeout=5)
    assert missing.status_code == 404
    assert missing.json() == {"error": True, "message": "message not found"}


def test_delete_empties_the_inbox(catcher: MailCatcher) -> None:
    send(catcher, alternative("Doomed"), "a@example.com", ["b@example.com"])
    assert listing(catcher)["total"] == 1

    response = requests.delete(f"{catcher.api_url}/api/v1/messages", timeout=5)

    assert response.status_code == 200
    assert listing(catcher) == {"total": 0, "count": 0, "start": 0, "items": []}


def test_any_login_is_accepted_like_mailhog(catcher: MailCatcher) -> None:
    with smtplib.SMTP(catcher.smtp_host, catcher.smtp_port, timeout=5) as client:
        client.login("anyone", "anything")
        client.send_message(alternative("After login"), "a@example.com", ["b@example.com"])

    assert listing(catcher)["items"][0]["Content"]["Headers"]["Subject"] == ["After login"]


def test_health_and_readiness(catcher: MailCatcher) -> None:
    assert requests.get(f"{catcher.api_url}/healthz", timeout=5).status_code == 200
    ready = requests.get(f"{catcher.api_url}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["data"] == {"smtp": True}


def test_a_taken_port_raises_and_leaves_nothing_running(catcher: MailCatcher) -> None:
    second = MailCatcher("127.0.0.1", 0, catcher.http_port)
    with pytest.raises(OSError):
        second.start()
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", second.smtp_port, timeout=5)

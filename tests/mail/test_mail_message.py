"""Validation, templates and MIME building: pure functions, no server."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage

import lxml.html
import pytest

from labkit.validation import ApiError
from mail.config import Config
from mail.message import (
    HTML_TEMPLATE,
    Mail,
    build_message,
    inline_css,
    paragraphs,
    parse_address,
    parse_mail,
    render_html,
    render_plain,
    templates,
)

DEFAULT = Config().default_sender
VALID = {"to": "you@example.com", "subject": "Hello", "message": "Hi there"}


def rejected(body: dict) -> str:
    with pytest.raises(ApiError) as caught:
        parse_mail(body, DEFAULT)
    assert caught.value.status == 400
    return caught.value.message


def test_a_valid_body_uses_the_default_sender() -> None:
    mail = parse_mail(VALID, DEFAULT)
    assert str(mail.sender) == "John Smith <john.smith@example.com>"
    assert str(mail.to) == "you@example.com"
    assert (mail.subject, mail.message) == ("Hello", "Hi there")


def test_from_may_be_given_with_a_display_name() -> None:
    mail = parse_mail({**VALID, "from": "Jane Doe <Jane@Example.COM>"}, DEFAULT)
    assert mail.sender == Address("Jane Doe", addr_spec="Jane@example.com")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"subject": "s", "message": "m"}, "to is required"),
        ({**VALID, "to": ""}, "to must not be empty"),
        ({**VALID, "subject": "  "}, "subject must not be empty"),
        ({**VALID, "message": 5}, "message must be a string"),
        ({**VALID, "from": ["a@example.com"]}, "from must be a string"),
    ],
)
def test_required_fields(body: dict, message: str) -> None:
    assert rejected(body) == message


@pytest.mark.parametrize("field", ["to", "subject", "from"])
@pytest.mark.parametrize("brk", ["\r\n", "\n", "\r", "\u2028", "\x85"])
def test_a_line_break_in_a_header_field_is_rejected(field: str, brk: str) -> None:
    value = f"you@example.com{brk}Bcc: victim@example.com"
    assert rejected({**VALID, field: value}) == f"{field} must not contain line breaks"


def test_line_breaks_in_the_message_are_fine() -> None:
    assert parse_mail({**VALID, "message": "one\r\ntwo\n\nthree"}, DEFAULT).message == "one\r\ntwo\n\nthree"


@pytest.mark.parametrize(
    "address",
    [
        "not-an-address",
        "you@",
        "@example.com",
        "you@example.com, victim@example.com",
        "You <you@example.com> trailing",
        "you@localhost",
    ],
)
@pytest.mark.parametrize("field", ["to", "from"])
def test_bad_addresses_are_rejected(field: str, address: str) -> None:
    assert rejected({**VALID, field: address}) == f"{field} is not a valid email address"


def test_parse_address_normalizes_the_domain() -> None:
    assert parse_address("to", '"Doe, Jane" <jane@EXAMPLE.com>') == Address(
        "Doe, Jane", addr_spec="jane@example.com"
    )


MAIL = Mail(
    sender=DEFAULT,
    to=Address(addr_spec="you@example.com"),
    subject="Greetings <b>",
    message="Hello <world> & friends\nsecond line\n\n<script>alert(1)</script>",
)


def test_the_plain_part_is_the_message_as_written() -> None:
    assert render_plain(MAIL) == MAIL.message + "\n"


def test_the_html_part_has_inline_css_and_escaped_text() -> None:
    html = render_html(MAIL)

    assert "<style" not in html
    assert re.search(r'<body style="[^"]*background-color', html) or re.search(
        r"<body style='[^']*background-color", html
    )
    assert re.search(r'<p style="[^"]*white-space:pre-wrap', html)
    assert "Hello &lt;world&gt; &amp; friends\nsecond line</p>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html
    assert "<h1" in html and "Greetings &lt;b&gt;</h1>" in html


def test_paragraphs_split_on_blank_lines() -> None:
    assert paragraphs("a\nb\r\n\r\nc\n \n\nd\n") == ["a\nb", "c", "d"]


def test_the_built_message_is_multipart_alternative_with_date_and_message_id() -> None:
    now = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    message = build_message(MAIL, domain="mail.example.org", now=now)

    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["From"] == "John Smith <john.smith@example.com>"
    assert message["To"] == "you@example.com"
    assert message["Subject"] == "Greetings <b>"
    assert message["Date"] == "Wed, 01 May 2024 12:30:00 +0000"
    assert re.fullmatch(r"<[^@<>\s]+@mail\.example\.org>", message["Message-ID"])


INTERNATIONAL = Mail(Address("Zoë", "zoe", "exämple.org"), MAIL.to, "Grüße ✓", "é " * 200)


@pytest.mark.parametrize("mail", [MAIL, INTERNATIONAL])
def test_the_built_message_is_the_email_packages_standard_build_byte_for_byte(mail: Mail) -> None:
    """The cached header classes, the headers an earlier message parsed and this one reuses, and the
    boundary chosen beforehand change no byte of what the email package's defaults build, except the
    MIME-Version header add_alternative puts in the HTML part, which only belongs at the top (RFC 2045)."""
    now = datetime.now(UTC)
    build_message(mail, domain="mail.example.org", now=now)
    message = build_message(mail, domain="mail.example.org", now=now)
    standard = EmailMessage()
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        standard[name] = str(message[name])
    standard.set_content(render_plain(mail))
    standard.add_alternative(render_html(mail), subtype="html")
    standard.set_boundary(message.get_boundary())
    del standard.get_payload(1)["MIME-Version"]

    assert message.as_bytes() == standard.as_bytes()


def test_the_boundary_is_never_one_a_text_contains(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = iter(["a" * 32, "b" * 32])
    monkeypatch.setattr(secrets, "token_hex", lambda nbytes: next(tokens))
    mail = Mail(MAIL.sender, MAIL.to, "Hello", "--=_" + "a" * 32)

    assert build_message(mail, domain="mail.example.org").get_boundary() == "=_" + "b" * 32


@pytest.mark.parametrize(
    "text",
    [
        "Hello, world!",
        'Quotes "x" & <script>alert(1)</script>, é ✓',
        "one\n\ntwo\r\n\r\n  three\nstill three",
    ],
)
def test_the_template_inlined_once_renders_what_inlining_each_message_would(text: str) -> None:
    """The HTML part comes from a template whose CSS was inlined once: the same document as rendering
    the plain template and inlining every message (the quotes' escaping aside, which parsing undoes)."""
    mail = Mail(MAIL.sender, MAIL.to, f'Subject "{text[:5]}" <b>', text)
    rendered = templates.get_template(HTML_TEMPLATE).render(subject=mail.subject, paragraphs=paragraphs(text))

    def canonical(html: str) -> bytes:
        return lxml.html.tostring(lxml.html.document_fromstring(html))

    assert canonical(render_html(mail)) == canonical(inline_css(rendered))

"""Hostile input to the mail service's POST /send on the real process: the contract's answer, nothing in
the mail catcher's inbox, still serving, nothing internal in the reply; odd but valid mail arrives intact."""

from __future__ import annotations

import email
from collections.abc import Callable
from email import policy

import pytest
from hostile_support import (
    MARK,
    MIB,
    NOT_JSON,
    NOT_OBJECT,
    ODD_TEXT,
    TOO_DEEP,
    TOO_LARGE,
    Case,
    as_json,
    assert_envelope,
    cases,
    nested,
    post_json,
    send,
)

from labtest import Lab, eventually

MAIL = {"to": "you@example.com", "subject": MARK, "message": MARK}


def mail(**fields: object) -> str:
    return as_json({**MAIL, **fields})


def breaks(field: str) -> str:
    return f"{field} must not contain line breaks"


def invalid(field: str) -> str:
    return f"{field} is not a valid email address"


REJECTED = cases(
    Case("empty", b"", 400, NOT_JSON),
    Case("malformed", "{to: you@example.com}", 400, NOT_JSON),
    Case("truncated", mail()[:-1], 400, NOT_JSON),
    Case(
        "lone-surrogate",
        '{"to": "you@example.com", "subject": "\\ud800", "message": "' + MARK + '"}',
        400,
        NOT_JSON,
    ),
    Case("array", as_json([MAIL]), 400, NOT_OBJECT),
    Case("string", as_json(MARK), 400, NOT_OBJECT),
    Case("null", "null", 400, NOT_OBJECT),
    Case("deeply-nested", nested(3000), 400, TOO_DEEP),
    Case("no-to", as_json({"subject": MARK, "message": MARK}), 400, "to is required"),
    Case("no-subject", as_json({"to": "you@example.com", "message": MARK}), 400, "subject is required"),
    Case("no-message", as_json({"to": "you@example.com", "subject": MARK}), 400, "message is required"),
    Case("empty-message", mail(message=""), 400, "message must not be empty"),
    Case("blank-subject", mail(subject="\t \u00a0"), 400, "subject must not be empty"),
    Case("empty-from", mail(**{"from": ""}), 400, "from must not be empty"),
    Case("to-list", mail(to=["you@example.com", "victim@example.com"]), 400, "to must be a string"),
    Case("to-object", mail(to={"address": "you@example.com"}), 400, "to must be a string"),
    Case("subject-number", mail(subject=404), 400, "subject must be a string"),
    Case("message-bool", mail(message=False), 400, "message must be a string"),
    Case("from-number", mail(**{"from": 1}), 400, "from must be a string"),
    # Header injection: every character str.splitlines() breaks on, in every header field.
    Case("crlf-subject", mail(subject=f"{MARK}\r\nBcc: victim@example.com"), 400, breaks("subject")),
    Case("lf-subject", mail(subject=f"{MARK}\nBcc: victim@example.com"), 400, breaks("subject")),
    Case("cr-subject", mail(subject=f"{MARK}\rBcc: victim@example.com"), 400, breaks("subject")),
    Case("crlf-to", mail(to="you@example.com\r\nBcc: victim@example.com"), 400, breaks("to")),
    Case("lf-from", mail(**{"from": "me@example.com\nBcc: victim@example.com"}), 400, breaks("from")),
    Case("crlf-crlf-body-subject", mail(subject=f"{MARK}\r\n\r\nforged body"), 400, breaks("subject")),
    Case("vertical-tab-subject", mail(subject=f"{MARK}\vBcc: v@example.com"), 400, breaks("subject")),
    Case("form-feed-subject", mail(subject=f"{MARK}\fBcc: v@example.com"), 400, breaks("subject")),
    Case("nel-subject", mail(subject=f"{MARK}\u0085Bcc: v@example.com"), 400, breaks("subject")),
    Case("line-separator-to", mail(to="you@example.com\u2028Bcc: v@example.com"), 400, breaks("to")),
    Case("paragraph-separator-from", mail(**{"from": "me@example.com\u2029X: 1"}), 400, breaks("from")),
    Case("file-separator-subject", mail(subject=f"{MARK}\u001cX: 1"), 400, breaks("subject")),
    # Addresses that are not exactly one address.
    Case("to-two-addresses", mail(to="you@example.com, victim@example.com"), 400, invalid("to")),
    Case("to-group", mail(to="friends: you@example.com, victim@example.com;"), 400, invalid("to")),
    Case("to-no-domain", mail(to="you"), 400, invalid("to")),
    Case("to-sql", mail(to="you@example.com'; DROP TABLE users; --"), 400, invalid("to")),
    Case("to-nul", mail(to="you@example.com\u0000victim@example.com"), 400, invalid("to")),
    Case("to-bidi", mail(to="you@\u202eexample.com"), 400, invalid("to")),
    Case("to-huge", mail(to="a" * 100_000 + "@example.com"), 400, invalid("to")),
    Case("to-semicolon", mail(to="you@example.com;victim@example.com"), 400, invalid("to")),
    Case("from-two-addresses", mail(**{"from": "me@example.com, x@example.com"}), 400, invalid("from")),
    Case("over-1mib", mail(message=MARK + "x" * MIB), 413, TOO_LARGE),
    Case("get", None, 405, "method not allowed", "GET", "/send"),
    Case("unknown-path", mail(), 404, "not found", path="/send/bulk"),
)


@pytest.mark.parametrize("case", REJECTED)
def test_hostile_mail_gets_the_contract_answer_and_sends_nothing(
    lab: Lab, untouched, still_serving: Callable[[str], None], case: Case
) -> None:
    assert_envelope(send(lab.url("mail"), case, "/send"), case.status, case.message)
    untouched.check()
    still_serving("mail")


def received(untouched) -> email.message.EmailMessage:
    items = eventually(untouched.mails, lambda found: len(found) == 1)
    return email.message_from_bytes(items[0]["Raw"]["Data"].encode(), policy=policy.default)


@pytest.mark.parametrize("kind", list(ODD_TEXT))
def test_odd_text_arrives_intact(lab: Lab, untouched, kind: str) -> None:
    text = ODD_TEXT[kind]
    subject = " ".join(text.splitlines())
    body = {"to": "you@example.com", "subject": subject, "message": text}
    assert_envelope(post_json(lab.url("mail") + "/send", body), 202, "sent to you@example.com")

    message = received(untouched)
    assert message["Subject"] == subject
    assert message["To"] == "you@example.com"
    # SMTP carries lines: a lone carriage return arrives as a line end.
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text.replace("\r", "\n") in plain


def test_unknown_fields_add_no_recipient_or_header(lab: Lab, untouched) -> None:
    body = {
        **MAIL,
        "cc": "victim@example.com",
        "bcc": ["victim@example.com"],
        "headers": {"X-Evil": "1", "Bcc": "victim@example.com"},
        "reply_to": "victim@example.com",
    }
    assert_envelope(post_json(lab.url("mail") + "/send", body), 202, "sent to you@example.com")

    items = eventually(untouched.mails, lambda found: len(found) == 1)
    assert items[0]["Raw"]["To"] == ["you@example.com"], "the SMTP envelope has one recipient"
    message = email.message_from_bytes(items[0]["Raw"]["Data"].encode(), policy=policy.default)
    assert [message[name] for name in ("Cc", "Bcc", "Reply-To", "X-Evil")] == [None] * 4
    assert "victim" not in items[0]["Raw"]["Data"]


def test_a_display_name_with_quotes_and_unicode_stays_one_address(lab: Lab, untouched) -> None:
    body = {**MAIL, "to": '"Évil, \\"Bob\\" \U0001f600" <bob@example.com>'}
    reply = post_json(lab.url("mail") + "/send", body)

    assert reply.status_code == 202, reply.text
    message = received(untouched)
    assert message["To"].addresses[0].addr_spec == "bob@example.com"
    assert len(message["To"].addresses) == 1


def test_markup_in_the_message_is_escaped_in_the_html_part(lab: Lab, untouched) -> None:
    body = {**MAIL, "message": ODD_TEXT["markup"]}
    assert_envelope(post_json(lab.url("mail") + "/send", body), 202, "sent to you@example.com")

    html = received(untouched).get_body(("html",)).get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html

"""What the inbox page shows of a message: decoded headers and its plain and HTML parts."""

from __future__ import annotations

import email
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from typing import cast

from mailcatcher.store import Caught


@dataclass(frozen=True)
class Summary:
    id: str
    created: str
    sender: str
    recipients: str
    subject: str


@dataclass(frozen=True)
class Detail:
    summary: Summary
    headers: list[tuple[str, str]]
    text: str | None
    html: str | None
    source: str


def summarize(message: Caught) -> Summary:
    return _summary(message, _parse(message))


def detail(message: Caught) -> Detail:
    parsed = _parse(message)
    return Detail(
        summary=_summary(message, parsed),
        headers=[(name, str(value)) for name, value in parsed.items()],
        text=_body(parsed, "plain"),
        html=_body(parsed, "html"),
        source=message.data,
    )


def _parse(message: Caught) -> EmailMessage:
    return cast(EmailMessage, email.message_from_string(message.data, policy=policy.default))


def _summary(message: Caught, parsed: EmailMessage) -> Summary:
    return Summary(
        id=message.id,
        created=message.created.strftime("%Y-%m-%d %H:%M:%S UTC"),
        sender=str(parsed.get("From") or message.mail_from),
        recipients=str(parsed.get("To") or ", ".join(message.rcpt_tos)),
        subject=str(parsed.get("Subject") or "(no subject)"),
    )


def _body(parsed: EmailMessage, subtype: str) -> str | None:
    part = parsed.get_body(preferencelist=(subtype,))
    return None if part is None else _decoded(part)


def _decoded(part: Message) -> str:
    """The part's text, transfer-decoded; an unknown charset falls back to UTF-8 rather than failing."""
    payload = part.get_payload(decode=True)
    raw = payload if isinstance(payload, bytes) else b""
    try:
        return raw.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")

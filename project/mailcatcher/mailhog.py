"""A caught message in the JSON shape of MailHog's API (its `data.Message`), parsed the way MailHog does.

MailHog keeps header values and bodies exactly as they came over SMTP (no charset or transfer decoding),
splits multipart bodies on their boundary, and adds Message-ID (when missing) and Return-Path headers.
"""

from __future__ import annotations

from email import policy
from typing import Any

from mailcatcher.store import Caught

Headers = dict[str, list[str]]


def message_json(message: Caught) -> dict[str, Any]:
    content = content_json(message.data)
    mime = mime_json(content)
    headers: Headers = content["Headers"]
    if _header(headers, "Message-ID") is None:
        headers["Message-ID"] = [message.id]
    headers.setdefault("Return-Path", []).append(f"<{message.mail_from}>")
    return {
        "ID": message.id,
        "From": path_json(message.mail_from),
        "To": [path_json(recipient) for recipient in message.rcpt_tos],
        "Content": content,
        "Created": message.created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "MIME": mime,
        "Raw": {
            "From": message.mail_from,
            "To": list(message.rcpt_tos),
            "Data": message.data,
            "Helo": message.helo,
        },
    }


def path_json(path: str) -> dict[str, Any]:
    """An SMTP forward- or reverse-path as MailHog's Path: optional source-route relays, mailbox, domain."""
    relays = None
    if ":" in path:
        route, path = path.split(":", 1)
        relays = route.split(",")
    mailbox, _, domain = path.partition("@")
    return {"Relays": relays, "Mailbox": mailbox, "Domain": domain, "Params": ""}


def content_json(data: str) -> dict[str, Any]:
    """Headers and raw body of a message or MIME part; MailHog leaves Content.MIME empty at the top."""
    head, separator, body = data.partition("\r\n\r\n")
    headers: Headers = {}
    if not separator:
        head, body = "", data
    last = None
    for line in head.split("\r\n"):
        if last is not None and line[:1] in (" ", "\t"):
            headers[last][-1] += line
        elif ": " in line:
            name, value = line.split(": ", 1)
            headers.setdefault(name, []).append(value)
            last = name
    return {"Headers": headers, "Body": body, "Size": len(data), "MIME": None}


def mime_json(content: dict[str, Any]) -> dict[str, Any] | None:
    """The parts of a multipart body, nested parts parsed too; None for a single-part body."""
    content_type = _header(content["Headers"], "Content-Type")
    if content_type is None or not content_type.lower().startswith("multipart/"):
        return None
    boundary = policy.default.header_factory("Content-Type", content_type).params.get("boundary")
    sections = content["Body"].split(f"--{boundary}")[1:-1] if boundary else []
    parts = []
    for section in sections:
        if section:
            part = content_json(section.strip("\r\n"))
            part["MIME"] = mime_json(part)
            parts.append(part)
    return {"Parts": parts}


def _header(headers: Headers, name: str) -> str | None:
    for key, values in headers.items():
        if key.lower() == name.lower() and values:
            return values[0]
    return None

"""Helpers the mail tests share: the inbox as a MailHog user reads it, and TLS material."""

from __future__ import annotations

import email
import ssl
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import requests


@dataclass(frozen=True)
class Inbox:
    """The catcher's MailHog API, read the way a user of MailHog would."""

    api_url: str

    def items(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.api_url}/api/v2/messages", timeout=5).json()["items"]

    def only(self) -> EmailMessage:
        items = self.items()
        assert len(items) == 1, f"expected one message, got {len(items)}"
        parsed = email.message_from_string(items[0]["Raw"]["Data"], policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """What a mail service that trusts this certificate uses: full verification, host name included."""
        return ssl.create_default_context(cafile=str(self.cert))

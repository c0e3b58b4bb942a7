"""The caught messages, in memory, newest first, safe to share between the SMTP and HTTP threads."""

from __future__ import annotations

import base64
import secrets
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice


@dataclass(frozen=True)
class Caught:
    """One message as the SMTP session delivered it: the envelope and the raw data."""

    id: str
    created: datetime
    mail_from: str
    rcpt_tos: tuple[str, ...]
    helo: str
    data: str

    @classmethod
    def received(
        cls, mail_from: str, rcpt_tos: Iterable[str], content: bytes, helo: str, hostname: str
    ) -> Caught:
        """A newly received message with a MailHog-style id: 32 random bytes in URL-safe base64 @ hostname."""
        return cls(
            id=f"{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}@{hostname}",
            created=datetime.now(UTC),
            mail_from=mail_from,
            rcpt_tos=tuple(rcpt_tos),
            helo=helo,
            data=content.decode("utf-8", errors="replace"),
        )


# Enough for a whole benchmark's mails (at most 10,000, and its warm-up) twice over, so `make bench`
# finds every one of them; a mail of the lab's is about 1.5 KB.
CAPACITY = 20_000


class MessageStore:
    """Keeps the newest `capacity` messages; the oldest drop off when it is full."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._lock = threading.Lock()
        self._messages: deque[Caught] = deque(maxlen=capacity)

    def add(self, message: Caught) -> None:
        with self._lock:
            self._messages.appendleft(message)

    def page(self, start: int, limit: int) -> tuple[int, list[Caught]]:
        """The total count and up to `limit` messages from position `start`, newest first."""
        with self._lock:
            return len(self._messages), list(islice(self._messages, start, start + limit))

    def get(self, message_id: str) -> Caught | None:
        with self._lock:
            return next((message for message in self._messages if message.id == message_id), None)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

"""What to do with a delivered message and with the logger's reply: pure decisions, no I/O."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from pika.spec import BasicProperties

from labkit.logs import new_id
from labkit.validation import ApiError, optional_str, require_str

TRANSPORT = "rabbitmq"


@dataclass(frozen=True)
class Store:
    """Post this payload to the logger. `event_id_source` says where its event id came from."""

    payload: dict[str, str]
    event_id_source: str


@dataclass(frozen=True)
class DeadLetter:
    """The message can never be stored: reject it without requeueing, for the reason given."""

    reason: str


Decision = Store | DeadLetter


class Action(enum.Enum):
    ACK = "ack"
    DEAD_LETTER = "dead-letter"
    RETRY = "retry"


def decide(body: bytes, properties: BasicProperties) -> Decision:
    """Store a body that is one JSON object with non-empty string name and data, else dead-letter it."""
    try:
        event: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return DeadLetter("body is not UTF-8 JSON")
    except RecursionError:
        return DeadLetter("body is nested too deeply")
    if not isinstance(event, dict):
        return DeadLetter("body must be a JSON object")
    try:
        name = require_str(event, "name")
        data = require_str(event, "data")
        event_id = optional_str(event, "event_id")
    except ApiError as exc:
        return DeadLetter(exc.message)
    source = "body"
    if event_id is None:
        event_id, source = _fallback_event_id(properties.message_id)
    return Store({"name": name, "data": data, "event_id": event_id, "transport": TRANSPORT}, source)


def _fallback_event_id(message_id: object) -> tuple[str, str]:
    if isinstance(message_id, str) and message_id.strip():
        return message_id, "message_id"
    return new_id(), "generated"


def action_for(status: int) -> Action:
    """202: stored. 400 or 413: the logger will never take it. Anything else: the logger is not able now."""
    if status == 202:
        return Action.ACK
    if status in (400, 413):
        return Action.DEAD_LETTER
    return Action.RETRY


class Backoff:
    """Capped exponential delays: first, 2*first, ... up to limit; reset() starts over."""

    def __init__(self, first: float, limit: float) -> None:
        self.first = first
        self.limit = limit
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.limit)
        return delay

    def reset(self) -> None:
        self._next = self.first

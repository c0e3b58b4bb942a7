"""What to do with a delivered message and with the logger's reply: pure decisions, no I/O."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

from pika.spec import BasicProperties

from labkit.events import LogEvent
from labkit.validation import ApiError

TRANSPORT = "rabbitmq"


@dataclass(frozen=True)
class Store:
    """Hand this event to the logger. `event_id_source` says where its event id came from."""

    event: LogEvent
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
    """Store a body that is one valid log event (labkit.events decides), else dead-letter it. Without an
    event id of its own, the event takes the message's id, or a new one; without a request id of its
    own, the message's correlation id."""
    try:
        fields: Any = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return DeadLetter("body is not UTF-8 JSON")
    except RecursionError:
        return DeadLetter("body is nested too deeply")
    if not isinstance(fields, dict):
        return DeadLetter("body must be a JSON object")
    message_id = properties.message_id
    if not (isinstance(message_id, str) and message_id.strip()):
        message_id = None
    try:
        event = LogEvent.parse(fields, event_id=message_id, request_id=properties.correlation_id)
    except ApiError as exc:
        return DeadLetter(exc.message)
    source = "body" if fields.get("event_id") is not None else "message_id" if message_id else "generated"
    return Store(event, source)


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

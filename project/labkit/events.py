"""A log event, defined once: its fields, levels and limits, its checks with the contract's messages, and
its wire forms (JSON, xmlrpc, protobuf).

The broker, its four senders, the listener and every front door of the logger build and read events
here, so a rule (what a valid event is, how large it may be, where its id comes from) has one home.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from labkit.logs import accept_request_id, new_id, request_id_var
from labkit.validation import (
    MAX_BODY_BYTES,
    ApiError,
    Schema,
    nullable,
    object_schema,
    optional_str,
    require_str,
    text_schema,
)

LEVELS = ("INFO", "WARNING", "ERROR")
DEFAULT_LEVEL = "INFO"
MAX_EVENT_ID_LENGTH = 128
# An event travels inside one request with a little beside it (a batch's wrapper, the transport name):
# keeping its JSON this much under the request limit means any accepted event fits in any request.
MAX_EVENT_JSON_BYTES = MAX_BODY_BYTES - 1024
# The most entries one batch request may carry.
MAX_BATCH_ENTRIES = 1000
# GET /logs (the logger's, and the broker's that relays it): how many of the newest entries it lists.
DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 1000
# XML 1.0 cannot carry these characters, and its parsers turn a carriage return into a line feed.
_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\r\x0e-\x1f\ufffe\uffff]")


class ProtoLog(Protocol):
    """The generated logs.Log message (each service that speaks gRPC has its own generated copy)."""

    name: str
    data: str
    event_id: str
    level: str


def _field(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def check_level(raw: str, field: str = "level") -> str:
    """A level as stored and routed (any ASCII case is taken), or the contract's 400 naming the field."""
    level = raw.upper()
    if level not in LEVELS or not raw.isascii():
        raise ApiError(400, f"{field} must be one of {', '.join(LEVELS)}")
    return level


def level_schema() -> Schema:
    """What check_level takes: one of LEVELS in any case, INFO when absent."""
    cases = "|".join("".join(f"[{c}{c.lower()}]" for c in level) for level in LEVELS)
    return {
        "anyOf": [{"enum": list(LEVELS)}, {"type": "string", "pattern": f"^({cases})$"}, {"type": "null"}],
        "description": f"{', '.join(LEVELS)} in any case (stored upper-case); "
        f"absent or null means {DEFAULT_LEVEL}",
    }


def event_schema(description: str = "A log event") -> Schema:
    """The fields LogEvent.parse checks, from the same constants; the size limit is stated, since a
    JSON Schema cannot count the event's JSON bytes."""
    return object_schema(
        {"name": text_schema("what happened"), "data": text_schema("the event's text")},
        {
            "level": level_schema(),
            "event_id": nullable(
                text_schema(
                    "The event's id, for idempotent retries: stored once whatever the transport",
                    maxLength=MAX_EVENT_ID_LENGTH,
                )
            ),
        },
        description=f"{description}. As compact JSON it is at most {MAX_EVENT_JSON_BYTES} bytes "
        '(1 MiB less 1 KiB): a larger one is a 413 "log entry is larger than 1 MiB as JSON".',
    )


def stored_entry_schema() -> Schema:
    """A stored entry as GET /logs shows it (the logger's entries.as_json)."""
    stamp = {"type": ["string", "null"], "description": "ISO-8601, UTC"}
    nullable_text = {"type": ["string", "null"]}
    return object_schema(
        {
            "id": {"type": "string"},
            "name": nullable_text,
            "data": nullable_text,
            "level": {"anyOf": [{"enum": list(LEVELS)}, {"type": "null"}]},
            "transport": nullable_text,
            "event_id": nullable_text,
            "request_id": nullable_text,
            "created_at": stamp,
            "updated_at": stamp,
        },
        additionalProperties=False,
    )


def list_limit_schema() -> Schema:
    return {"type": "integer", "minimum": 1, "maximum": MAX_LIST_LIMIT, "default": DEFAULT_LIST_LIMIT}


@dataclass(frozen=True, slots=True)
class LogEvent:
    name: str
    data: str
    event_id: str
    level: str = DEFAULT_LEVEL
    request_id: str | None = None

    @classmethod
    def parse(
        cls,
        fields: object,
        where: str = "",
        *,
        event_id: str | None = None,
        request_id: str | None = None,
    ) -> LogEvent:
        """Check an event's fields, or raise the contract's 400 (413 when it is too large), naming each
        field as `where.field`. The fields' own event id and request id win; otherwise the ones given
        here; otherwise a new event id and the current request's id."""
        if not isinstance(fields, Mapping):
            raise ApiError(400, f"{where} must be a JSON object")
        name = require_str(fields, "name", where=where)
        data = require_str(fields, "data", where=where)
        level = check_level(
            optional_str(fields, "level", where=where) or DEFAULT_LEVEL, _field(where, "level")
        )
        chosen_id = optional_str(fields, "event_id", where=where) or event_id or new_id()
        if len(chosen_id) > MAX_EVENT_ID_LENGTH:
            raise ApiError(
                400, f"{_field(where, 'event_id')} must be at most {MAX_EVENT_ID_LENGTH} characters"
            )
        own_request_id = fields.get("request_id")
        event = cls(
            name=name,
            data=data,
            event_id=chosen_id,
            level=level,
            request_id=accept_request_id(own_request_id or request_id or request_id_var.get()),
        )
        if len(event.to_json()) > MAX_EVENT_JSON_BYTES:
            raise ApiError(413, "log entry is larger than 1 MiB as JSON")
        return event

    @classmethod
    def from_proto(cls, message: ProtoLog, request_id: str | None = None) -> LogEvent:
        """A gRPC Log message, checked as parse() checks JSON (an empty field is an absent one)."""
        fields = {"name": message.name, "data": message.data}
        fields.update((key, value) for key in ("event_id", "level") if (value := getattr(message, key)))
        return cls.parse(fields, request_id=request_id)

    def to_dict(self) -> dict[str, str]:
        """The wire form over JSON (RabbitMQ, HTTP) and xmlrpc."""
        wire = {"name": self.name, "data": self.data, "event_id": self.event_id, "level": self.level}
        if self.request_id:
            wire["request_id"] = self.request_id
        return wire

    def to_json(self) -> str:
        """The JSON wire form, ASCII only, as it is counted against MAX_EVENT_JSON_BYTES."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    def to_xmlrpc(self) -> dict[str, str]:
        """The xmlrpc payload; 400 for text that XML cannot carry as it is."""
        for field, text in (("name", self.name), ("data", self.data)):
            if _NOT_XML_TEXT.search(text):
                raise ApiError(400, f"log.{field} has control characters that rpc cannot carry")
        return self.to_dict()

    def to_proto(self, message_type: type[Any]) -> Any:
        """This event as the generated logs.Log message type given."""
        return message_type(name=self.name, data=self.data, event_id=self.event_id, level=self.level)


def parse_batch(body: Mapping[str, Any]) -> list[LogEvent]:
    """The events of a batch request's "entries", each checked; the first wrong one is the 400."""
    raw = body.get("entries")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "entries must be a non-empty list")
    if len(raw) > MAX_BATCH_ENTRIES:
        raise ApiError(400, f"entries must hold at most {MAX_BATCH_ENTRIES} entries")
    return [LogEvent.parse(item, f"entries[{i}]") for i, item in enumerate(raw)]


def batch_bodies(events: Sequence[LogEvent], transport: str) -> Iterator[tuple[int, str]]:
    """Batch request bodies for these events, in order, each within the request limit and
    MAX_BATCH_ENTRIES: (how many events it carries, its JSON). Every event fits in one on its own."""
    head, tail = f'{{"transport":{json.dumps(transport)},"entries":[', "]}"
    entries: list[str] = []
    size = len(head) + len(tail)
    for event in events:
        entry = event.to_json()
        added = len(entry) + (1 if entries else 0)
        if entries and (size + added > MAX_BODY_BYTES or len(entries) == MAX_BATCH_ENTRIES):
            yield len(entries), head + ",".join(entries) + tail
            entries, size, added = [], len(head) + len(tail), len(entry)
        entries.append(entry)
        size += added
    if entries:
        yield len(entries), head + ",".join(entries) + tail

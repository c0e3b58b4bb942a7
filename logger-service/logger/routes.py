"""The logger's HTTP API: POST /log, POST /log/batch, GET /logs, GET /logs/count, GET /logs/by-event-id,
GET /logs/<id>."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from labkit.events import (
    DEFAULT_LIST_LIMIT,
    LEVELS,
    MAX_BATCH_ENTRIES,
    MAX_LIST_LIMIT,
    LogEvent,
    check_level,
    event_schema,
    level_schema,
    list_limit_schema,
    parse_batch,
    stored_entry_schema,
)
from labkit.openapi import Answer, operation, ref
from labkit.validation import ApiError, object_schema, optional_str, require_str, text_schema
from labkit.web import read_json_object, reply
from logger.entries import as_json, as_timing, write, write_many
from logger.metrics import refusals
from logger.store import LogStore

# The listener posts what it consumed from RabbitMQ with "rabbitmq", so the entry says how it travelled.
HTTP_TRANSPORTS = ("http", "rabbitmq")
# GET /logs/by-event-id lists at most this many entries; its count is always the full one.
MAX_PREFIXED = 50_000
PREFIX = "event_id_prefix"


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_LIST_LIMIT))
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIST_LIMIT):
        raise ApiError(400, f"limit must be an integer from 1 to {MAX_LIST_LIMIT}")
    return int(raw)


def _level() -> str | None:
    raw = request.args.get("level")
    return None if raw is None else check_level(raw)


def _transport(body: dict[str, Any]) -> str:
    transport = optional_str(body, "transport") or "http"
    if transport not in HTTP_TRANSPORTS:
        raise ApiError(400, f"transport must be one of {', '.join(HTTP_TRANSPORTS)}")
    return transport


TITLE = "logger"
DESCRIPTION = (
    "Stores log events in MongoDB, once per event id. The same events also arrive over xmlrpc and gRPC "
    "(not described here). Every answer is the JSON envelope; every answer carries X-Request-ID."
)
_TRANSPORT = {
    "enum": [*HTTP_TRANSPORTS, None],
    "description": "how the event travelled: http (absent or null) or rabbitmq (what the listener sends)",
}
_STORE_DOWN = Answer('"log store is unavailable"')
_PREFIX = {PREFIX: (text_schema("the start of the entries' event ids, as text (never a pattern)"), True)}
_PREFIX_REFUSED = Answer(f'"{PREFIX} is required", "{PREFIX} must not be empty"')
SCHEMAS = {
    "LogEvent": event_schema(),
    "LogEntry": stored_entry_schema(),
}

WRITE = operation(
    "Store one log event",
    {
        202: Answer(
            '"logged": its id and event id (a second delivery of the same event id stores nothing new)',
            data=object_schema(
                {"id": {"type": "string"}, "event_id": {"type": "string"}}, additionalProperties=False
            ),
        ),
        400: Answer(
            f"a field missing or wrong (name must not be empty, level must be one of {', '.join(LEVELS)}...)"
        ),
        413: Answer("over 1 MiB, or the event over 1 MiB less 1 KiB as JSON"),
        503: _STORE_DOWN,
    },
    body={
        "allOf": [ref("LogEvent")],
        "properties": {"request_id": {"description": "the correlation id to store"}, "transport": _TRANSPORT},
    },
)
WRITE_BATCH = operation(
    "Store a batch of log events: all of them or, on a wrong entry, none",
    {
        202: Answer(
            '"logged": how many were stored and how many were already there',
            data=object_schema(
                {"stored": {"type": "integer"}, "duplicates": {"type": "integer"}}, additionalProperties=False
            ),
        ),
        400: Answer(
            "entries missing, empty or too many, or a wrong entry (entries[3].level must be one of ...)"
        ),
        413: Answer("over 1 MiB, or an entry over 1 MiB less 1 KiB as JSON"),
        503: _STORE_DOWN,
    },
    body=object_schema(
        {
            "entries": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH_ENTRIES,
                "items": {
                    "allOf": [ref("LogEvent")],
                    "properties": {"request_id": {"description": "the correlation id to store"}},
                },
            }
        },
        {"transport": _TRANSPORT},
    ),
)
LIST = operation(
    "The newest stored entries, newest first",
    {
        200: Answer('"logs"', data={"type": "array", "items": ref("LogEntry")}),
        400: Answer(f"limit not an integer from 1 to {MAX_LIST_LIMIT}, or an unknown level"),
        503: _STORE_DOWN,
    },
    query={"limit": (list_limit_schema(), False), "level": (level_schema(), False)},
)
COUNT = operation(
    "How many entries have an event id that starts with this prefix",
    {
        200: Answer(
            '"logs counted"',
            data=object_schema(
                {PREFIX: {"type": "string"}, "count": {"type": "integer"}}, additionalProperties=False
            ),
        ),
        400: _PREFIX_REFUSED,
        503: _STORE_DOWN,
    },
    query=_PREFIX,
)
BY_EVENT_ID = operation(
    "The entries whose event id starts with this prefix, in event id order: their data and creation time"
    f" (at most {MAX_PREFIXED})",
    {
        200: Answer(
            '"logs"',
            data=object_schema(
                {
                    PREFIX: {"type": "string"},
                    "count": {"type": "integer", "description": "all of them, even past the list's end"},
                    "entries": {
                        "type": "array",
                        "maxItems": MAX_PREFIXED,
                        "items": object_schema(
                            {
                                "data": {"type": ["string", "null"]},
                                "created_at": {"type": ["string", "null"]},
                            },
                            additionalProperties=False,
                        ),
                    },
                },
                additionalProperties=False,
            ),
        ),
        400: _PREFIX_REFUSED,
        503: _STORE_DOWN,
    },
    query=_PREFIX,
)
GET = operation(
    "One stored entry by its id",
    {
        200: Answer('"log entry"', data=ref("LogEntry")),
        404: Answer('"log entry not found"'),
        503: _STORE_DOWN,
    },
)


def blueprint(store: LogStore) -> Blueprint:
    bp = Blueprint("logs", __name__)

    @bp.post("/log")
    @WRITE
    def write_log() -> Response:
        body = read_json_object()
        transport = _transport(body)
        with refusals(transport):
            inserted = write(store, LogEvent.parse(body), transport)
        return reply("logged", {"id": inserted.id, "event_id": inserted.event_id}, 202)

    @bp.post("/log/batch")
    @WRITE_BATCH
    def write_batch() -> Response:
        body = read_json_object()
        transport = _transport(body)
        with refusals(transport):
            stored = write_many(store, parse_batch(body), transport)
        created = sum(1 for _event_id, new in stored if new)
        return reply("logged", {"stored": created, "duplicates": len(stored) - created}, 202)

    @bp.get("/logs")
    @LIST
    def list_logs() -> Response:
        return reply("logs", [as_json(document) for document in store.newest(_limit(), _level())])

    @bp.get("/logs/count")
    @COUNT
    def count_logs() -> Response:
        prefix = require_str(request.args, PREFIX)
        return reply("logs counted", {PREFIX: prefix, "count": store.count_prefixed(prefix)})

    @bp.get("/logs/by-event-id")
    @BY_EVENT_ID
    def logs_by_event_id() -> Response:
        prefix = require_str(request.args, PREFIX)
        entries = [as_timing(document) for document in store.prefixed(prefix, MAX_PREFIXED)]
        return reply("logs", {PREFIX: prefix, "count": store.count_prefixed(prefix), "entries": entries})

    @bp.get("/logs/<entry_id>")
    @GET
    def get_log(entry_id: str) -> Response:
        document = store.get(entry_id)
        if document is None:
            raise ApiError(404, "log entry not found")
        return reply("log entry", as_json(document))

    return bp

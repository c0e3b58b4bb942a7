"""The logger's HTTP API: POST /log, POST /log/batch, GET /logs, GET /logs/count, GET /logs/by-name,
GET /logs/<id>."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from labkit.events import LogEvent, check_level, parse_batch
from labkit.validation import ApiError, optional_str, require_str
from labkit.web import read_json_object, reply
from logger.entries import as_json, as_timing, write, write_many
from logger.metrics import refusals
from logger.store import LogStore

# The listener posts what it consumed from RabbitMQ with "rabbitmq", so the entry says how it travelled.
HTTP_TRANSPORTS = ("http", "rabbitmq")
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
# GET /logs/by-name lists at most this many entries; its count is always the full one.
MAX_NAMED = 50_000


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_LIMIT):
        raise ApiError(400, f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def _level() -> str | None:
    raw = request.args.get("level")
    return None if raw is None else check_level(raw)


def _transport(body: dict[str, Any]) -> str:
    transport = optional_str(body, "transport") or "http"
    if transport not in HTTP_TRANSPORTS:
        raise ApiError(400, f"transport must be one of {', '.join(HTTP_TRANSPORTS)}")
    return transport


def blueprint(store: LogStore) -> Blueprint:
    bp = Blueprint("logs", __name__)

    @bp.post("/log")
    def write_log() -> Response:
        body = read_json_object()
        transport = _transport(body)
        with refusals(transport):
            inserted = write(store, LogEvent.parse(body), transport)
        return reply("logged", {"id": inserted.id, "event_id": inserted.event_id}, 202)

    @bp.post("/log/batch")
    def write_batch() -> Response:
        body = read_json_object()
        transport = _transport(body)
        with refusals(transport):
            stored = write_many(store, parse_batch(body), transport)
        created = sum(1 for _event_id, new in stored if new)
        return reply("logged", {"stored": created, "duplicates": len(stored) - created}, 202)

    @bp.get("/logs")
    def list_logs() -> Response:
        return reply("logs", [as_json(document) for document in store.newest(_limit(), _level())])

    @bp.get("/logs/count")
    def count_logs() -> Response:
        name = require_str(request.args, "name")
        return reply("logs counted", {"name": name, "count": store.count_named(name)})

    @bp.get("/logs/by-name")
    def logs_by_name() -> Response:
        name = require_str(request.args, "name")
        entries = [as_timing(document) for document in store.named(name, MAX_NAMED)]
        return reply("logs", {"name": name, "count": store.count_named(name), "entries": entries})

    @bp.get("/logs/<entry_id>")
    def get_log(entry_id: str) -> Response:
        document = store.get(entry_id)
        if document is None:
            raise ApiError(404, "log entry not found")
        return reply("log entry", as_json(document))

    return bp

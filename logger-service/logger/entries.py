"""What every front door (HTTP, xmlrpc, gRPC) does with a log entry: check it, store it, show it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from labkit.logs import accept_request_id, request_id_var
from labkit.validation import ApiError, optional_str, require_str
from logger.store import Document, Inserted, LogStore, NewEntry

MAX_EVENT_ID_LENGTH = 128
MAX_BATCH = 1000

log = logging.getLogger(__name__)


def write(store: LogStore, fields: Mapping[str, Any], transport: str) -> Inserted:
    """Validate name, data and event_id (ApiError 400 when wrong) and store the entry once.

    The correlation id stored with it is the current one (labkit's request_id_var).
    """
    entry = _checked(fields)
    inserted = store.insert(
        entry.name, entry.data, transport, event_id=entry.event_id, request_id=entry.request_id
    )
    _log_stored(transport, inserted.event_id, inserted.created, entry_id=inserted.id)
    return inserted


def write_many(store: LogStore, body: Mapping[str, Any], transport: str) -> list[tuple[str, bool]]:
    """Validate every entry of body["entries"] (a 400 names the first wrong one, and nothing is stored),
    then store them in one write, each once per event id: each entry's event id and whether it is new.

    An entry may carry its own correlation id ("request_id"); otherwise the current one is stored.
    """
    raw = body.get("entries")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "entries must be a non-empty list")
    if len(raw) > MAX_BATCH:
        raise ApiError(400, f"entries must hold at most {MAX_BATCH} entries")
    batch = [_checked(item, f"entries[{i}]") for i, item in enumerate(raw)]
    stored = store.insert_many(batch, transport)
    for entry, (event_id, created) in zip(batch, stored, strict=True):
        _log_stored(transport, event_id, created, request_id=entry.request_id)
    return stored


def _checked(fields: object, where: str = "") -> NewEntry:
    if not isinstance(fields, Mapping):
        raise ApiError(400, f"{where} must be a JSON object")
    name = require_str(fields, "name", where=where)
    data = require_str(fields, "data", where=where)
    event_id = optional_str(fields, "event_id", where=where)
    if event_id is not None and len(event_id) > MAX_EVENT_ID_LENGTH:
        field = f"{where}.event_id" if where else "event_id"
        raise ApiError(400, f"{field} must be at most {MAX_EVENT_ID_LENGTH} characters")
    request_id = optional_str(fields, "request_id", where=where) if where else None
    return NewEntry(
        name, data, event_id, accept_request_id(request_id) if request_id else request_id_var.get()
    )


def _log_stored(transport: str, event_id: str, created: bool, **extra: Any) -> None:
    log.info(
        "log entry stored" if created else "event already stored, nothing changed",
        extra={"transport": transport, "event_id": event_id, **extra},
    )


def _timestamp(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def as_json(document: Document) -> dict[str, Any]:
    """A stored entry as the HTTP API shows it, timestamps in ISO-8601 UTC."""
    return {
        "id": str(document["_id"]),
        "name": document.get("name"),
        "data": document.get("data"),
        "transport": document.get("transport"),
        "event_id": document.get("event_id"),
        "request_id": document.get("request_id"),
        "created_at": _timestamp(document.get("created_at")),
        "updated_at": _timestamp(document.get("updated_at")),
    }


def as_timing(document: Document) -> dict[str, Any]:
    """A stored entry as GET /logs/by-name shows it: its data and when it was stored."""
    return {"data": document.get("data"), "created_at": _timestamp(document.get("created_at"))}

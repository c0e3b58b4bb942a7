"""What every front door (HTTP, xmlrpc, gRPC) does with checked log events: store them and say so, and
how the HTTP API shows a stored one."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from labkit.events import LogEvent
from labkit.frontdoor import note
from logger import metrics
from logger.store import Document, Inserted, LogStore

log = logging.getLogger(__name__)


def write(store: LogStore, event: LogEvent, transport: str) -> Inserted:
    """Store the event once per event id."""
    started = time.perf_counter()
    inserted = store.insert(event, transport)
    metrics.write(transport, 1, time.perf_counter() - started)
    metrics.stored(transport, int(inserted.created), int(not inserted.created))
    # On the line of the call that stored it: one line per request, not two.
    if not note(transport=transport, event_id=event.event_id, entry_id=inserted.id, new=inserted.created):
        _log_stored(transport, event, inserted.created, entry_id=inserted.id)
    return inserted


def write_many(store: LogStore, events: Sequence[LogEvent], transport: str) -> list[tuple[str, bool]]:
    """Store the events in one write, each once per event id: each one's event id and whether it is new."""
    started = time.perf_counter()
    stored = store.insert_many(events, transport)
    metrics.write(transport, len(events), time.perf_counter() - started)
    new = sum(1 for _event_id, created in stored if created)
    metrics.stored(transport, new, len(stored) - new)
    for event, (_event_id, created) in zip(events, stored, strict=True):
        _log_stored(transport, event, created)
    return stored


def _log_stored(transport: str, event: LogEvent, created: bool, **extra: Any) -> None:
    log.info(
        "log entry stored" if created else "event already stored, nothing changed",
        extra={"transport": transport, "event_id": event.event_id, "request_id": event.request_id, **extra},
    )


def _timestamp(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat(timespec="milliseconds") if value else None


def as_json(document: Document) -> dict[str, Any]:
    """A stored entry as the HTTP API shows it, timestamps in ISO-8601 UTC."""
    return {
        "id": str(document["_id"]),
        "name": document.get("name"),
        "data": document.get("data"),
        "level": document.get("level"),
        "transport": document.get("transport"),
        "event_id": document.get("event_id"),
        "request_id": document.get("request_id"),
        "created_at": _timestamp(document.get("created_at")),
        "updated_at": _timestamp(document.get("updated_at")),
    }


def as_timing(document: Document) -> dict[str, Any]:
    """A stored entry as GET /logs/by-event-id shows it: its data and when it was stored."""
    return {"data": document.get("data"), "created_at": _timestamp(document.get("created_at"))}

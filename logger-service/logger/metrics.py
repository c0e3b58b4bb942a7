"""The logger's own metrics: entries stored and duplicates ignored by transport, refusals by reason, and
its store's writes (latency, events per write). Requests by route come from labkit's front door."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

from labkit.metrics import BATCH_BUCKETS, LATENCY_BUCKETS
from labkit.validation import ApiError

STORED = Counter("logger_entries_stored", "Log entries stored (new event ids), by transport", ["transport"])
DUPLICATES = Counter(
    "logger_duplicates", "Deliveries of an event id already stored, ignored, by transport", ["transport"]
)
REFUSED = Counter(
    "logger_refusals",
    "Log events refused, by transport and reason (invalid, too_large, store_unavailable, error)",
    ["transport", "reason"],
)
WRITE_SECONDS = Histogram(
    "logger_store_write_seconds",
    "Time one write to the store took, by transport",
    ["transport"],
    buckets=LATENCY_BUCKETS,
)
WRITE_EVENTS = Histogram(
    "logger_store_write_events",
    "Events one write to the store carried, by transport",
    ["transport"],
    buckets=BATCH_BUCKETS,
)

_REASONS = {400: "invalid", 413: "too_large", 503: "store_unavailable"}

# Every transport an entry can be stored with starts at 0, so Prometheus sees the first event as a rise.
for _transport in ("rabbitmq", "rpc", "grpc", "http"):
    STORED.labels(_transport)
    DUPLICATES.labels(_transport)


@contextmanager
def refusals(transport: str) -> Iterator[None]:
    """Count an event this front door refused, by the reason its status gives."""
    try:
        yield
    except ApiError as exc:
        REFUSED.labels(transport, _REASONS.get(exc.status, "error")).inc()
        raise


def stored(transport: str, new: int, duplicates: int) -> None:
    STORED.labels(transport).inc(new)
    DUPLICATES.labels(transport).inc(duplicates)


def write(transport: str, events: int, seconds: float) -> None:
    WRITE_SECONDS.labels(transport).observe(seconds)
    WRITE_EVENTS.labels(transport).observe(events)

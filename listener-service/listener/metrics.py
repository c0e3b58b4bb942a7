"""The listener's metrics: messages received, acked, requeued (delivered again by RabbitMQ) and
dead-lettered; events per batch request; retries and reconnects; and each event's time from its publish
(the PUBLISHED_AT header the publisher puts on every message) until the logger had it stored.

The listener is one process, so its own registry is the service's: GET /metrics on its health port."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram

from labkit.metrics import BATCH_BUCKETS, LATENCY_BUCKETS

MESSAGES = Counter(
    "listener_messages",
    "Messages from the queue, by outcome: received, acked, requeued (delivered again), dead_lettered",
    ["outcome"],
)
BATCH_EVENTS = Histogram("listener_batch_events", "Events one POST /log/batch carried", buckets=BATCH_BUCKETS)
PUBLISH_TO_STORED = Histogram(
    "listener_publish_to_stored_seconds",
    "Time from an event's publish to RabbitMQ until the logger had it stored",
    buckets=LATENCY_BUCKETS,
)
RETRIES = Counter("listener_store_retries", "Requests to the logger retried because it could not store them")
RECONNECTS = Counter("listener_reconnects", "Connections to RabbitMQ tried again after a failure")

for _outcome in ("received", "acked", "requeued", "dead_lettered"):
    MESSAGES.labels(_outcome)


def received(redelivered: bool) -> None:
    MESSAGES.labels("received").inc()
    if redelivered:
        MESSAGES.labels("requeued").inc()


def dead_lettered() -> None:
    MESSAGES.labels("dead_lettered").inc()


def acked(published_at: list[float | None]) -> None:
    """Events stored and acked, with when each was published (None for a message without the header)."""
    MESSAGES.labels("acked").inc(len(published_at))
    now = time.time()
    for published in published_at:
        if published is not None:
            PUBLISH_TO_STORED.observe(max(now - published, 0.0))

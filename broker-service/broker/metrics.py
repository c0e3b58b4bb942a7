"""The broker's own metrics: every log event it handles, by transport, path and outcome, and how long each
transport took to accept one. Requests by route come from labkit's front door."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

from broker.config import TRANSPORTS
from labkit.events import LogEvent
from labkit.metrics import LATENCY_BUCKETS, outcome
from labkit.validation import ApiError

if TYPE_CHECKING:
    from broker.transports import Sender

# "broker": sent by POST /handle; "direct": sent straight to the logger by the benchmark (broker.bench).
PATHS = ("broker", "direct")

LOG_EVENTS = Counter(
    "broker_log_events",
    "Log events handed to a transport, by transport, path (broker, or direct from the benchmark), outcome "
    "(accepted, refused, failed) and status",
    ["transport", "path", "outcome", "status"],
)
SEND_SECONDS = Histogram(
    "broker_log_send_seconds",
    "Time until a transport accepted an event (RabbitMQ's confirm, or the logger's answer), by transport "
    "and path; accepted events only",
    ["transport", "path"],
    buckets=LATENCY_BUCKETS,
)


# Each transport and path starts at 0, so Prometheus sees the first event as a rise.
for _transport in TRANSPORTS:
    for _path in PATHS:
        LOG_EVENTS.labels(_transport, _path, "accepted", "202")
        SEND_SECONDS.labels(_transport, _path)


def _count(transport: str, path: str, status: int) -> None:
    kind = {"ok": "accepted"}.get(outcome(status), outcome(status))
    LOG_EVENTS.labels(transport, path, kind, str(status)).inc()


@contextmanager
def refusals(transport: str, path: str = "broker") -> Iterator[None]:
    """Count an event refused before it reached its transport (an invalid event: 400, 413)."""
    try:
        yield
    except ApiError as exc:
        _count(transport, path, exc.status)
        raise


class Measured:
    """A transport's sender, each send counted by its outcome and, once accepted, timed."""

    def __init__(self, sender: Sender, transport: str, path: str) -> None:
        self.sender = sender
        self.transport = transport
        self.path = path

    def send(self, event: LogEvent) -> None:
        started = time.perf_counter()
        try:
            self.sender.send(event)
        except ApiError as exc:
            _count(self.transport, self.path, exc.status)
            raise
        except Exception:
            _count(self.transport, self.path, 500)
            raise
        SEND_SECONDS.labels(self.transport, self.path).observe(time.perf_counter() - started)
        _count(self.transport, self.path, 202)

    def close(self) -> None:
        self.sender.close()

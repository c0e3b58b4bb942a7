"""Prometheus metrics for every lab process, with prometheus_client (the client Prometheus itself
maintains for Python, with the multiprocess mode gunicorn needs).

Under gunicorn every worker is a process of its own. labkit.serve points PROMETHEUS_MULTIPROC_DIR at a
directory of the service's own, emptied at start: each worker (and any child it starts, such as the
broker's benchmark) writes its samples to files there, and GET /metrics adds them up, so a number is the
service's, not one worker's. A process without that variable (the listener, a test's Flask app) serves
its own registry.

Labels are bounded: a route is the URL rule, never the raw path; a transport, outcome or reason comes
from a fixed list; never an event id, an email or a request id.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds, from a millisecond call to a message that waited in a queue for minutes.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)
# How many events one write or one batch carried.
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)

REQUESTS = Counter(
    "lab_requests",
    "Calls through a front door (HTTP route, xmlrpc or gRPC method), by route, status and outcome",
    ["route", "status", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "lab_request_seconds",
    "Time from a call's arrival at a front door until its answer, by route",
    ["route"],
    buckets=LATENCY_BUCKETS,
)


def outcome(status: int) -> str:
    """ok below 400, refused for the caller's errors (4xx), failed for the rest (5xx)."""
    if status < 400:
        return "ok"
    return "refused" if status < 500 else "failed"


def observe_call(route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, str(status), outcome(status)).inc()
    REQUEST_SECONDS.labels(route).observe(seconds)


def exposition(collectors: Iterable[Collector] = ()) -> bytes:
    """This service's metrics in Prometheus's text format: every process's samples in multiprocess
    mode, else this process's; plus collectors that measure at scrape time."""
    if os.environ.get(MULTIPROC_DIR):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


class _Default(Collector):
    """The process's default registry, seen through a registry of one scrape's own."""

    def collect(self) -> Iterable:
        return REGISTRY.collect()


ScrapeCollectors = Callable[[], Iterable[Collector]]

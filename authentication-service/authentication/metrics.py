"""The authentication service's own metrics: the login outbox's relays (events published) and its lag,
read from PostgreSQL when Prometheus scrapes. Requests by route and outcome come from labkit's front door."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import psycopg
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from labkit.validation import ApiError

if TYPE_CHECKING:
    from authentication.outbox import OutboxRelay

PUBLISHED = Counter("authentication_outbox_published", "Login events the outbox relays published, confirmed")


class OutboxLag(Collector):
    """The outbox's unsent rows and the oldest one's age, measured at each scrape (one small query); nothing
    while PostgreSQL cannot be reached."""

    def __init__(self, relay: OutboxRelay) -> None:
        self.relay = relay

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            lag = self.relay.lag()
        except (ApiError, psycopg.Error):
            return
        yield GaugeMetricFamily(
            "authentication_outbox_unsent_events", "Login events not yet published", value=lag["unsent"]
        )
        yield GaugeMetricFamily(
            "authentication_outbox_lag_seconds",
            "Age of the oldest unpublished login event (0 when none waits)",
            value=lag["lag_seconds"],
        )

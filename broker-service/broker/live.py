"""GET /metrics/live: the test page's "Transports, live" panel, read from Prometheus's query API.

The broker relays a fixed set of PromQL queries, built here from its own settings, never from the
request: no caller can send Prometheus a query of its own. The numbers are Prometheus's, scraped from
every service and from RabbitMQ's own rabbitmq_prometheus plugin, when that is on.
"""

from __future__ import annotations

import json
import math
import threading
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from flask import Blueprint, Response

from broker.config import TRANSPORTS, Config
from labkit.amqp import DEAD_LETTER_QUEUE, QUEUE
from labkit.openapi import Answer, operation
from labkit.validation import ApiError
from labkit.web import reply

# The curves cover the last WINDOW_S seconds, a point every STEP_S; a rate looks back RATE (a few of
# Prometheus's 2 s scrapes); latency percentiles cover the last minute.
WINDOW_S = 120
STEP_S = 2
RATE = "10s"
TIMEOUT = (1.0, 3.0)
UNAVAILABLE = "metrics unavailable: Prometheus cannot be reached"


def _quote(value: str) -> str:
    """A PromQL string literal (JSON's escapes are PromQL's)."""
    return json.dumps(value)


def vhost_of(amqp_url: str) -> str:
    path = urlsplit(amqp_url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def _quantile(q: float, histogram: str, *, selector: str = "", by: str = "") -> str:
    buckets = f"{histogram}_bucket{{{selector}}}" if selector else f"{histogram}_bucket"
    labels = ", ".join(label for label in (by, "le") if label)
    return f"histogram_quantile({q}, sum by ({labels}) (rate({buckets}[1m])))"


def queries(config: Config) -> tuple[dict[str, str], dict[str, str]]:
    """The fixed queries, by name: curves over the window, and latest values."""
    queues = f"vhost={_quote(vhost_of(config.amqp_url))}, queue=~{_quote(f'{QUEUE}|{DEAD_LETTER_QUEUE}')}"
    events = "broker_log_events_total"
    curves = {
        "accepted": f'sum by (transport, path) (rate({events}{{outcome="accepted"}}[{RATE}]))',
        "failed": f'sum by (transport, path) (rate({events}{{outcome!="accepted"}}[{RATE}]))',
        "stored": f"sum by (transport) (rate(logger_entries_stored_total[{RATE}]))",
        "queue": f"sum by (queue) (rabbitmq_queue_messages{{{queues}}})",
    }
    latest = {
        "rabbitmq_up": 'max(up{job="rabbitmq"})',
        "dead_lettered": 'sum(listener_messages_total{outcome="dead_lettered"})',
    }
    for q in (50, 95):
        accept = _quantile(q / 100, "broker_log_send_seconds", selector='path="broker"', by="transport")
        latest[f"accept_p{q}"] = accept
        latest[f"deliver_p{q}"] = _quantile(q / 100, "listener_publish_to_stored_seconds")
    return curves, latest


def _number(raw: str) -> float | None:
    value = float(raw)
    return None if math.isnan(value) or math.isinf(value) else value


class Prometheus:
    """Prometheus's HTTP query API: 503 when it cannot be reached or refuses a query."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            session.trust_env = False
        return session

    def _get(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            response = self._session().get(self.base_url + path, params=params, timeout=TIMEOUT)
            body = response.json()
        except (requests.RequestException, ValueError):
            raise ApiError(503, UNAVAILABLE) from None
        if response.status_code != 200 or body.get("status") != "success":
            raise ApiError(503, UNAVAILABLE)
        return body["data"]["result"]

    def latest(self, query: str, at: float) -> list[dict[str, Any]]:
        return self._get("/api/v1/query", {"query": query, "time": at})

    def curve(self, query: str, end: float) -> list[dict[str, Any]]:
        params = {"query": query, "start": end - WINDOW_S, "end": end, "step": STEP_S}
        return self._get("/api/v1/query_range", params)


def _series(result: list[dict[str, Any]], labels: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            **{label: item["metric"].get(label, "") for label in labels},
            "points": [[float(t), _number(v)] for t, v in item["values"]],
        }
        for item in result
    ]


def _by(result: list[dict[str, Any]], label: str) -> dict[str, float | None]:
    return {item["metric"].get(label, ""): _number(item["value"][1]) for item in result}


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def snapshot(prometheus: Prometheus, config: Config) -> dict[str, Any]:
    """What the panel draws, from the fixed queries at one instant."""
    now = time.time()
    curves, latest = queries(config)
    series = {
        "accepted": _series(prometheus.curve(curves["accepted"], now), ("transport", "path")),
        "failed": _series(prometheus.curve(curves["failed"], now), ("transport", "path")),
        "stored": _series(prometheus.curve(curves["stored"], now), ("transport",)),
        "queue": _series(prometheus.curve(curves["queue"], now), ("queue",)),
    }
    values = {name: prometheus.latest(query, now) for name, query in latest.items()}
    # Accept: until the broker had the transport's yes. Deliver (RabbitMQ only, the one queue): from the
    # publish until the listener had the event stored.
    accept = {name: _by(values[name], "transport") for name in ("accept_p50", "accept_p95")}
    latency: dict[str, dict[str, float | None]] = {
        transport: {name: _ms(by_transport.get(transport)) for name, by_transport in accept.items()}
        for transport in TRANSPORTS
    }
    for name in ("deliver_p50", "deliver_p95"):
        latency["rabbitmq"][name] = _ms(_by(values[name], "").get(""))
    up = values["rabbitmq_up"]
    dead = values["dead_lettered"]
    return {
        "at": now,
        "window_s": WINDOW_S,
        "step_s": STEP_S,
        "transports": list(TRANSPORTS),
        "series": series,
        "latency_ms": latency,
        "rabbitmq_metrics": bool(up) and _number(up[0]["value"][1]) == 1,
        "dead_lettered_total": _number(dead[0]["value"][1]) if dead else 0,
    }


def blueprint(config: Config) -> Blueprint:
    routes = Blueprint("live", __name__)
    prometheus = Prometheus(config.prometheus_url)

    @routes.get("/metrics/live")
    @operation(
        "The live panel's numbers, read from Prometheus",
        {200: Answer('"live metrics"', data={"type": "object"}), 503: Answer(f'"{UNAVAILABLE}"')},
        tags=("metrics",),
    )
    def live() -> Response:
        return reply("live metrics", snapshot(prometheus, config))

    return routes

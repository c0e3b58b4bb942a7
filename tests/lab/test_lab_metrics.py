"""Prometheus metrics against real traffic: after N events over each transport, the broker's and the
logger's counters for it rose by exactly N and the listener's publish-to-stored histogram has N more
observations; a real Prometheus scraping the lab returns a rate per transport, and the broker's live
route relays it."""

from __future__ import annotations

import uuid

import requests
from prometheus_client.parser import text_string_to_metric_families

from labtest import Lab, eventually

TRANSPORTS = ("rabbitmq", "rpc", "grpc", "http")
N = 7
STORED = "logger_entries_stored_total"

Samples = dict[tuple[str, frozenset], float]


def scrape(url: str) -> Samples:
    text = requests.get(f"{url}/metrics", timeout=5).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def settled(lab: Lab) -> dict[str, Samples]:
    """Every service's samples once the listener has nothing left in hand (two scrapes alike)."""

    def both() -> tuple[dict[str, Samples], dict[str, Samples]]:
        first = {name: scrape(lab.url(name)) for name in ("broker", "logger", "listener")}
        return first, {name: scrape(lab.url(name)) for name in ("broker", "logger", "listener")}

    def counted(samples: dict[str, Samples]) -> dict[str, float]:
        return {
            "stored": sum(
                v for (name, _), v in samples["logger"].items() if name == "logger_entries_stored_total"
            ),
            "acked": value(samples["listener"], "listener_messages_total", outcome="acked"),
        }

    return eventually(both, lambda pair: counted(pair[0]) == counted(pair[1]))[1]


def burst(lab: Lab, name: str) -> None:
    for transport in TRANSPORTS:
        for i in range(N):
            body = {
                "action": "log",
                "log": {"name": name, "data": f"{transport} {i}", "event_id": f"{name}-{transport}-{i}"},
                "transport": transport,
            }
            answer = requests.post(f"{lab.broker}/handle", json=body, timeout=10)
            assert answer.status_code == 202, answer.text


def stored_count(lab: Lab, name: str) -> int:
    """The events of a burst the logger holds, by their event ids' prefix."""
    answer = requests.get(
        f"{lab.url('logger')}/logs/count", params={"event_id_prefix": f"{name}-"}, timeout=5
    )
    return answer.json()["data"]["count"]


def test_after_n_events_per_transport_each_counter_rose_by_exactly_n(lab: Lab) -> None:
    name = f"metrics-{uuid.uuid4().hex[:8]}"
    before = settled(lab)
    burst(lab, name)
    eventually(lambda: stored_count(lab, name), lambda count: count == N * len(TRANSPORTS))
    after = settled(lab)

    def rise(service: str, metric: str, **labels: str) -> float:
        return value(after[service], metric, **labels) - value(before[service], metric, **labels)

    for transport in TRANSPORTS:
        accepted = {"transport": transport, "path": "broker", "outcome": "accepted", "status": "202"}
        assert rise("broker", "broker_log_events_total", **accepted) == N, transport
        sent = {"transport": transport, "path": "broker"}
        assert rise("broker", "broker_log_send_seconds_count", **sent) == N, transport
        assert rise("logger", STORED, transport=transport) == N, transport
        assert rise("logger", "logger_duplicates_total", transport=transport) == 0, transport
    assert rise("listener", "listener_publish_to_stored_seconds_count") == N
    assert rise("listener", "listener_messages_total", outcome="acked") == N
    assert rise("broker", "lab_requests_total", route="POST /handle", status="202", outcome="ok") == N * 4


def test_an_invalid_event_is_counted_as_refused_for_its_transport(lab: Lab) -> None:
    labels = {"transport": "grpc", "path": "broker", "outcome": "refused", "status": "400"}
    before = value(scrape(lab.broker), "broker_log_events_total", **labels)
    body = {"action": "log", "log": {"name": "n"}, "transport": "grpc"}
    assert requests.post(f"{lab.broker}/handle", json=body, timeout=10).status_code == 400
    assert value(scrape(lab.broker), "broker_log_events_total", **labels) == before + 1


def query(prometheus: str, promql: str) -> dict[str, float]:
    answer = requests.get(f"{prometheus}/api/v1/query", params={"query": promql}, timeout=5).json()
    return {item["metric"].get("transport", ""): float(item["value"][1]) for item in answer["data"]["result"]}


def test_prometheus_scrapes_every_service_and_returns_a_rate_per_transport(lab: Lab, prometheus: str) -> None:
    up = 'up{job=~"broker|authentication|logger|mail|listener|frontend"}'
    eventually(lambda: query(prometheus, f"count({up} == 1)"), lambda result: result.get("") == 6, timeout=30)
    burst(lab, f"prom-{uuid.uuid4().hex[:8]}")
    rates = eventually(
        lambda: query(prometheus, "sum by (transport) (rate(logger_entries_stored_total[1m]))"),
        lambda result: all(result.get(t, 0) > 0 for t in TRANSPORTS),
        timeout=30,
    )
    assert set(TRANSPORTS) <= set(rates)

    live = requests.get(f"{lab.broker}/metrics/live", timeout=10).json()
    assert live["error"] is False
    accepted = {(s["transport"], s["path"]) for s in live["data"]["series"]["accepted"]}
    assert {(t, "broker") for t in TRANSPORTS} <= accepted
    assert all(live["data"]["latency_ms"][t]["accept_p50"] is not None for t in TRANSPORTS)

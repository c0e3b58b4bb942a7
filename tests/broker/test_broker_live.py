"""GET /metrics/live: a fixed set of queries, never the caller's, and a plain 503 while Prometheus is down;
GET /metrics: the broker's own counters in Prometheus's text format."""

from __future__ import annotations

from broker import create_app, live
from broker.config import Config
from labtest import free_port


def test_without_prometheus_the_live_route_says_metrics_are_unavailable() -> None:
    config = Config(prometheus_url=f"http://127.0.0.1:{free_port()}")
    client = create_app(config).test_client()
    answer = client.get("/metrics/live?query=up")
    assert answer.status_code == 503
    assert answer.get_json() == {
        "error": True,
        "message": "metrics unavailable: Prometheus cannot be reached",
    }


def test_the_queries_are_fixed_and_name_the_lab_s_own_vhost() -> None:
    curves, latest = live.queries(Config(amqp_url="amqp://guest:guest@127.0.0.1:5672/lab%2Frun"))
    assert 'vhost="lab/run"' in curves["queue"]
    assert set(curves) == {"accepted", "failed", "stored", "queue"}
    assert all("histogram_quantile" in latest[name] for name in ("accept_p50", "accept_p95", "deliver_p95"))


def test_metrics_are_prometheus_text_with_the_route_as_its_rule() -> None:
    client = create_app(Config()).test_client()
    client.get("/logs/nothing-here")
    text = client.get("/metrics").get_data(as_text=True)
    assert "# TYPE lab_requests_total counter" in text
    assert 'route="unmatched"' in text
    assert "/logs/nothing-here" not in text

"""POST /bench on the broker with the Flask test client: its checks, one run at a time, and its error line.

Every service the broker would call is a closed port here, so no load is ever sent.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from broker import create_app
from broker.bench import Load, measure, measure_replies, parse_settings, percentiles
from broker.config import Config
from labkit.validation import ApiError
from labtest import free_port

NDJSON = "application/x-ndjson"


@pytest.fixture
def app() -> Iterator[Flask]:
    closed = free_port()
    config = Config(
        port=free_port(),
        auth_url=f"http://127.0.0.1:{closed}",
        mail_url=f"http://127.0.0.1:{closed}",
        logger_url=f"http://127.0.0.1:{closed}",
        logger_rpc_addr=f"127.0.0.1:{closed}",
        logger_grpc_addr=f"127.0.0.1:{closed}",
        amqp_url=f"amqp://guest:guest@127.0.0.1:{closed}/",
        cors_origins=("http://127.0.0.1:8081",),
    )
    yield create_app(config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"concurrency": 4}, "n is required"),
        ({"n": 10}, "concurrency is required"),
        ({"n": 0, "concurrency": 4}, "n must be an integer from 1 to 10000"),
        ({"n": 10_001, "concurrency": 4}, "n must be an integer from 1 to 10000"),
        ({"n": "10", "concurrency": 4}, "n must be an integer from 1 to 10000"),
        ({"n": 2.5, "concurrency": 4}, "n must be an integer from 1 to 10000"),
        ({"n": True, "concurrency": 4}, "n must be an integer from 1 to 10000"),
        ({"n": 10, "concurrency": 0}, "concurrency must be an integer from 1 to 64"),
        ({"n": 10, "concurrency": 65}, "concurrency must be an integer from 1 to 64"),
        ({"n": 10, "concurrency": 4, "auth_n": 0}, "auth_n must be an integer from 1 to 10000"),
        ({"n": 10, "concurrency": 4, "auth_n": "5"}, "auth_n must be an integer from 1 to 10000"),
        ([10, 4], "request body must be a JSON object"),
    ],
)
def test_bad_settings_are_a_400(client: FlaskClient, body: object, message: str) -> None:
    response = client.post("/bench", json=body)

    assert response.status_code == 400
    assert response.get_json() == {"error": True, "message": message}


def test_one_benchmark_at_a_time(app: Flask) -> None:
    """A run whose broker never answers (a socket that takes connections and stays silent) is still
    running when the second asks; once the first answer is closed, a third may start."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        config = replace(app.extensions["broker.bench"].config, port=silent.getsockname()[1])
        client = create_app(config).test_client()
        first = client.post("/bench", json={"n": 1, "concurrency": 1})
        assert first.status_code == 200
        assert first.mimetype == NDJSON

        second = client.post("/bench", json={"n": 1, "concurrency": 1})
        assert second.status_code == 409
        assert second.get_json() == {"error": True, "message": "a benchmark is already running"}

        first.close()
        third = client.post("/bench", json={"n": 1, "concurrency": 1})
        assert third.status_code == 200
        third.close()
        assert not os.path.exists(client.application.extensions["broker.bench"].lock_path), "lock file left"


def test_the_page_may_start_a_run_cross_origin(client: FlaskClient) -> None:
    preflight = client.options(
        "/bench",
        headers={
            "Origin": "http://127.0.0.1:8081",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:8081"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


def test_a_run_that_cannot_read_the_store_ends_with_an_error_line(client: FlaskClient) -> None:
    with client.post("/bench", json={"n": 2, "concurrency": 1}) as response:
        lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]

    assert response.headers["Cache-Control"] == "no-store"
    assert lines[-1] == {
        "type": "error",
        "error": True,
        "message": "benchmark failed: logger service is unavailable",
    }
    progress = lines[:-1]
    assert all(line["type"] == "progress" for line in progress)
    assert all((line["path"], line["transport"]) == ("broker", "rabbitmq") for line in progress)
    assert all(line["accepted"] == 0 for line in progress)


@pytest.mark.parametrize(
    ("body", "auth_n"),
    [({"n": 50}, 50), ({"n": 5000}, 200), ({"n": 50, "auth_n": 7}, 7), ({"n": 10, "auth_n": 300}, 300)],
)
def test_logins_default_to_n_up_to_200(body: dict[str, int], auth_n: int) -> None:
    assert parse_settings({**body, "concurrency": 1}).auth_n == auth_n


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentiles([float(v) for v in range(1, 101)]) == {"p50": 50.5, "p95": 95.05, "p99": 99.01}
    assert percentiles([7.0]) == {"p50": 7.0, "p95": 7.0, "p99": 7.0}
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None}


def test_measure_counts_stored_lost_and_duplicated_events_by_their_data() -> None:
    load = Load(4, 1, lambda _seq: None, threading.Event(), warm_up=lambda _seq: None, warm_up_per_client=0)
    load.started_at, load.replied_at = 1000.0, 1002.0
    load.sent = 4
    load.accepted = 3
    load.sent_at = [1000.0, 1000.5, 1001.0, 1001.5]
    load.accept_ms = [10.0, 20.0, 30.0, None]
    load.errors.update({"503": 1})
    stored = [
        {"data": "0", "created_at": "1970-01-01T00:16:40.004+00:00"},
        {"data": "1", "created_at": "1970-01-01T00:16:40.510+00:00"},
        {"data": "1", "created_at": "1970-01-01T00:16:41.000+00:00"},
        {"data": "other", "created_at": "1970-01-01T00:16:41.000+00:00"},
    ]

    m = measure(load, stored)

    assert (m["sent"], m["accepted"], m["stored"], m["duplicates"]) == (4, 3, 2, 1)
    assert (m["failed"], m["lost"], m["errors"]) == (1, 1, {"503": 1})
    assert (m["send_s"], m["run_s"]) == (2.0, 2.0)
    assert (m["throughput_per_s"], m["accepted_per_s"]) == (1.0, 1.5)
    assert m["accept_ms"] == {"p50": 20.0, "p95": 29.0, "p99": 29.8}
    assert m["deliver_ms"] == {"p50": 7.0, "p95": 9.7, "p99": 9.94}


def test_each_client_warms_up_on_its_own_thread_and_the_measured_sending_starts_after_all() -> None:
    """The senders keep a connection per thread, so a client's warm-up events are the first its thread
    sends; the measured sending, its clock and on_start (where the lab's CPU is read) begin once every
    client has warmed up. A warm-up send that fails is not counted."""
    sent: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def recorder(kind: str) -> Callable[[int], None]:
        def send(seq: int) -> None:
            with lock:
                sent.append((kind, seq, threading.current_thread().name))
            if kind == "warm-up" and seq == 0:
                raise ApiError(503, "logger service is unavailable")

        return send

    sent_before_start: list[int] = []
    load = Load(
        12, 3, recorder("measured"), threading.Event(), warm_up=recorder("warm-up"), warm_up_per_client=2
    )
    load.start(lambda: sent_before_start.append(len(sent)))
    assert load.wait(10)

    assert sorted(seq for kind, seq, _ in sent if kind == "warm-up") == list(range(6))
    assert sorted(seq for kind, seq, _ in sent if kind == "measured") == list(range(12))
    assert sent_before_start == [6]
    assert [kind for kind, _, _ in sent] == ["warm-up"] * 6 + ["measured"] * 12
    for thread in {name for _, _, name in sent}:
        kinds = [kind for kind, _, name in sent if name == thread]
        assert kinds[:2] == ["warm-up", "warm-up"], thread
    assert (load.sent, load.accepted, dict(load.errors)) == (12, 12, {})


def test_a_path_measured_by_its_replies_counts_no_arrivals() -> None:
    load = Load(3, 1, lambda _seq: None, threading.Event(), warm_up=lambda _seq: None, warm_up_per_client=0)
    load.started_at, load.replied_at = 1000.0, 1002.0
    load.sent, load.accepted = 3, 2
    load.accept_ms = [250.0, None, 260.0]
    load.errors.update({"401": 1})

    m = measure_replies(load)

    assert (m["sent"], m["accepted"], m["failed"], m["errors"]) == (3, 2, 1, {"401": 1})
    assert (m["stored"], m["duplicates"], m["lost"]) == (None, None, None)
    assert (m["throughput_per_s"], m["accepted_per_s"]) == (1.0, 1.0)
    assert m["accept_ms"] == {"p50": 255.0, "p95": 259.5, "p99": 259.9}
    assert m["deliver_ms"] == {"p50": None, "p95": None, "p99": None}

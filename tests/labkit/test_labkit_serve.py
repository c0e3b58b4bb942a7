"""labkit.serve's worker keeps a kept-alive connection on its thread for the client's next request, but
only while every open connection can have a thread: with more connections than threads, a busy client
never holds a thread another one is waiting for, and a silent one lets its thread go. Shown with serve()
running a tiny WSGI app in a process of its own, one worker of two threads, whose threads would wait for
a next request for far longer than the clients here wait for an answer."""

from __future__ import annotations

import http.client
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from labrun.procs import Proc, ServerSpec, http_ready
from labtest import eventually, free_port

ROOT = Path(__file__).resolve().parents[2]
THREADS = 2
APP = f"""
import sys

from labkit import serve as labkit_serve
from labkit.serve import serve

labkit_serve.NEXT_REQUEST_WAIT_MS = 60_000


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


serve(lambda: app, service="probe", host="127.0.0.1", port=int(sys.argv[1]), workers=1, threads={THREADS})
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    script = tmp_path / "probe.py"
    script.write_text(APP)
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    spec = ServerSpec(
        name="probe",
        argv=[sys.executable, str(script), str(port)],
        ready=http_ready(f"http://127.0.0.1:{port}/"),
        env={"PYTHONPATH": str(ROOT / "project"), "PROMETHEUS_MULTIPROC_DIR": str(metrics)},
    )
    proc = Proc.start_spec(spec, tmp_path, timeout=30)
    try:
        yield port
    finally:
        assert proc.stop() == 0


def ask(connection: http.client.HTTPConnection) -> bytes:
    connection.request("GET", "/")
    response = connection.getresponse()
    assert response.status == 200
    return response.read()


def test_clients_that_never_pause_leave_a_thread_for_one_more_connection(server: int) -> None:
    """As many clients as threads send request after request on their kept-alive connections; one more
    client is still answered, at once, not when they stop."""
    stop = threading.Event()
    answered = [0] * THREADS

    def busy(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
        ask(connection)
        answered[index] += 1
        while not stop.is_set():
            ask(connection)
            answered[index] += 1
        connection.close()

    clients = [threading.Thread(target=busy, args=(index,)) for index in range(THREADS)]
    for client in clients:
        client.start()
    try:
        eventually(lambda: min(answered), lambda least: least >= 20, timeout=10)
        late = http.client.HTTPConnection("127.0.0.1", server, timeout=3)
        assert ask(late) == b"ok"
        assert ask(late) == b"ok"
        late.close()
    finally:
        stop.set()
        for client in clients:
            client.join()


def test_clients_that_pause_leave_a_thread_for_one_more_connection(server: int) -> None:
    """As many clients as threads are answered once and keep their connections open without a word; one
    more client is answered at once, not when the threads' wait for those clients' next requests ends,
    and the silent clients are still answered afterwards."""
    silent = [http.client.HTTPConnection("127.0.0.1", server, timeout=10) for _ in range(THREADS)]
    try:
        for connection in silent:
            assert ask(connection) == b"ok"
        late = http.client.HTTPConnection("127.0.0.1", server, timeout=3)
        assert ask(late) == b"ok"
        late.close()
        for connection in silent:
            assert ask(connection) == b"ok"
    finally:
        for connection in silent:
            connection.close()

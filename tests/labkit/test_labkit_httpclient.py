"""labkit.httpclient.Downstream against a real (standard-library) HTTP server on port 0."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from labkit import httpclient
from labkit.httpclient import Downstream
from labkit.validation import ApiError
from labtest import free_port


class _Envelope(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"error": False, "message": "hello"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Envelope)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_proxy_named_in_the_environment_is_not_used(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, closed)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    service = Downstream("peer", server_url)
    try:
        assert service.get("/") == (200, {"error": False, "message": "hello"})
    finally:
        service.close()


class _Flaky(BaseHTTPRequestHandler):
    """Counts the requests for each path. /drop closes the connection unanswered the first time, then
    answers; /slow answers after a second."""

    protocol_version = "HTTP/1.1"
    server: _CountingServer

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = self.server.seen
        seen[self.path] = seen.get(self.path, 0) + 1
        if self.path == "/drop" and seen[self.path] == 1:
            self.close_connection = True
            return
        if self.path == "/slow":
            time.sleep(1.0)
        _Envelope.do_GET(self)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class _CountingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Flaky)
        self.seen: dict[str, int] = {}
        self.connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet: a client that timed out has gone before /slow answers."""


@pytest.fixture
def flaky() -> Iterator[_CountingServer]:
    server = _CountingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: _CountingServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_request_whose_connection_closes_unanswered_is_tried_again_on_a_fresh_one(
    flaky: _CountingServer, method: str
) -> None:
    service = Downstream("peer", _url(flaky), idempotent_posts=True)
    try:
        answer = service.send(method, "/drop", json={})
        assert (answer.status, answer.body) == (200, {"error": False, "message": "hello"})
    finally:
        service.close()

    assert flaky.seen == {"/drop": 2}


def test_a_post_that_may_have_been_processed_is_not_repeated_unless_posts_are_idempotent(
    flaky: _CountingServer,
) -> None:
    service = Downstream("mail", _url(flaky))
    try:
        with pytest.raises(ApiError) as raised:
            service.post("/drop", {})
    finally:
        service.close()

    assert (raised.value.status, raised.value.message) == (503, "mail service is unavailable")
    assert flaky.seen == {"/drop": 1}


def test_a_refused_connection_is_still_a_503_after_its_second_try() -> None:
    service = Downstream("peer", f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(ApiError) as raised:
            service.post("/log", {})
    finally:
        service.close()

    assert (raised.value.status, raised.value.message) == (503, "peer service is unavailable")


def test_a_timeout_is_never_tried_again(flaky: _CountingServer) -> None:
    service = Downstream("peer", _url(flaky), read_timeout=0.3, idempotent_posts=True)
    try:
        with pytest.raises(ApiError) as raised:
            service.post("/slow", {})
    finally:
        service.close()

    assert (raised.value.status, raised.value.message) == (504, "peer service timed out")
    assert flaky.seen == {"/slow": 1}


def test_a_connection_idle_for_longer_than_the_client_allows_is_not_reused(
    flaky: _CountingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lab's servers close a connection idle for 5 s; a POST sent on it as it closes would be lost,
    # so the client stops reusing one after 3 s. Here after 0.3 s, so the test need not wait.
    monkeypatch.setattr(httpclient, "CLIENT_IDLE_S", 0.3)
    service = Downstream("mail", _url(flaky))
    try:
        for _ in range(3):
            assert service.post("/send", {})[0] == 200
        assert flaky.connections == 1, "a connection in use is kept alive"
        time.sleep(0.5)
        assert service.post("/send", {})[0] == 200
    finally:
        service.close()

    assert flaky.connections == 2
    assert flaky.seen == {"/send": 4}

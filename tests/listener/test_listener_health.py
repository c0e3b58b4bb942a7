"""The listener's health server, bound to port 0 in this process and called over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests

from listener.health import create_health_server


class Readiness:
    def __init__(self) -> None:
        self.connected = False

    def check(self) -> dict[str, bool]:
        return {"rabbitmq": self.connected}


@pytest.fixture
def readiness() -> Readiness:
    return Readiness()


@pytest.fixture
def base_url(readiness: Readiness) -> Iterator[str]:
    server, port = create_health_server("127.0.0.1", 0, readiness.check)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_healthz_says_alive(base_url: str) -> None:
    response = requests.get(f"{base_url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"error": False, "message": "alive"}


def test_readyz_follows_the_rabbitmq_connection(base_url: str, readiness: Readiness) -> None:
    response = requests.get(f"{base_url}/readyz", timeout=5)
    assert response.status_code == 503
    assert response.json() == {"error": True, "message": "not ready", "data": {"rabbitmq": False}}

    readiness.connected = True
    response = requests.get(f"{base_url}/readyz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"error": False, "message": "ready", "data": {"rabbitmq": True}}


def test_unknown_path_is_a_json_404(base_url: str) -> None:
    response = requests.get(f"{base_url}/logs", timeout=5)
    assert response.status_code == 404
    assert response.json() == {"error": True, "message": "not found"}


def test_wrong_method_is_a_json_405(base_url: str) -> None:
    response = requests.post(f"{base_url}/healthz", json={}, timeout=5)
    assert response.status_code == 405
    assert response.json() == {"error": True, "message": "method not allowed"}


def test_a_method_it_has_no_handler_for_is_a_405_never_a_5xx(base_url: str) -> None:
    for method in ("OPTIONS", "TRACE"):
        response = requests.request(method, f"{base_url}/healthz", timeout=5)
        assert response.status_code == 405
        assert response.json() == {"error": True, "message": "method not allowed"}

"""The broker's own behaviour with the Flask test client: envelope, validation, CORS, fast failures.

Every downstream here is a closed port on this machine, so these tests also prove the broker
answers 503 at once instead of hanging when a service is down.
"""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient

from broker import create_app
from broker.config import Config
from labtest import free_port

ORIGIN = "http://127.0.0.1:8081"


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    closed = free_port()
    config = Config(
        auth_url=f"http://127.0.0.1:{closed}",
        mail_url=f"http://127.0.0.1:{closed}",
        logger_url=f"http://127.0.0.1:{closed}",
        logger_rpc_addr=f"127.0.0.1:{closed}",
        logger_grpc_addr=f"127.0.0.1:{closed}",
        amqp_url=f"amqp://guest:guest@127.0.0.1:{closed}/",
        cors_origins=(ORIGIN,),
    )
    return create_app(config).test_client()


def test_hit_the_broker(client: FlaskClient) -> None:
    response = client.post("/")
    assert response.status_code == 200
    assert response.get_json() == {"error": False, "message": "Hit the broker"}


def test_every_answer_has_a_request_id(client: FlaskClient) -> None:
    assert len(client.post("/").headers["X-Request-ID"]) == 32
    assert client.post("/", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "request body must be valid JSON"),
        ("[1, 2]", "request body must be a JSON object"),
        ('"text"', "request body must be a JSON object"),
        ("{}", "action is required"),
        ('{"action": 7}', "action must be a string"),
        ('{"action": " "}', "action must not be empty"),
        ('{"action": "dance"}', "unknown action 'dance': use auth, log or mail"),
        ('{"action": "log"}', "log is required"),
        ('{"action": "log", "log": "x"}', "log must be a JSON object"),
        ('{"action": "log", "log": {"data": "d"}}', "log.name is required"),
        ('{"action": "log", "log": {"name": "", "data": "d"}}', "log.name must not be empty"),
        ('{"action": "log", "log": {"name": "n", "data": 5}}', "log.data must be a string"),
        (
            '{"action": "log", "log": {"name": "n", "data": "d", "level": "LOUD"}}',
            "log.level must be one of INFO, WARNING, ERROR",
        ),
        (
            '{"action": "log", "log": {"name": "n", "data": "d"}, "transport": "pigeon"}',
            "unknown transport 'pigeon': use rabbitmq, rpc, grpc, http",
        ),
        (
            '{"action": "log", "log": {"name": "n", "data": "d"}, "transport": 1}',
            "transport must be a string",
        ),
        ('{"action": "auth", "auth": []}', "auth must be a JSON object"),
        ('{"action": "mail"}', "mail is required"),
    ],
)
def test_bad_input_is_a_400_with_a_clear_message(client: FlaskClient, body: str, message: str) -> None:
    response = client.post("/handle", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json() == {"error": True, "message": message}


def test_a_body_over_1_mib_is_a_413(client: FlaskClient) -> None:
    body = '{"action": "log", "log": {"name": "n", "data": "' + "x" * (1024 * 1024) + '"}}'
    response = client.post("/handle", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": True, "message": "request body is larger than 1 MiB"}


@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [("GET", "/nowhere", 404, "not found"), ("GET", "/handle", 405, "method not allowed")],
)
def test_http_errors_are_json(client: FlaskClient, method: str, path: str, status: int, message: str) -> None:
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.get_json() == {"error": True, "message": message}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"action": "log", "log": {"name": "n", "data": "d"}, "transport": "rabbitmq"},
            "message broker is unavailable",
        ),
        (
            {"action": "log", "log": {"name": "n", "data": "d"}, "transport": "rpc"},
            "logger service is unavailable",
        ),
        (
            {"action": "log", "log": {"name": "n", "data": "d"}, "transport": "grpc"},
            "logger service is unavailable",
        ),
        (
            {"action": "log", "log": {"name": "n", "data": "d"}, "transport": "http"},
            "logger service is unavailable",
        ),
        (
            {"action": "auth", "auth": {"email": "a@b.c", "password": "p"}},
            "authentication service is unavailable",
        ),
        (
            {"action": "mail", "mail": {"to": "a@b.c", "subject": "s", "message": "m"}},
            "mail service is unavailable",
        ),
    ],
)
def test_a_service_that_is_down_gives_503_fast(client: FlaskClient, body: dict, message: str) -> None:
    started = time.monotonic()
    response = client.post("/handle", json=body)
    assert response.status_code == 503
    assert response.get_json() == {"error": True, "message": message}
    assert time.monotonic() - started < 10, "a down service must fail fast, not hang"


def test_readiness_names_what_is_unreachable(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["message"] == "not ready"
    assert body["data"] == dict.fromkeys(
        ("authentication", "mail", "logger", "logger_rpc", "logger_grpc", "rabbitmq"), False
    )
    assert client.get("/healthz").get_json() == {"error": False, "message": "alive"}


def test_cors_admits_only_the_configured_origin(client: FlaskClient) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "Content-Type"}
    allowed = client.options("/handle", headers={"Origin": ORIGIN, **preflight})
    assert allowed.headers.get("Access-Control-Allow-Origin") == ORIGIN
    refused = client.options("/handle", headers={"Origin": "http://evil.example", **preflight})
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert (
        "Access-Control-Allow-Origin"
        not in client.post("/", headers={"Origin": "http://evil.example"}).headers
    )

"""The logger's HTTP API through the Flask test client, over a real SecantusDB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from logger import create_app
from logger.app import store_of
from logger.config import Config

LIMIT_MESSAGE = "limit must be an integer from 1 to 1000"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def stored(app: Flask, **query: Any) -> list[dict[str, Any]]:
    return list(store_of(app).collection.find(query))


def test_post_log_stores_the_entry_with_transport_http_and_the_request_id(
    app: Flask, client: FlaskClient
) -> None:
    response = client.post(
        "/log", json={"name": "event", "data": "something happened"}, headers={"X-Request-ID": "req-42"}
    )

    assert response.status_code == 202
    body = response.get_json()
    assert (body["error"], body["message"]) == (False, "logged")
    assert set(body["data"]) == {"id", "event_id"}
    documents = stored(app, event_id=body["data"]["event_id"])
    assert len(documents) == 1
    document = documents[0]
    assert str(document["_id"]) == body["data"]["id"]
    assert (document["name"], document["data"]) == ("event", "something happened")
    assert (document["transport"], document["request_id"]) == ("http", "req-42")
    assert document["created_at"] == document["updated_at"]


def test_the_listener_marks_its_entries_as_rabbitmq(app: Flask, client: FlaskClient) -> None:
    body = {"name": "n", "data": "d", "transport": "rabbitmq", "event_id": "e-1"}
    response = client.post("/log", json=body)

    assert response.status_code == 202
    assert response.get_json()["data"]["event_id"] == "e-1"
    assert [d["transport"] for d in stored(app, event_id="e-1")] == ["rabbitmq"]


def test_a_redelivered_event_is_stored_once(app: Flask, client: FlaskClient) -> None:
    first = client.post("/log", json={"name": "n", "data": "first", "event_id": "dup"})
    second = client.post("/log", json={"name": "n", "data": "second", "event_id": "dup"})

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.get_json()["data"] == second.get_json()["data"]
    assert [d["data"] for d in stored(app, event_id="dup")] == ["first"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": "d"}, "name is required"),
        ({"name": "n"}, "data is required"),
        ({"name": "  ", "data": "d"}, "name must not be empty"),
        ({"name": "n", "data": 5}, "data must be a string"),
        ({"name": "n", "data": "d", "event_id": 7}, "event_id must be a string"),
        ({"name": "n", "data": "d", "event_id": "x" * 129}, "event_id must be at most 128 characters"),
        ({"name": "n", "data": "d", "transport": "grpc"}, "transport must be one of http, rabbitmq"),
        ([1, 2], "request body must be a JSON object"),
    ],
)
def test_an_invalid_entry_is_a_400_and_nothing_is_stored(
    app: Flask, client: FlaskClient, body: object, message: str
) -> None:
    response = client.post("/log", json=body)

    assert response.status_code == 400
    assert response.get_json() == {"error": True, "message": message}
    assert stored(app) == []


def test_a_body_that_is_not_json_is_a_400(client: FlaskClient) -> None:
    response = client.post("/log", data="name=n", content_type="application/json")

    assert response.status_code == 400
    assert response.get_json() == {"error": True, "message": "request body must be valid JSON"}


def test_get_logs_lists_the_newest_first_with_every_field(client: FlaskClient) -> None:
    for i in range(3):
        client.post("/log", json={"name": "n", "data": f"entry {i}"}, headers={"X-Request-ID": f"r{i}"})

    response = client.get("/logs?limit=2")

    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "logs"
    assert [entry["data"] for entry in body["data"]] == ["entry 2", "entry 1"]
    entry = body["data"][0]
    assert set(entry) == {
        "id",
        "name",
        "data",
        "level",
        "transport",
        "event_id",
        "request_id",
        "created_at",
        "updated_at",
    }
    assert (entry["level"], entry["transport"], entry["request_id"]) == ("INFO", "http", "r2")
    assert datetime.fromisoformat(entry["created_at"]).utcoffset() == timedelta(0)
    assert entry["created_at"] == entry["updated_at"]


def test_get_logs_defaults_to_twenty(client: FlaskClient) -> None:
    for i in range(21):
        client.post("/log", json={"name": "n", "data": str(i)})

    assert len(client.get("/logs").get_json()["data"]) == 20


def test_get_logs_filters_by_level_in_any_case(client: FlaskClient) -> None:
    for i, level in enumerate(["INFO", "error", "WARNING", "Error"]):
        client.post("/log", json={"name": "n", "data": f"entry {i}", "level": level})

    errors = client.get("/logs?level=error").get_json()["data"]
    warnings = client.get("/logs?level=WARNING").get_json()["data"]

    assert [(entry["data"], entry["level"]) for entry in errors] == [
        ("entry 3", "ERROR"),
        ("entry 1", "ERROR"),
    ]
    assert [(entry["data"], entry["level"]) for entry in warnings] == [("entry 2", "WARNING")]
    assert len(client.get("/logs").get_json()["data"]) == 4


@pytest.mark.parametrize("level", ["DEBUG", "", "log.INFO", "\u0131nfo"])
def test_an_unknown_level_filter_is_a_400(client: FlaskClient, level: str) -> None:
    response = client.get(f"/logs?level={level}")

    assert response.status_code == 400
    assert response.get_json() == {"error": True, "message": "level must be one of INFO, WARNING, ERROR"}


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "ten", "1.5", ""])
def test_a_bad_limit_is_a_400(client: FlaskClient, limit: str) -> None:
    response = client.get(f"/logs?limit={limit}")

    assert response.status_code == 400
    assert response.get_json() == {"error": True, "message": LIMIT_MESSAGE}


def test_get_one_log_entry_by_id(client: FlaskClient) -> None:
    entry_id = client.post("/log", json={"name": "n", "data": "one"}).get_json()["data"]["id"]

    response = client.get(f"/logs/{entry_id}")

    assert response.status_code == 200
    body = response.get_json()
    assert body["message"] == "log entry"
    assert (body["data"]["id"], body["data"]["data"]) == (entry_id, "one")


@pytest.mark.parametrize("entry_id", ["0123456789abcdef01234567", "not-an-id"])
def test_an_unknown_or_malformed_id_is_a_404(client: FlaskClient, entry_id: str) -> None:
    response = client.get(f"/logs/{entry_id}")

    assert response.status_code == 404
    assert response.get_json() == {"error": True, "message": "log entry not found"}


def test_readiness_reports_the_store(client: FlaskClient) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.get_json()["data"] == {"mongo": True}


@pytest.fixture
def down_client(down_config: Config) -> Iterator[FlaskClient]:
    app = create_app(down_config)
    yield app.test_client()
    store_of(app).close()


def test_an_unreachable_store_is_a_503_and_not_ready(down_client: FlaskClient) -> None:
    for response in (
        down_client.post("/log", json={"name": "n", "data": "d"}),
        down_client.get("/logs"),
        down_client.get("/logs/0123456789abcdef01234567"),
    ):
        assert response.status_code == 503
        assert response.get_json() == {"error": True, "message": "log store is unavailable"}
    ready = down_client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["data"] == {"mongo": False}

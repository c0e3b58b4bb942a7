"""The logger's batch write (POST /log/batch, used by the listener) and its reads by event id prefix
(GET /logs/count, GET /logs/by-event-id, used by the broker's benchmark), over a real SecantusDB."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from labkit.events import LogEvent
from logger import create_app
from logger.app import store_of
from logger.config import Config
from logger.store import LogStore


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def stored(app: Flask, **query: Any) -> list[dict[str, Any]]:
    return list(store_of(app).collection.find(query))


def test_a_batch_is_stored_with_each_entrys_own_request_id(app: Flask, client: FlaskClient) -> None:
    entries = [
        {"name": "batch", "data": "one", "event_id": "b-1", "request_id": "trace-1"},
        {"name": "batch", "data": "two", "event_id": "b-2"},
        {"name": "batch", "data": "three", "event_id": "b-3", "request_id": 5},
    ]
    response = client.post(
        "/log/batch", json={"transport": "rabbitmq", "entries": entries}, headers={"X-Request-ID": "req-b"}
    )

    assert response.status_code == 202
    assert response.get_json() == {
        "error": False,
        "message": "logged",
        "data": {"stored": 3, "duplicates": 0},
    }
    documents = {d["event_id"]: d for d in stored(app, name="batch")}
    assert set(documents) == {"b-1", "b-2", "b-3"}
    assert (documents["b-1"]["data"], documents["b-1"]["request_id"]) == ("one", "trace-1")
    assert (documents["b-2"]["data"], documents["b-2"]["request_id"]) == ("two", "req-b")
    # A correlation id that cannot travel on (here not a string) is replaced, as at every front door.
    assert len(documents["b-3"]["request_id"]) == 32
    assert {d["transport"] for d in documents.values()} == {"rabbitmq"}
    assert all(d["created_at"] == d["updated_at"] for d in documents.values())


def test_a_redelivered_batch_changes_nothing_and_new_entries_in_it_are_stored(
    app: Flask, client: FlaskClient
) -> None:
    first = [{"name": "again", "data": str(i), "event_id": f"again-{i}"} for i in range(3)]
    client.post("/log/batch", json={"entries": first})
    repeat = [*first, {"name": "again", "data": "3", "event_id": "again-3"}, first[0]]

    response = client.post("/log/batch", json={"entries": repeat})

    assert response.status_code == 202
    assert response.get_json()["data"] == {"stored": 1, "duplicates": 4}
    assert sorted(d["data"] for d in stored(app, name="again")) == ["0", "1", "2", "3"]


def test_without_a_transport_a_batch_is_http_and_ids_are_made(app: Flask, client: FlaskClient) -> None:
    response = client.post("/log/batch", json={"entries": [{"name": "plain", "data": "d"}]})

    assert response.status_code == 202
    [document] = stored(app, name="plain")
    assert document["transport"] == "http"
    assert len(document["event_id"]) == 32


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "entries must be a non-empty list"),
        ({"entries": []}, "entries must be a non-empty list"),
        ({"entries": {"name": "n"}}, "entries must be a non-empty list"),
        ({"entries": [{"name": "n", "data": "d"}] * 1001}, "entries must hold at most 1000 entries"),
        ({"entries": [{"name": "n", "data": "d"}, "x"]}, "entries[1] must be a JSON object"),
        ({"entries": [{"name": "n", "data": "d"}, {"data": "d"}]}, "entries[1].name is required"),
        ({"entries": [{"name": "n", "data": ""}]}, "entries[0].data must not be empty"),
        (
            {"entries": [{"name": "n", "data": "d", "event_id": "x" * 129}]},
            "entries[0].event_id must be at most 128 characters",
        ),
        (
            {"entries": [{"name": "n", "data": "d"}], "transport": "grpc"},
            "transport must be one of http, rabbitmq",
        ),
    ],
)
def test_an_invalid_batch_is_a_400_and_nothing_of_it_is_stored(
    app: Flask, client: FlaskClient, body: dict[str, Any], message: str
) -> None:
    response = client.post("/log/batch", json=body)

    assert response.status_code == 400
    assert response.get_json() == {"error": True, "message": message}
    assert stored(app) == []


def test_insert_many_reports_which_entries_were_new(store: LogStore) -> None:
    store.insert(LogEvent("n", "first", "seen"), "http")

    result = store.insert_many(
        [LogEvent("n", "again", "seen"), LogEvent("n", "new", "fresh"), LogEvent("n", "made", "other")],
        "rabbitmq",
    )

    assert [created for _event_id, created in result] == [False, True, True]
    assert [event_id for event_id, _created in result][:2] == ["seen", "fresh"]
    assert store.collection.find_one({"event_id": "seen"})["data"] == "first"
    assert store.collection.count_documents({}) == 3


def test_count_and_by_event_id_read_the_entries_whose_event_id_starts_with_the_prefix(
    client: FlaskClient,
) -> None:
    for i in range(3):
        client.post("/log", json={"name": "n", "data": str(i), "event_id": f"run-1-{i}"})
    # Neighbours of the range: the prefix without its dash, and the next run's ids.
    for event_id in ("run-1", "run-10-0", "run-2-0"):
        client.post("/log", json={"name": "n", "data": "other", "event_id": event_id})

    count = client.get("/logs/count?event_id_prefix=run-1-")
    listing = client.get("/logs/by-event-id", query_string={"event_id_prefix": "run-1-"})

    assert count.status_code == 200
    assert count.get_json() == {
        "error": False,
        "message": "logs counted",
        "data": {"event_id_prefix": "run-1-", "count": 3},
    }
    assert listing.status_code == 200
    body = listing.get_json()
    assert body["message"] == "logs"
    assert (body["data"]["event_id_prefix"], body["data"]["count"]) == ("run-1-", 3)
    entries = body["data"]["entries"]
    assert [set(entry) for entry in entries] == [{"data", "created_at"}] * 3
    assert [entry["data"] for entry in entries] == ["0", "1", "2"]
    times = [datetime.fromisoformat(entry["created_at"]) for entry in entries]
    assert all(t.utcoffset() == timedelta(0) for t in times)


LAST = chr(0x10FFFF)  # the last character: a prefix ending in it has no successor of the same length
EVENT_IDS = ("a", "ax", "a" + LAST, "a" + LAST + "!", "b", LAST, LAST + LAST, "\ud7ff", "\ud7ffz", "\ue000")


@pytest.mark.parametrize("prefix", ["a", "a" + LAST, LAST, "\ud7ff"])
def test_a_prefix_ending_in_any_character_reads_exactly_the_event_ids_it_starts(
    client: FlaskClient, prefix: str
) -> None:
    """The read is a range of the index, up to the first string past the prefix's: also where its last
    character is the last of Unicode, or the one before the surrogates (no characters of UTF-8)."""
    for event_id in EVENT_IDS:
        client.post("/log", json={"name": "n", "data": event_id, "event_id": event_id})

    listing = client.get("/logs/by-event-id", query_string={"event_id_prefix": prefix}).get_json()["data"]

    expected = sorted(event_id for event_id in EVENT_IDS if event_id.startswith(prefix))
    assert sorted(entry["data"] for entry in listing["entries"]) == expected
    assert listing["count"] == len(expected)


def test_an_unknown_prefix_counts_zero(client: FlaskClient) -> None:
    assert client.get("/logs/count?event_id_prefix=nobody").get_json()["data"]["count"] == 0
    assert client.get("/logs/by-event-id?event_id_prefix=nobody").get_json()["data"] == {
        "event_id_prefix": "nobody",
        "count": 0,
        "entries": [],
    }


@pytest.mark.parametrize("path", ["/logs/count", "/logs/by-event-id"])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "event_id_prefix is required"),
        ("?event_id_prefix=%20", "event_id_prefix must not be empty"),
        ("?name=n", "event_id_prefix is required"),
    ],
)
def test_a_read_by_event_id_needs_a_prefix(client: FlaskClient, path: str, query: str, message: str) -> None:
    response = client.get(path + query)

    assert response.status_code == 400
    assert response.get_json() == {"error": True, "message": message}


def test_an_unreachable_store_is_a_503_on_the_batch_and_prefix_routes(down_config: Config) -> None:
    app = create_app(down_config)
    client = app.test_client()
    try:
        for response in (
            client.post("/log/batch", json={"entries": [{"name": "n", "data": "d"}]}),
            client.get("/logs/count?event_id_prefix=n"),
            client.get("/logs/by-event-id?event_id_prefix=n"),
        ):
            assert response.status_code == 503
            assert response.get_json() == {"error": True, "message": "log store is unavailable"}
    finally:
        store_of(app).close()

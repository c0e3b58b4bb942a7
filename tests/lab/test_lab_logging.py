"""Action log over every transport, end to end: the stored document is what a user would check."""

from __future__ import annotations

import json
import uuid

import pika
import pytest
import requests

from labkit import amqp
from labtest import Lab, eventually

TRANSPORTS = ("rabbitmq", "rpc", "grpc", "http")


def post(lab: Lab, body: object, path: str = "/handle") -> requests.Response:
    return requests.post(lab.broker + path, json=body, timeout=15)


def stored(collection, **query) -> list[dict]:
    return list(collection.find(query))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_each_transport_stores_exactly_one_document(lab: Lab, logs_collection, transport: str) -> None:
    name, data = f"event-{transport}", f"payload {uuid.uuid4().hex}"
    response = post(lab, {"action": "log", "log": {"name": name, "data": data}, "transport": transport})

    assert response.status_code == 202
    body = response.json()
    assert body["error"] is False
    assert body["message"] == f"logged via {transport}"
    assert body["data"]["transport"] == transport
    event_id = body["data"]["event_id"]

    docs = eventually(lambda: stored(logs_collection, event_id=event_id), lambda d: len(d) >= 1)
    assert len(docs) == 1
    doc = docs[0]
    assert (doc["name"], doc["data"], doc["transport"]) == (name, data, transport)
    assert doc["created_at"] is not None
    assert doc["updated_at"] is not None
    assert doc["request_id"] == response.headers["X-Request-ID"]
    assert len(stored(logs_collection, data=data)) == 1


def test_without_a_transport_the_default_is_rabbitmq(lab: Lab, logs_collection) -> None:
    data = uuid.uuid4().hex
    response = post(lab, {"action": "log", "log": {"name": "default", "data": data}})
    assert response.status_code == 202
    assert response.json()["message"] == "logged via rabbitmq"
    docs = eventually(lambda: stored(logs_collection, data=data), lambda d: len(d) == 1)
    assert docs[0]["transport"] == "rabbitmq"


def test_the_course_route_log_grpc(lab: Lab, logs_collection) -> None:
    data = uuid.uuid4().hex
    response = post(lab, {"action": "log", "log": {"name": "course", "data": data}}, "/log-grpc")
    assert response.status_code == 202
    assert response.json()["message"] == "logged via grpc"
    assert [d["transport"] for d in stored(logs_collection, data=data)] == ["grpc"]


def test_the_level_picks_the_routing_key_and_every_level_is_consumed(lab: Lab, logs_collection) -> None:
    marks = {level: uuid.uuid4().hex for level in ("INFO", "WARNING", "ERROR")}
    for level, data in marks.items():
        body = {"action": "log", "log": {"name": "leveled", "data": data, "level": level}}
        assert post(lab, body).status_code == 202
    for data in marks.values():
        eventually(lambda data=data: stored(logs_collection, data=data), lambda d: len(d) == 1)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("level", ["WARNING", "error", None])
def test_each_transport_keeps_the_level(lab: Lab, logs_collection, transport: str, level: str | None) -> None:
    """The level travels on every transport into the stored document; an event without one is INFO."""
    data = f"leveled {uuid.uuid4().hex}"
    entry = {"name": "leveled", "data": data} | ({"level": level} if level else {})
    response = post(lab, {"action": "log", "log": entry, "transport": transport})
    assert response.status_code == 202

    docs = eventually(lambda: stored(logs_collection, data=data), lambda d: len(d) >= 1)
    assert [(d["level"], d["transport"]) for d in docs] == [((level or "INFO").upper(), transport)]


def test_get_logs_filters_by_level(lab: Lab) -> None:
    posted = []
    for level in ("ERROR", "INFO", "ERROR", "WARNING"):
        data = uuid.uuid4().hex
        posted.append((level, data))
        body = {
            "action": "log",
            "log": {"name": "filtered", "data": data, "level": level},
            "transport": "http",
        }
        assert post(lab, body).status_code == 202

    response = requests.get(lab.broker + "/logs", params={"limit": 2, "level": "error"}, timeout=5)

    assert response.status_code == 200
    newest_errors = [(level, data) for level, data in reversed(posted) if level == "ERROR"]
    assert [(e["level"], e["data"]) for e in response.json()["data"]] == newest_errors
    refused = requests.get(lab.broker + "/logs", params={"level": "DEBUG"}, timeout=5)
    assert (refused.status_code, refused.json()["message"]) == (
        400,
        "level must be one of INFO, WARNING, ERROR",
    )


def test_get_logs_lists_the_newest_first(lab: Lab) -> None:
    marks = [uuid.uuid4().hex for _ in range(3)]
    for data in marks:
        assert post(lab, {"action": "log", "log": {"name": "listing", "data": data}, "transport": "http"}).ok
    response = requests.get(lab.broker + "/logs", params={"limit": 3}, timeout=5)
    assert response.status_code == 200
    entries = response.json()["data"]
    assert [e["data"] for e in entries] == list(reversed(marks))
    assert requests.get(lab.broker + "/logs", params={"limit": "many"}, timeout=5).status_code == 400


def test_the_correlation_id_travels_into_every_services_json_logs(lab: Lab) -> None:
    request_id = f"trace-{uuid.uuid4().hex}"
    for transport in TRANSPORTS:
        body = {"action": "log", "log": {"name": "traced", "data": transport}, "transport": transport}
        response = requests.post(
            lab.broker + "/handle", json=body, headers={"X-Request-ID": request_id}, timeout=15
        )
        assert response.headers["X-Request-ID"] == request_id

    def lines(service: str) -> list[dict]:
        text = lab.procs[service].log_path.read_text()
        return [json.loads(line) for line in text.splitlines() if request_id in line]

    eventually(lambda: lines("listener"), bool)
    for service in ("broker", "logger", "listener"):
        assert all(line["request_id"] == request_id for line in lines(service)), service
        assert lines(service), f"{service} logged nothing with the request id"


def test_a_malformed_amqp_message_is_dead_lettered_and_consuming_goes_on(
    lab: Lab, logs_collection, amqp_url: str
) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        before = channel.queue_declare(amqp.DEAD_LETTER_QUEUE, passive=True).method.message_count
        channel.basic_publish(amqp.EXCHANGE, "log.INFO", b"{not json", mandatory=True)
        data = uuid.uuid4().hex
        good = json.dumps({"name": "after-poison", "data": data, "event_id": uuid.uuid4().hex})
        channel.basic_publish(amqp.EXCHANGE, "log.INFO", good.encode(), mandatory=True)

        eventually(lambda: stored(logs_collection, data=data), lambda d: len(d) == 1)
        count = eventually(
            lambda: channel.queue_declare(amqp.DEAD_LETTER_QUEUE, passive=True).method.message_count,
            lambda n: n == before + 1,
        )
        assert count == before + 1
        method, _props, body = channel.basic_get(amqp.DEAD_LETTER_QUEUE, auto_ack=True)
        assert method is not None
        assert body == b"{not json"
    finally:
        connection.close()


def test_a_redelivered_event_is_stored_once(lab: Lab, logs_collection, amqp_url: str) -> None:
    event = {"name": "twice", "data": uuid.uuid4().hex, "event_id": uuid.uuid4().hex}
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for _ in range(2):
            channel.basic_publish(amqp.EXCHANGE, "log.INFO", json.dumps(event).encode(), mandatory=True)
    finally:
        connection.close()
    marker = {"action": "log", "log": {"name": "marker", "data": uuid.uuid4().hex}}
    assert post(lab, marker).status_code == 202
    eventually(lambda: stored(logs_collection, data=marker["log"]["data"]), lambda d: len(d) == 1)
    assert len(stored(logs_collection, event_id=event["event_id"])) == 1

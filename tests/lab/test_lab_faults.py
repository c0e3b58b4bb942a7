"""The lab with its logger stopped: the synchronous paths fail fast, the RabbitMQ path loses nothing."""

from __future__ import annotations

import time
import uuid

import requests

from labtest import Lab, eventually


def log(lab: Lab, transport: str, data: str) -> requests.Response:
    body = {"action": "log", "log": {"name": "while-down", "data": data}, "transport": transport}
    return requests.post(lab.broker + "/handle", json=body, timeout=30)


def test_logger_down_sync_paths_503_fast_and_rabbitmq_holds_events(lab: Lab, logs_collection) -> None:
    assert lab.stop("logger") == 0
    try:
        for transport in ("rpc", "grpc", "http"):
            started = time.monotonic()
            response = log(lab, transport, uuid.uuid4().hex)
            elapsed = time.monotonic() - started
            assert response.status_code == 503, transport
            assert response.json() == {"error": True, "message": "logger service is unavailable"}
            assert elapsed < 5, f"{transport} took {elapsed:.1f}s to fail"

        held = [uuid.uuid4().hex for _ in range(5)]
        for data in held:
            response = log(lab, "rabbitmq", data)
            assert response.status_code == 202
            assert response.json()["message"] == "logged via rabbitmq"
        assert logs_collection.count_documents({"data": {"$in": held}}) == 0
    finally:
        lab.start("logger")

    eventually(
        lambda: logs_collection.count_documents({"data": {"$in": held}}), lambda n: n == len(held), timeout=60
    )
    for data in held:
        assert logs_collection.count_documents({"data": data}) == 1
    for transport in ("rpc", "grpc", "http"):
        data = uuid.uuid4().hex
        response = eventually(lambda t=transport, d=data: log(lab, t, d), lambda r: r.status_code == 202, 15)
        assert response.json()["message"] == f"logged via {transport}"

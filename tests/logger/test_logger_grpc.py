"""The logger's gRPC server on port 0 in this process, over a real SecantusDB."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from labrun import backing
from labrun.procs import Proc
from labtest import eventually, free_port
from logger import grpc_server, logs_pb2, logs_pb2_grpc
from logger.store import LogStore

DEADLINE_S = 10
Serve = Callable[[LogStore], grpc.Channel]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start a gRPC server on port 0 over the given store; a channel to it. All stop at the end."""
    started: list[tuple[grpc_server.LogGrpcServer, grpc.Channel]] = []

    def start(store: LogStore) -> grpc.Channel:
        server, port = grpc_server.create_server("127.0.0.1:0", store, health_interval=0.2)
        server.start()
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        started.append((server, channel))
        return channel

    yield start
    for server, channel in started:
        channel.close()
        server.stop(0)


def write_log(
    channel: grpc.Channel,
    name: str,
    data: str,
    event_id: str = "",
    *,
    request_id: str | None = None,
    level: str = "",
) -> logs_pb2.LogResponse:
    entry = logs_pb2.Log(name=name, data=data, event_id=event_id, level=level)
    request = logs_pb2.LogRequest(logEntry=entry)
    metadata = (("x-request-id", request_id),) if request_id else None
    return logs_pb2_grpc.LogServiceStub(channel).WriteLog(request, timeout=DEADLINE_S, metadata=metadata)


def test_write_log_stores_the_entry_with_transport_grpc_and_the_request_id(
    serve: Serve, store: LogStore
) -> None:
    response = write_log(serve(store), "event", "via grpc", event_id="e-1", request_id="req-9")

    assert response.result == "logged!"
    documents = list(store.collection.find({"event_id": "e-1"}))
    assert len(documents) == 1
    document = documents[0]
    assert (document["name"], document["data"], document["transport"]) == ("event", "via grpc", "grpc")
    assert (document["level"], document["request_id"]) == ("INFO", "req-9")
    assert document["created_at"] == document["updated_at"]


def test_the_level_is_stored_and_an_unknown_one_is_invalid_argument(serve: Serve, store: LogStore) -> None:
    channel = serve(store)
    write_log(channel, "n", "a warning", event_id="w-1", level="warning")

    with pytest.raises(grpc.RpcError) as raised:
        write_log(channel, "n", "debug", level="DEBUG")

    assert [d["level"] for d in store.collection.find({"event_id": "w-1"})] == ["WARNING"]
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == "level must be one of INFO, WARNING, ERROR"
    assert store.collection.count_documents({"data": "debug"}) == 0


def test_a_call_without_event_or_request_id_gets_new_ones(serve: Serve, store: LogStore) -> None:
    write_log(serve(store), "n", "no ids")

    document = store.collection.find_one({"data": "no ids"})
    assert document is not None
    assert len(document["event_id"]) == 32
    assert len(document["request_id"]) == 32


def test_a_retried_call_is_stored_once(serve: Serve, store: LogStore) -> None:
    channel = serve(store)
    for data in ("first", "retry"):
        assert write_log(channel, "n", data, event_id="same").result == "logged!"

    assert [d["data"] for d in store.collection.find({"event_id": "same"})] == ["first"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (("", "d", ""), "name must not be empty"),
        (("n", " ", ""), "data must not be empty"),
        (("n", "d", "x" * 129), "event_id must be at most 128 characters"),
    ],
)
def test_invalid_input_is_invalid_argument(
    serve: Serve, store: LogStore, entry: tuple[str, str, str], message: str
) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        write_log(serve(store), *entry)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.details() == message
    assert store.collection.count_documents({}) == 0


def test_a_message_over_one_mib_is_refused(serve: Serve, store: LogStore) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        write_log(serve(store), "n", "x" * (1024 * 1024 + 1))

    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert store.collection.count_documents({}) == 0


SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
HEALTH_SERVICES = ("", "logs.LogService")


def health(channel: grpc.Channel) -> dict[str, int]:
    """Each service's status, as a standard health client (grpc.health.v1 Check) reads it."""
    stub = health_pb2_grpc.HealthStub(channel)
    return {
        service: stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=DEADLINE_S).status
        for service in HEALTH_SERVICES
    }


def test_health_answers_serving_while_the_store_answers(serve: Serve, store: LogStore) -> None:
    assert health(serve(store)) == dict.fromkeys(HEALTH_SERVICES, SERVING)


def test_health_answers_not_serving_while_the_store_is_unreachable(
    serve: Serve, down_store: LogStore
) -> None:
    assert health(serve(down_store)) == dict.fromkeys(HEALTH_SERVICES, NOT_SERVING)


def test_health_follows_the_store_going_down_and_coming_back(serve: Serve, tmp_path: Path) -> None:
    port = free_port()
    spec = backing.secantus(port, str(tmp_path / "data"))
    mongo = Proc.start_spec(spec, tmp_path)
    store = LogStore(f"mongodb://127.0.0.1:{port}", "health")
    try:
        channel = serve(store)
        assert health(channel) == dict.fromkeys(HEALTH_SERVICES, SERVING)

        mongo.stop()
        eventually(lambda: health(channel), lambda s: s == dict.fromkeys(HEALTH_SERVICES, NOT_SERVING), 10)

        mongo.start().wait_ready(spec.ready)
        eventually(lambda: health(channel), lambda s: s == dict.fromkeys(HEALTH_SERVICES, SERVING), 10)
        assert write_log(channel, "n", "after the outage").result == "logged!"
    finally:
        store.close()
        mongo.stop()


def test_an_unreachable_store_is_unavailable(serve: Serve, down_store: LogStore) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        write_log(serve(down_store), "n", "d")

    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    assert raised.value.details() == "log store is unavailable"
    # The logger's own answer, which a client's retry policy must not repeat (gRPC's retry pushback).
    assert ("grpc-retry-pushback-ms", "-1") in [(m.key, m.value) for m in raised.value.trailing_metadata()]

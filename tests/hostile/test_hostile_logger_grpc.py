"""Hostile calls to the running logger's gRPC server: each gets the status the logger defines, nothing is
stored, the server keeps serving, and no status detail shows internals."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hostile_support import MARK, MIB, ODD_TEXT, TIMEOUT, assert_no_leak, unique

from labtest import Lab
from logger import logs_pb2

WRITE_LOG = "/logs.LogService/WriteLog"


@pytest.fixture
def channel(lab: Lab) -> Iterator[grpc.Channel]:
    """A channel whose client side allows large messages, so the server's own limit is what is tested."""
    options = [("grpc.max_send_message_length", 8 * MIB), ("grpc.max_receive_message_length", 8 * MIB)]
    with grpc.insecure_channel(f"127.0.0.1:{lab.ports.logger_grpc}", options=options) as channel:
        yield channel


def request(name: str = "n", data: str = MARK, event_id: str = "") -> bytes:
    entry = logs_pb2.Log(name=name, data=data, event_id=event_id)
    return logs_pb2.LogRequest(logEntry=entry).SerializeToString()


def field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, written by hand (short payloads only)."""
    assert len(payload) < 128
    return bytes([number << 3 | 2, len(payload)]) + payload


def raw_request(name: bytes, data: bytes) -> bytes:
    return field(1, field(1, name) + field(2, data))


def invoke(channel: grpc.Channel, body: bytes, method: str = WRITE_LOG) -> grpc.RpcError | bytes:
    call = channel.unary_unary(method)
    try:
        return call(body, timeout=TIMEOUT)
    except grpc.RpcError as error:
        return error


CODE = grpc.StatusCode


class Status(NamedTuple):
    code: grpc.StatusCode
    details: str


REFUSED = [
    pytest.param(b"", Status(CODE.INVALID_ARGUMENT, "name must not be empty"), id="empty-request"),
    pytest.param(request(name=""), Status(CODE.INVALID_ARGUMENT, "name must not be empty"), id="empty-name"),
    pytest.param(
        request(name=" \u3000\t"), Status(CODE.INVALID_ARGUMENT, "name must not be empty"), id="blank-name"
    ),
    pytest.param(request(data=""), Status(CODE.INVALID_ARGUMENT, "data must not be empty"), id="empty-data"),
    pytest.param(
        request(data="\u2028\n"), Status(CODE.INVALID_ARGUMENT, "data must not be empty"), id="blank-data"
    ),
    pytest.param(
        request(event_id=MARK + "e" * 129),
        Status(CODE.INVALID_ARGUMENT, "event_id must be at most 128 characters"),
        id="long-event-id",
    ),
    pytest.param(
        request(event_id=MARK * (MIB // 80)),
        Status(CODE.INVALID_ARGUMENT, "event_id must be at most 128 characters"),
        id="huge-event-id",
    ),
    pytest.param(
        request(data=MARK + "x" * MIB),
        Status(
            CODE.RESOURCE_EXHAUSTED,
            f"SERVER: Received message larger than max ({len(request(data=MARK + 'x' * MIB))} vs. {MIB})",
        ),
        id="over-1mib",
    ),
    pytest.param(
        raw_request(b"n", MARK.encode() + b"\xff\xfe"),
        Status(CODE.INTERNAL, "Exception deserializing request!"),
        id="invalid-utf8",
    ),
    pytest.param(b"\xff" * 64, Status(CODE.INTERNAL, "Exception deserializing request!"), id="not-protobuf"),
    pytest.param(request()[:-5], Status(CODE.INTERNAL, "Exception deserializing request!"), id="truncated"),
]


@pytest.mark.parametrize(("body", "status"), REFUSED)
def test_hostile_call_gets_the_logger_status_and_stores_nothing(
    channel: grpc.Channel, untouched, still_serving: Callable[[str], None], body: bytes, status: Status
) -> None:
    error = invoke(channel, body)

    assert isinstance(error, grpc.RpcError), "the call must fail"
    assert Status(error.code(), error.details()) == status
    assert_no_leak(error.details() or "")
    assert_no_leak(repr(error.trailing_metadata()))
    untouched.check()
    still_serving("logger_grpc")


def test_an_unknown_method_is_unimplemented(
    channel: grpc.Channel, still_serving: Callable[[str], None]
) -> None:
    error = invoke(channel, request(), method="/logs.LogService/DeleteAll")

    assert isinstance(error, grpc.RpcError)
    assert error.code() == CODE.UNIMPLEMENTED
    assert_no_leak(error.details() or "")
    still_serving("logger_grpc")


def test_health_of_an_unknown_service_is_not_found(channel: grpc.Channel) -> None:
    check = health_pb2_grpc.HealthStub(channel).Check
    with pytest.raises(grpc.RpcError) as raised:
        check(health_pb2.HealthCheckRequest(service="logs.Nope' OR 1=1"), timeout=TIMEOUT)
    assert raised.value.code() == CODE.NOT_FOUND


@pytest.mark.parametrize("kind", list(ODD_TEXT))
def test_odd_text_is_stored_verbatim(channel: grpc.Channel, logs_collection, kind: str) -> None:
    name, data = ODD_TEXT[kind], f"{unique(kind)} {ODD_TEXT[kind]}"
    assert invoke(channel, request(name, data)) == logs_pb2.LogResponse(result="logged!").SerializeToString()

    stored = list(logs_collection.find({"data": data}))
    assert [(entry["name"], entry["transport"]) for entry in stored] == [(name, "grpc")]


def test_unknown_fields_are_ignored(channel: grpc.Channel, logs_collection) -> None:
    data = unique("unknown-fields")
    unknown = field(15, b"forged") + field(3, b"")
    body = field(1, field(1, b"n") + field(2, data.encode()) + field(9, b"extra")) + unknown

    assert invoke(channel, body) == logs_pb2.LogResponse(result="logged!").SerializeToString()
    stored = logs_collection.find_one({"data": data})
    assert stored is not None
    assert (stored["name"], stored["transport"], len(stored["event_id"])) == ("n", "grpc", 32)


def test_an_overlong_request_id_is_replaced(channel: grpc.Channel, logs_collection) -> None:
    data = unique("request-id")
    metadata = (("x-request-id", "x" * 4000),)
    channel.unary_unary(WRITE_LOG)(request("n", data), timeout=TIMEOUT, metadata=metadata)

    stored = logs_collection.find_one({"data": data})
    assert stored is not None
    assert len(stored["request_id"]) == 32

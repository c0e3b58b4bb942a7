"""The logger's xmlrpc server on port 0 in this process, over a real SecantusDB."""

from __future__ import annotations

import http.client
import xmlrpc.client
from collections.abc import Callable, Iterator

import pytest

from logger import xmlrpc_server
from logger.store import LogStore

Serve = Callable[[LogStore], int]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start an xmlrpc server on port 0 over the given store; its port. All are stopped at the end."""
    servers: list[xmlrpc_server.LogRpcServer] = []

    def start(store: LogStore) -> int:
        server, port = xmlrpc_server.create_server("127.0.0.1:0", store)
        server.start()
        servers.append(server)
        return port

    yield start
    for server in servers:
        server.stop()


def proxy(port: int) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/", allow_none=True)


def post_raw(port: int, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/", body=body, headers={"Content-Type": "text/xml"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_log_info_stores_the_entry_with_transport_rpc_and_the_request_id(
    serve: Serve, store: LogStore
) -> None:
    payload = {"name": "event", "data": "via rpc", "event_id": "e-1", "request_id": "req-7"}

    result = proxy(serve(store)).LogInfo(payload)

    assert result == "Processed payload via RPC:event"
    documents = list(store.collection.find({"event_id": "e-1"}))
    assert len(documents) == 1
    document = documents[0]
    assert (document["name"], document["data"], document["transport"]) == ("event", "via rpc", "rpc")
    assert document["request_id"] == "req-7"
    assert document["created_at"] == document["updated_at"]


def test_a_call_without_a_request_id_gets_a_new_one(serve: Serve, store: LogStore) -> None:
    proxy(serve(store)).LogInfo({"name": "n", "data": "d", "event_id": "e-2", "request_id": None})

    document = store.collection.find_one({"event_id": "e-2"})
    assert document is not None
    assert len(document["request_id"]) == 32


def test_a_retried_call_is_stored_once(serve: Serve, store: LogStore) -> None:
    logger = proxy(serve(store))
    for data in ("first", "retry"):
        logger.LogInfo({"name": "n", "data": data, "event_id": "same"})

    assert [d["data"] for d in store.collection.find({"event_id": "same"})] == ["first"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (({"data": "d"},), "name is required"),
        (({"name": "n", "data": ""},), "data must not be empty"),
        (({"name": "n", "data": "d", "event_id": 5},), "event_id must be a string"),
        (("name",), "LogInfo takes one argument: a struct with name and data"),
        (({"name": "n", "data": "d"}, "extra"), "LogInfo takes one argument: a struct with name and data"),
    ],
)
def test_an_invalid_payload_is_fault_400(
    serve: Serve, store: LogStore, params: tuple[object, ...], message: str
) -> None:
    with pytest.raises(xmlrpc.client.Fault) as raised:
        proxy(serve(store)).LogInfo(*params)

    assert (raised.value.faultCode, raised.value.faultString) == (400, message)
    assert store.collection.count_documents({}) == 0


def test_an_unknown_method_is_a_clean_fault(serve: Serve, store: LogStore) -> None:
    with pytest.raises(xmlrpc.client.Fault) as raised:
        proxy(serve(store)).DeleteEverything()

    assert (raised.value.faultCode, raised.value.faultString) == (
        404,
        "method 'DeleteEverything' is not supported",
    )


def test_a_body_that_is_not_xmlrpc_is_fault_400_without_parser_details(serve: Serve, store: LogStore) -> None:
    status, body = post_raw(serve(store), b"<not xml")

    assert status == 200
    with pytest.raises(xmlrpc.client.Fault) as raised:
        xmlrpc.client.loads(body)
    assert (raised.value.faultCode, raised.value.faultString) == (400, "request body is not an XML-RPC call")


def test_a_body_over_one_mib_is_refused_unread(serve: Serve, store: LogStore) -> None:
    big = xmlrpc.client.dumps(({"name": "n", "data": "x" * (1024 * 1024)},), "LogInfo").encode()

    status, body = post_raw(serve(store), big)

    assert status == 200
    with pytest.raises(xmlrpc.client.Fault) as raised:
        xmlrpc.client.loads(body)
    assert (raised.value.faultCode, raised.value.faultString) == (413, "request body is larger than 1 MiB")
    assert store.collection.count_documents({}) == 0


def test_an_unreachable_store_is_fault_503(serve: Serve, down_store: LogStore) -> None:
    with pytest.raises(xmlrpc.client.Fault) as raised:
        proxy(serve(down_store)).LogInfo({"name": "n", "data": "d"})

    assert (raised.value.faultCode, raised.value.faultString) == (503, "log store is unavailable")

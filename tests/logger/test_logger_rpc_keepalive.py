"""The logger's xmlrpc server keeps a client's connection open between calls, and still stops at once."""

from __future__ import annotations

import http.client
import time
import xmlrpc.client

from logger import xmlrpc_server
from logger.store import LogStore


def call(connection: http.client.HTTPConnection, data: str) -> tuple[int, str | None, object]:
    body = xmlrpc.client.dumps(({"name": "kept", "data": data},), "LogInfo", allow_none=True)
    connection.request("POST", "/", body=body.encode(), headers={"Content-Type": "text/xml"})
    response = connection.getresponse()
    (result,), _method = xmlrpc.client.loads(response.read())
    return response.status, response.getheader("Connection"), result


def test_calls_share_one_connection_and_stop_closes_it_at_once(store: LogStore) -> None:
    server, port = xmlrpc_server.create_server("127.0.0.1:0", store)
    server.start()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        first = call(connection, "one")
        sock = connection.sock
        second = call(connection, "two")

        assert first == second == (200, None, "Processed payload via RPC:kept")
        assert connection.sock is sock, "the second call went over the first call's connection"
        assert sorted(d["data"] for d in store.collection.find({"name": "kept"})) == ["one", "two"]

        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < xmlrpc_server.CLIENT_TIMEOUT_S, (
            "an idle connection held up the stop"
        )
    finally:
        connection.close()
        server.stop()

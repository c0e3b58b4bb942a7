"""The logger's xmlrpc front door: LogInfo({"name", "data", "event_id"?, "request_id"?}).

Faults carry the contract's statuses, which the broker relays: 400 for an invalid payload, 503 when the
log store is unreachable. No fault ever carries exception text.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import xmlrpc.client
from socketserver import ThreadingMixIn
from typing import Any
from xml.parsers import expat
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

from labkit.events import LogEvent
from labkit.frontdoor import front_door
from labkit.net import split_addr
from labkit.validation import MAX_BODY_BYTES, ApiError
from logger.entries import write
from logger.metrics import refusals
from logger.store import LogStore

# A client that connects and then stops sending frees its thread after this many seconds.
CLIENT_TIMEOUT_S = 5.0
DRAIN_LIMIT_BYTES = 16 * MAX_BODY_BYTES
DRAIN_CHUNK_BYTES = 64 * 1024

log = logging.getLogger(__name__)


def _fault(code: int, message: str) -> bytes:
    return xmlrpc.client.dumps(xmlrpc.client.Fault(code, message), allow_none=True).encode()


def _refuse_doctype(*_declaration: Any) -> None:
    raise ValueError("document type declarations are not accepted")


def _parse_call(data: bytes) -> tuple[tuple[Any, ...], str]:
    """xmlrpc.client.loads for a call only, refusing a document type declaration first: a call never
    needs one, and its entities are how expansion bombs and external references get in."""
    guard = expat.ParserCreate()
    guard.StartDoctypeDeclHandler = _refuse_doctype
    guard.Parse(data, True)
    params, method = xmlrpc.client.loads(data)
    if method is None:
        raise ValueError("not a method call")
    return params, method


class _RequestHandler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/", "/RPC2")
    timeout = CLIENT_TIMEOUT_S
    # Keep-alive: a client's connection (and the thread serving it) is reused for its next call, instead
    # of a new connection and a new thread per call; an idle one is closed after CLIENT_TIMEOUT_S.
    protocol_version = "HTTP/1.1"

    def version_string(self) -> str:
        """The Server header names the service, not the Python version it runs on."""
        return "logger"

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "")
        if not (length.isascii() and length.isdigit()):
            # The stdlib would fail on it, or with a negative one read to the end of the stream.
            self._reply(_fault(411, "a Content-Length header is required"))
            return
        if int(length) > MAX_BODY_BYTES:
            self._refuse_oversized(int(length))
            return
        super().do_POST()

    def decode_request_content(self, data: bytes) -> bytes | None:
        """The stdlib would inflate a gzip body to 20 MiB, past the 1 MiB limit; no client of the lab
        compresses its calls. None tells the stdlib the answer is sent."""
        if self.headers.get("Content-Encoding", "identity").lower() == "identity":
            return data
        self._reply(_fault(415, "Content-Encoding is not supported"))
        return None

    def log_message(self, format: str, *args: Any) -> None:
        """The stdlib writes plain text to stderr (e.g. when an idle kept-alive connection times out)."""
        log.debug(format, *args)

    def _refuse_oversized(self, length: int) -> None:
        """Read the body away in small pieces, never holding it, so the client is not reset before it
        reads the fault; past DRAIN_LIMIT_BYTES the connection is just closed."""
        remaining = min(length, DRAIN_LIMIT_BYTES)
        while remaining > 0 and (chunk := self.rfile.read(min(remaining, DRAIN_CHUNK_BYTES))):
            remaining -= len(chunk)
        self._reply(_fault(413, "request body is larger than 1 MiB"))

    def _reply(self, body: bytes) -> None:
        """Answer with this fault and close the connection."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LogRpcServer(ThreadingMixIn, SimpleXMLRPCServer):
    """A thread per connection, kept alive between calls; stop() waits for the calls in flight and
    closes idle connections at once."""

    def __init__(self, address: tuple[str, int], store: LogStore) -> None:
        super().__init__(address, requestHandler=_RequestHandler, logRequests=False, allow_none=True)
        self.store = store
        self.register_function(self.log_info, "LogInfo")
        self._thread = threading.Thread(target=self.serve_forever, name="xmlrpc", daemon=True)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def _marshaled_dispatch(self, data: bytes, dispatch_method: Any = None, path: Any = None) -> bytes:
        """The call parsed once and answered: the stdlib's own would parse it again (about 30 µs a call)
        and answers a malformed call or an unknown method with the exception's text."""
        try:
            params, method = _parse_call(data)
        except Exception:
            return _fault(400, "request body is not an XML-RPC call")
        if method not in self.funcs:
            return _fault(404, f"method {method!r} is not supported")
        try:
            result = self.funcs[method](*params)
        except xmlrpc.client.Fault as fault:
            return _fault(fault.faultCode, fault.faultString)
        return xmlrpc.client.dumps((result,), methodresponse=True, allow_none=self.allow_none).encode()

    def log_info(self, *params: Any) -> str:
        """LogInfo(payload): store the entry with transport "rpc" under the payload's request id. An
        error is the fault of the front door's status."""
        payload = params[0] if len(params) == 1 and isinstance(params[0], dict) else None
        try:
            with front_door("xmlrpc LogInfo", payload.get("request_id") if payload else None):
                if payload is None:
                    raise ApiError(400, "LogInfo takes one argument: a struct with name and data")
                with refusals("rpc"):
                    event = LogEvent.parse(payload)
                    write(self.store, event, "rpc")
                return f"Processed payload via RPC:{event.name}"
        except ApiError as exc:
            raise xmlrpc.client.Fault(exc.status, exc.message) from None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; also for a server whose start() never ran (the worker's
        gRPC server failed to bind after this one was created)."""
        if self._thread.is_alive():
            self.shutdown()
        # A kept-alive connection's thread waits for the next call: ending the connection's reading
        # lets it finish the call in hand, if any, and return instead of waiting CLIENT_TIMEOUT_S.
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RD)
        self.server_close()
        if self._thread.ident is not None:
            self._thread.join()


def create_server(address: str, store: LogStore) -> tuple[LogRpcServer, int]:
    """An xmlrpc server bound to host:port (port 0 picks a free one); call start() to serve."""
    server = LogRpcServer(split_addr(address), store)
    return server, server.server_address[1]

"""Liveness and readiness over HTTP with the standard library, and the OpenAPI document of these routes:
the listener serves nothing else."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from labkit.logs import REQUEST_ID_HEADER, accept_request_id
from labkit.metrics import CONTENT_TYPE, exposition
from labkit.net import ReadyCheck, is_ready
from labkit.openapi import DOCUMENT_PATH, HEALTHZ, METRICS, OPENAPI, READYZ, build
from labkit.validation import MAX_BODY_BYTES

log = logging.getLogger("listener.health")

# Every route this server answers (GET, and HEAD as GET), each with its operation for the document.
ROUTES = {"/healthz": HEALTHZ, "/readyz": READYZ, "/metrics": METRICS, DOCUMENT_PATH: OPENAPI}
DOCUMENT = json.dumps(
    build(
        "listener",
        "Consumes the RabbitMQ queue `logs` and hands the events to the logger; over HTTP it serves only "
        "its health, its metrics and this document. Every answer carries X-Request-ID; every JSON answer "
        "is the envelope.",
        [(path, "get", described) for path, described in ROUTES.items()],
    )
)


class _HealthHandler(BaseHTTPRequestHandler):
    server: _HealthServer

    def version_string(self) -> str:
        """The Server header names the service, not the Python version it runs on."""
        return "listener"

    def parse_request(self) -> bool:
        """As the stdlib's, then refuse a body over the lab's limit on any path, as every lab service
        does, though this server reads none."""
        if not super().parse_request():
            return False
        length = self.headers.get("Content-Length", "")
        if length.isascii() and length.isdigit() and int(length) > MAX_BODY_BYTES:
            self._reply(413, {"error": True, "message": "request body is larger than 1 MiB"})
            return False
        return True

    @property
    def route(self) -> str:
        """The path without its query string."""
        return urlsplit(self.path).path

    def do_GET(self) -> None:
        if self.route == DOCUMENT_PATH:
            self._send(200, DOCUMENT.encode())
        elif self.route == "/healthz":
            self._reply(200, {"error": False, "message": "alive"})
        elif self.route == "/metrics":
            self._metrics()
        elif self.route == "/readyz":
            checks = dict(self.server.ready_check())
            if is_ready(checks):
                self._reply(200, {"error": False, "message": "ready", "data": checks})
            else:
                self._reply(503, {"error": True, "message": "not ready", "data": checks})
        else:
            self._reply(404, {"error": True, "message": "not found"})

    do_HEAD = do_GET

    def do_POST(self) -> None:
        if self.route in ROUTES:
            self._reply(405, {"error": True, "message": "method not allowed"})
        else:
            self._reply(404, {"error": True, "message": "not found"})

    do_PUT = do_PATCH = do_DELETE = do_POST

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed requests get the JSON envelope too, never an HTML page. A method the server has no
        handler for (OPTIONS, TRACE, ...) is answered as the other lab services answer it, 405 on a route
        and 404 elsewhere, never the stdlib's 501: no 5xx for a client's mistake."""
        if code == HTTPStatus.NOT_IMPLEMENTED:
            self.do_POST()
            return
        self._reply(code, {"error": True, "message": HTTPStatus(code).phrase.lower()})

    def _metrics(self) -> None:
        raw = exposition()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode())

    def _send(self, status: int, raw: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        # As every lab service: the caller's correlation id when it is a valid one, else a new one.
        headers = getattr(self, "headers", None)  # none yet when the request line itself is malformed
        incoming = headers.get(REQUEST_ID_HEADER) if headers is not None else None
        self.send_header(REQUEST_ID_HEADER, accept_request_id(incoming))
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


class _HealthServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], ready_check: ReadyCheck) -> None:
        super().__init__(address, _HealthHandler)
        self.ready_check = ready_check


def create_health_server(host: str, port: int, ready_check: ReadyCheck) -> tuple[ThreadingHTTPServer, int]:
    """A bound health server (port 0 picks a free one) and its port; run it with serve_forever()."""
    server = _HealthServer((host, port), ready_check)
    return server, server.server_address[1]

"""The lab's Flask conventions: the JSON envelope, request ids, body limits, health and metrics routes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Flask, Response, g, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from labkit.drain import draining
from labkit.frontdoor import Call, as_api_error
from labkit.logs import REQUEST_ID_HEADER
from labkit.metrics import CONTENT_TYPE, exposition
from labkit.net import DRAINING, ReadyCheck, is_ready
from labkit.openapi import (
    DOCUMENT_PATH,
    HEALTHZ,
    METRICS,
    OPENAPI,
    READYZ,
    Schema,
    build,
    describes,
    flask_operations,
)
from labkit.validation import MAX_BODY_BYTES, ApiError

MAX_JSON_DEPTH = 64

_HTTP_MESSAGES = {
    404: "not found",
    405: "method not allowed",
    413: "request body is larger than 1 MiB",
}


def reply(message: str, data: Any = None, status: int = 200, *, error: bool = False) -> Response:
    body: dict[str, Any] = {"error": error, "message": message}
    if data is not None:
        body["data"] = data
    return Response(json.dumps(body, default=str), status=status, mimetype="application/json")


_INVALID_JSON = "request body must be valid JSON"
_TOO_DEEP = f"request body is nested deeper than {MAX_JSON_DEPTH} levels"
_SURROGATE = re.compile("[\ud800-\udfff]")


def read_json_object() -> dict[str, Any]:
    """The request body as one JSON object, or a 400 (413 past the size limit)."""
    try:
        raw = request.get_data(cache=True)
    except ParseException:
        # gunicorn decodes a chunked body as it is read, and fails on malformed framing.
        raise ApiError(400, "request body could not be read") from None
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, _INVALID_JSON) from None
    except RecursionError:
        raise ApiError(400, _TOO_DEEP) from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    _check_sendable(body)
    return body


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON: no service could pass them on."""
    raise ValueError(name)


def _check_sendable(body: dict[str, Any]) -> None:
    """Refuse what Python's parser takes but nothing downstream can carry: nesting past MAX_JSON_DEPTH,
    and unpaired surrogates (an escaped "\\ud800"), which UTF-8 and so PostgreSQL, BSON and SMTP reject."""
    pending: list[tuple[Any, int]] = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ApiError(400, _TOO_DEEP)
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)
        elif isinstance(value, str) and not value.isascii() and _SURROGATE.search(value):
            raise ApiError(400, _INVALID_JSON)


QUIET_PATHS = ("/healthz", "/readyz", "/metrics")


def route_label() -> str:
    """The request's route as a metrics label: its method and URL rule ("GET /logs/<entry_id>"), or
    "unmatched" for a path or method no route takes, so no client can make up new label values."""
    rule = request.url_rule
    return f"{request.method} {rule.rule}" if rule is not None else "unmatched"


def init_app(
    app: Flask, ready_check: ReadyCheck, *, scrape_collectors: Callable[[], Iterable[Any]] = tuple
) -> None:
    """Give a Flask app the lab's envelope, correlation ids, request logging and metrics, /healthz,
    /readyz and /metrics. `scrape_collectors` adds prometheus_client collectors that measure when
    Prometheus scrapes (e.g. a queue's lag read from the database)."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    @app.before_request
    def _start() -> None:
        g.call = Call(
            f"{request.method} {request.path}",
            request.headers.get(REQUEST_ID_HEADER),
            quiet=request.path in QUIET_PATHS,
            route=route_label(),
        )
        # Every route, even one that never reads its body, refuses a body over the limit.
        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise RequestEntityTooLarge()

    @app.after_request
    def _finish(response: Response) -> Response:
        call: Call | None = g.get("call")
        if call is not None:
            call.status = response.status_code
            response.headers[REQUEST_ID_HEADER] = call.request_id
        return response

    @app.teardown_request
    def _end(_exc: BaseException | None) -> None:
        call: Call | None = g.pop("call", None)
        if call is not None:
            call.end()

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        message = _HTTP_MESSAGES.get(status, (exc.name or "error").lower())
        return reply(message, status=status, error=True)

    @app.errorhandler(Exception)
    def _error(exc: Exception) -> Response:
        error = as_api_error(exc)
        response = reply(error.message, error.data, error.status, error=True)
        response.headers.update(error.headers)
        return response

    @app.get("/healthz")
    @describes(HEALTHZ)
    def healthz() -> Response:
        return reply("alive")

    @app.get("/readyz")
    @describes(READYZ)
    def readyz() -> Response:
        checks = dict(ready_check())
        if draining():
            checks[DRAINING] = True
        if is_ready(checks):
            return reply("ready", checks)
        return reply("not ready", checks, 503, error=True)

    @app.get("/metrics")
    @describes(METRICS)
    def metrics() -> Response:
        return Response(exposition(scrape_collectors()), mimetype=None, content_type=CONTENT_TYPE)


def publish_openapi(
    app: Flask, title: str, description: str, schemas: Mapping[str, Schema] | None = None
) -> None:
    """Serve the app's OpenAPI document at GET /openapi.json, built from its routes at the first request
    (call it once every blueprint is registered)."""
    built: list[str] = []

    @app.get(DOCUMENT_PATH)
    @describes(OPENAPI)
    def openapi_document() -> Response:
        if not built:
            built.append(json.dumps(build(title, description, flask_operations(app), schemas)))
        return Response(built[0], mimetype="application/json")

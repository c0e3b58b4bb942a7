"""Requests broken below the application, sent as raw bytes to every gunicorn-served service: gunicorn
or Flask refuses them with a 4xx that shows no internals, and the service keeps serving."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import requests
from hostile_support import MARK, NOT_JSON, TIMEOUT, assert_no_leak, exchange

from labtest import Lab

SERVICES = ["broker", "authentication", "logger", "mail", "frontend"]

BROKEN = [
    pytest.param(b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: lab\r\n\r\n", 414, id="long-request-line"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: lab\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431, id="long-header"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: lab\r\n" + b"X: a\r\n" * 150 + b"\r\n", 431, id="many-headers"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: lab\r\nBad Name: 1\r\n\r\n", 400, id="space-in-header-name"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: lab\r\nX: a\x00b\r\n\r\n", 400, id="nul-in-header"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: lab\r\nX: a\rb\r\n\r\n", 400, id="bare-cr-in-header"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: lab\r\n folded\r\n\r\n", 400, id="obsolete-folding"),
    pytest.param(b"GET / HTTP/7.0\r\nHost: lab\r\n\r\n", 400, id="bad-version"),
    pytest.param(b"G\x00T / HTTP/1.1\r\nHost: lab\r\n\r\n", 400, id="nul-in-method"),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        id="length-and-chunked",
    ),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: 4\r\nContent-Length: 9\r\n\r\n" + b"x" * 9,
        400,
        id="two-lengths",
    ),
    pytest.param(b"POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: -4\r\n\r\n", 400, id="negative-length"),
]


@pytest.mark.parametrize(("raw", "status"), BROKEN)
@pytest.mark.parametrize("service", SERVICES)
def test_a_broken_request_is_refused_without_internals(
    lab: Lab, still_serving: Callable[[str], None], service: str, raw: bytes, status: int
) -> None:
    answer = exchange(getattr(lab.ports, service), raw)

    assert answer.status == status, answer
    body = answer.body.decode(errors="replace")
    assert_no_leak(body, answer.headers)
    assert json.loads(body)["error"] is True, "refused with the JSON envelope, never an HTML page"
    still_serving(service)


HANDLE = b"POST /handle HTTP/1.1\r\nHost: lab\r\nContent-Type: application/json\r\n"
CUT_SHORT = [
    pytest.param(
        HANDLE + b"Content-Length: 100\r\n\r\n" + b'{"action": "log", "data": "' + MARK.encode(),
        NOT_JSON,
        id="shorter-than-its-length",
    ),
    pytest.param(
        HANDLE + b"Transfer-Encoding: chunked\r\n\r\n40\r\n" + b'{"action": "log", ',
        "bad request",
        id="chunk-cut-short",
    ),
    pytest.param(
        HANDLE + b"Transfer-Encoding: chunked\r\n\r\n4\r\n" + b'{"ac' + b"\r\n",
        "bad request",
        id="last-chunk-missing",
    ),
    pytest.param(
        HANDLE + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + MARK.encode() + b"\r\n0\r\n\r\n",
        "request body could not be read",
        id="bad-chunk-size",
    ),
]


@pytest.mark.parametrize(("raw", "message"), CUT_SHORT)
def test_a_body_cut_short_or_badly_framed_is_a_400(
    lab: Lab, untouched, still_serving: Callable[[str], None], raw: bytes, message: str
) -> None:
    answer = exchange(lab.ports.broker, raw, half_close=True)

    assert (answer.status, json.loads(answer.body)) == (400, {"error": True, "message": message})
    assert_no_leak(answer.body.decode(), answer.headers)
    untouched.check()
    still_serving("broker")


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("request_id", ["x" * 65, "caf\u00e9", "a\tb"], ids=["long", "latin1", "tab"])
def test_an_unusable_request_id_is_replaced(lab: Lab, service: str, request_id: str) -> None:
    headers = {"X-Request-ID": request_id}
    response = requests.get(lab.url(service) + "/healthz", headers=headers, timeout=TIMEOUT)

    assert response.status_code == 200
    returned = response.headers["X-Request-ID"]
    assert returned != request_id
    assert len(returned) == 32

"""What every hostile-input case shares: the case table's row, sending it, and the checks on the answer."""

from __future__ import annotations

import json
import re
import socket
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

# Every rejected case carries this marker wherever a stored or sent copy would show it.
MARK = f"hostile-{uuid.uuid4().hex}"
MIB = 1024 * 1024
TIMEOUT = 15

# The messages every lab service's read of a JSON body answers with (labkit.web).
NOT_JSON = "request body must be valid JSON"
NOT_OBJECT = "request body must be a JSON object"
TOO_DEEP = "request body is nested deeper than 64 levels"
TOO_LARGE = "request body is larger than 1 MiB"

# Odd but valid text: NUL and other controls, line and paragraph separators, bidi controls, emoji,
# combining marks, and quoting that breaks naive SQL, shell, HTML and MongoDB query building.
ODD_TEXT = {
    "nul": "a\u0000b",
    "controls": "tab\tcr\rbell\u0007esc\u001bdel\u007f",
    "separators": "line\u2028para\u2029next\u0085",
    "bidi": "\u202eevil\u202c \u200fRTL\u200e \u2066iso\u2069",
    "emoji": "\U0001f600 \U0001f468\u200d\U0001f469\u200d\U0001f467 \U0001f1fa\U0001f1f3",
    "combining": "e\u0301 Z\u0351\u0352\u0357 \ufeffbom",
    "sql": "x'); DROP TABLE users; -- \" OR 1=1 /*",
    "nosql": '{"$gt": ""} $where: sleep(1000)',
    "markup": "<script>alert(1)</script> &amp; ${jndi:ldap://x} `id` %s %n {{7*7}}",
}

# What a response must never show: tracebacks, source paths, exception names, server software versions.
_LEAKS = re.compile(
    r"Traceback|File \"|\.py\b|site-packages|/work/|/usr/lib|(?-i:\b\w+(?:Error|Exception)\b)"
    r"|werkzeug|gunicorn/|Python/|psycopg|pymongo|bson|pika|grpc\._",
    re.IGNORECASE,
)
_VERSION = re.compile(r"\d+\.\d+")


def unique(label: str) -> str:
    """A marker for one accepted case, so its stored copy can be found and counted."""
    return f"ok-{label}-{uuid.uuid4().hex}"


def marked(marker: str) -> dict[str, Any]:
    """A MongoDB filter for log entries whose name, data or event id contain the marker."""
    return {"$or": [{field: {"$regex": marker}} for field in ("name", "data", "event_id")]}


def nested(depth: int) -> str:
    """A JSON object nested `depth` arrays deep inside the field "x"."""
    return '{"x": ' + "[" * depth + "]" * depth + "}"


@dataclass(frozen=True)
class Case:
    """One hostile request and the contract's answer to it."""

    id: str
    body: bytes | str | None
    status: int
    message: str
    method: str = "POST"
    path: str = ""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})

    def raw(self) -> bytes | None:
        return self.body.encode() if isinstance(self.body, str) else self.body


def as_json(value: Any) -> str:
    """A body as a client would send it; non-ASCII text kept as UTF-8 where it is not escaped."""
    return json.dumps(value, ensure_ascii=False)


def cases(*rows: Case) -> list[Any]:
    """Cases as pytest params, each named by its id."""
    return [pytest.param(row, id=row.id) for row in rows]


def post_json(url: str, body: Any) -> requests.Response:
    """POST a JSON body with its non-ASCII text as UTF-8, as browsers and most clients send it."""
    return requests.post(
        url, data=as_json(body).encode(), headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )


def send(base_url: str, case: Case, default_path: str) -> requests.Response:
    return requests.request(
        case.method,
        base_url + (case.path or default_path),
        data=case.raw(),
        headers=case.headers,
        timeout=TIMEOUT,
    )


def assert_no_leak(text: str, headers: Any = None) -> None:
    """No stack trace, source path, exception name or software version in a body or its headers."""
    leak = _LEAKS.search(text)
    assert leak is None, f"internal detail {leak.group(0)!r} in the response: {text[:300]!r}"
    if headers is not None:
        server = headers.get("Server", "")
        assert not _VERSION.search(server), f"Server header shows a version: {server!r}"
        for name, value in headers.items():
            assert not _LEAKS.search(f"{name}: {value}"), f"internal detail in header {name}: {value!r}"


def assert_envelope(response: requests.Response, status: int, message: str) -> dict[str, Any]:
    """The contract's status and message in the JSON envelope, and nothing internal anywhere."""
    assert_no_leak(response.text, response.headers)
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.headers
    body = response.json()
    assert (response.status_code, body.get("message")) == (status, message), response.text[:500]
    assert body["error"] is (status >= 400)
    if status >= 400:
        assert body == {"error": True, "message": message}
    return body


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: dict[str, str]
    body: bytes


def exchange(port: int, request: bytes, *, half_close: bool = False) -> RawAnswer:
    """Send raw bytes to 127.0.0.1:port (then end the sending side, if asked) and read the answer until
    the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in header_lines)
    return RawAnswer(int(status_line.split()[1]), headers, body)

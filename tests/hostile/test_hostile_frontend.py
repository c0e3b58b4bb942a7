"""Hostile requests to the test page's server (GET / and its static files) on the real process."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from hostile_support import MARK, MIB, TIMEOUT, TOO_LARGE, Case, assert_envelope, assert_no_leak, cases, send

from labtest import Lab

REJECTED = cases(
    Case("post-page", f'{{"x": "{MARK}"}}', 405, "method not allowed"),
    Case("put-page", None, 405, "method not allowed", "PUT"),
    Case("delete-static", None, 405, "method not allowed", "DELETE", "/static/app.js"),
    Case("over-1mib", MARK * (MIB // len(MARK) + 1), 413, TOO_LARGE),
    Case("unknown-page", None, 404, "not found", "GET", "/admin"),
    Case("unknown-static", None, 404, "not found", "GET", "/static/nope.js"),
    Case("dot-dot", None, 404, "not found", "GET", "/static/%2e%2e/__init__.py"),
    Case("encoded-slash", None, 404, "not found", "GET", "/static/..%2f..%2fconfig.py"),
    Case("backslash", None, 404, "not found", "GET", "/static/..%5c__init__.py"),
    Case("absolute", None, 404, "not found", "GET", "/static//etc/passwd"),
    Case("nul", None, 404, "not found", "GET", "/static/app.js%00.png"),
    Case("template", None, 404, "not found", "GET", "/templates/index.html"),
    Case("unicode-path", None, 404, "not found", "GET", "/static/%F0%9F%98%80.js"),
)


@pytest.mark.parametrize("case", REJECTED)
def test_hostile_request_gets_the_envelope(
    lab: Lab, untouched, still_serving: Callable[[str], None], case: Case
) -> None:
    assert_envelope(send(lab.url("frontend"), case, "/"), case.status, case.message)
    untouched.check()
    still_serving("frontend")


@pytest.mark.parametrize(
    "path",
    [
        "/?q=%3Cscript%3Ealert(1)%3C/script%3E",
        "/?brokerUrl=http://evil.example&mailUiUrl=javascript:alert(1)",
        "/static/app.js?v=%3Cscript%3E",
    ],
)
def test_query_strings_are_never_reflected(lab: Lab, path: str) -> None:
    response = requests.get(lab.url("frontend") + path, timeout=TIMEOUT)

    assert response.status_code == 200
    assert "<script>alert" not in response.text
    assert "evil.example" not in response.text
    assert "javascript:alert" not in response.text
    assert "Traceback" not in response.text
    assert_no_leak("", response.headers)

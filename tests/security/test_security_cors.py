"""CORS on the running broker: only the configured origin (the test page's) may read its answers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from labtest import Lab

PREFLIGHT = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}


# Origins that must not be granted, made from the lab's own addresses where that makes them look close.
REFUSED: dict[str, Callable[[Lab], str]] = {
    "other-site": lambda lab: "http://evil.example",
    "null": lambda lab: "null",
    "https": lambda lab: lab.url("frontend").replace("http://", "https://"),
    "lookalike": lambda lab: lab.url("frontend").replace("127.0.0.1", "127.0.0.1.evil.example"),
    "broker-itself": lambda lab: lab.broker,
}


def test_the_configured_origin_passes_the_preflight(lab: Lab) -> None:
    origin = lab.url("frontend")
    response = requests.options(lab.broker + "/handle", headers={"Origin": origin, **PREFLIGHT}, timeout=5)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in response.headers


def test_the_configured_origin_may_read_a_simple_request(lab: Lab) -> None:
    origin = lab.url("frontend")
    response = requests.post(lab.broker + "/", headers={"Origin": origin}, timeout=5)

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == origin
    exposed = {name.strip().lower() for name in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert exposed == {"x-request-id", "retry-after"}


@pytest.mark.parametrize("kind", REFUSED)
def test_other_origins_get_no_cors_grant(lab: Lab, kind: str) -> None:
    origin = REFUSED[kind](lab)
    preflight = requests.options(lab.broker + "/handle", headers={"Origin": origin, **PREFLIGHT}, timeout=5)
    simple = requests.post(lab.broker + "/", headers={"Origin": origin}, timeout=5)

    for response in (preflight, simple):
        granted = {name for name in response.headers if name.lower().startswith("access-control-allow-")}
        assert granted == set(), f"{origin}: {granted}"
    assert simple.json() == {"error": False, "message": "Hit the broker"}, "CORS is the browser's check"

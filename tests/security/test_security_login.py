"""Login throttling and bcrypt's cost as the browser meets them: through the broker of the running lab.

Every test here fails logins for an email of its own, never the seed user's, so other tests' logins
are never throttled by these."""

from __future__ import annotations

import uuid

import requests

from broker.transports import relay
from labtest import Lab

TOO_MANY = {"error": True, "message": "too many failed logins, try again later"}
INVALID = {"error": True, "message": "invalid credentials"}
SEED = {"email": "admin@example.com", "password": "verysecret"}


def auth(lab: Lab, email: str, password: str, headers: dict[str, str] | None = None) -> requests.Response:
    body = {"action": "auth", "auth": {"email": email, "password": password}}
    return requests.post(lab.broker + "/handle", json=body, headers=headers, timeout=15)


def test_the_eleventh_failed_login_in_a_minute_is_429_with_retry_after_in_the_browser(lab: Lab) -> None:
    email = f"throttled-{uuid.uuid4().hex}@example.com"
    origin = lab.url("frontend")
    for attempt in range(10):
        response = auth(lab, email, "wrong")
        assert (response.status_code, response.json()) == (401, INVALID), f"attempt {attempt + 1}"

    throttled = auth(lab, email.upper(), "wrong", {"Origin": origin})

    assert (throttled.status_code, throttled.json()) == (429, TOO_MANY)
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert throttled.headers["Access-Control-Allow-Origin"] == origin
    exposed = {name.strip().lower() for name in throttled.headers["Access-Control-Expose-Headers"].split(",")}
    assert "retry-after" in exposed, "the test page's script can read Retry-After"
    assert auth(lab, SEED["email"], SEED["password"]).status_code == 202, "other emails are not throttled"


def test_the_running_lab_hashes_with_the_default_cost_12(lab: Lab, users_db) -> None:
    assert auth(lab, SEED["email"], SEED["password"]).status_code == 202
    [(stored,)] = users_db.execute("SELECT password FROM users WHERE email = %s", (SEED["email"],)).fetchall()
    assert stored.startswith("$2b$12$")


def test_the_broker_passes_on_only_a_numeric_retry_after() -> None:
    body = {"error": True, "message": TOO_MANY["message"]}
    kept = relay("authentication", 429, body, {"Retry-After": "17"})
    dropped = relay("authentication", 429, body, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT\r\nX: y"})

    assert (kept.status, kept.message, kept.headers) == (429, TOO_MANY["message"], {"Retry-After": "17"})
    assert (dropped.status, dropped.headers) == (429, {})
    assert relay("authentication", 500, body, {"Retry-After": "17"}).headers == {}

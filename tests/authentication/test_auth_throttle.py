"""Login throttling: ten failed logins a minute for one email, then 429 with Retry-After until the oldest
failure leaves the window. Counted in PostgreSQL, so separate apps (workers, replicas) share the count."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from labtest import add_user

TOO_MANY = {"error": True, "message": "too many failed logins, try again later"}
INVALID = {"error": True, "message": "invalid credentials"}
PASSWORD = "opensesame"
WRONG_PASSWORD = "wrong"


def failures(dsn: str, email: str) -> int:
    with psycopg.connect(dsn) as conn:
        [(count,)] = conn.execute("SELECT count(*) FROM login_failures WHERE email = %s", (email,)).fetchall()
        return count


def age_oldest_failure(dsn: str, email: str, seconds: int) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "UPDATE login_failures SET failed_at = now() - make_interval(secs => %s) "
            "WHERE id = (SELECT min(id) FROM login_failures WHERE email = %s)",
            (seconds, email),
        )


def login(client: FlaskClient, email: str, password: str = WRONG_PASSWORD) -> TestResponse:
    return client.post("/authenticate", json={"email": email, "password": password})


def fail_ten_times(client: FlaskClient, email: str) -> None:
    for attempt in range(10):
        response = login(client, email)
        assert (response.status_code, response.get_json()) == (401, INVALID), f"attempt {attempt + 1}"


def assert_throttled(response: TestResponse, low: int = 1, high: int = 60) -> int:
    assert (response.status_code, response.get_json()) == (429, TOO_MANY)
    retry_after = int(response.headers["Retry-After"])
    assert low <= retry_after <= high
    return retry_after


@pytest.mark.parametrize("known", [True, False], ids=["known-user", "unknown-email"])
def test_the_eleventh_attempt_in_a_minute_is_429_even_with_the_right_password(
    auth_dsn: str, client: FlaskClient, known: bool
) -> None:
    email = "someone@example.com"
    if known:
        add_user(auth_dsn, email, PASSWORD)
    fail_ten_times(client, email)

    assert_throttled(login(client, email, PASSWORD))
    assert_throttled(login(client, email))
    assert failures(auth_dsn, email) == 10, "a refused attempt is not counted as another failure"


def test_the_throttle_lifts_when_the_oldest_failure_leaves_the_window(
    auth_dsn: str, client: FlaskClient
) -> None:
    email = "patient@example.com"
    add_user(auth_dsn, email, PASSWORD)
    fail_ten_times(client, email)

    age_oldest_failure(auth_dsn, email, 45)
    assert_throttled(login(client, email, PASSWORD), 14, 16)

    age_oldest_failure(auth_dsn, email, 61)
    response = login(client, email, PASSWORD)
    assert response.status_code == 202
    assert response.get_json()["message"] == f"Logged in user {email}"


def test_a_successful_login_clears_the_failures(auth_dsn: str, client: FlaskClient) -> None:
    email = "forgetful@example.com"
    add_user(auth_dsn, email, PASSWORD)
    for _ in range(9):
        assert login(client, email).status_code == 401

    assert login(client, email, PASSWORD).status_code == 202
    assert failures(auth_dsn, email) == 0

    fail_ten_times(client, email)
    assert_throttled(login(client, email))


def test_case_and_surrounding_spaces_count_as_one_email(client: FlaskClient) -> None:
    spellings = ["Mixed@Example.com", " mixed@example.COM", "MIXED@EXAMPLE.COM ", "mixed@example.com"]
    for attempt in range(10):
        assert login(client, spellings[attempt % len(spellings)]).status_code == 401

    for spelling in spellings:
        assert_throttled(login(client, spelling))


def test_other_emails_and_the_seed_user_are_not_throttled(client: FlaskClient) -> None:
    fail_ten_times(client, "attacked@example.com")
    assert_throttled(login(client, "attacked@example.com"))

    assert login(client, "bystander@example.com").status_code == 401
    seed = login(client, "admin@example.com", "verysecret")
    assert seed.status_code == 202


def test_failures_are_shared_by_every_worker(make_app: Callable[..., Flask]) -> None:
    """Two apps with their own connection pools stand for two gunicorn workers or two replicas."""
    first, second = make_app().test_client(), make_app().test_client()
    email = "shared@example.com"
    for attempt in range(10):
        assert login((first, second)[attempt % 2], email).status_code == 401

    assert_throttled(login(first, email))
    assert_throttled(login(second, email))


def test_concurrent_attempts_cannot_pass_the_limit(auth_dsn: str, make_app: Callable[..., Flask]) -> None:
    apps = [make_app(), make_app()]
    email = "burst@example.com"
    start = threading.Barrier(20)
    statuses: list[int] = []

    def attempt(app: Flask) -> None:
        client = app.test_client()
        start.wait()
        statuses.append(login(client, email).status_code)

    threads = [threading.Thread(target=attempt, args=(apps[i % 2],)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [401] * 10 + [429] * 10
    assert failures(auth_dsn, email) == 10


def test_an_email_of_any_length_is_counted(client: FlaskClient) -> None:
    email = "x" * 100_000 + "@example.com"
    fail_ten_times(client, email)
    assert_throttled(login(client, email))


def test_expired_failures_are_deleted_in_passing(auth_dsn: str, client: FlaskClient) -> None:
    login(client, "first@example.com")
    with psycopg.connect(auth_dsn) as conn:
        conn.execute(
            "INSERT INTO login_failures (email, failed_at) "
            "SELECT 'old' || n || '@example.com', now() - interval '2 minutes' FROM generate_series(1, 5) n"
        )

    login(client, "second@example.com")

    with psycopg.connect(auth_dsn) as conn:
        left = conn.execute("SELECT email FROM login_failures ORDER BY id").fetchall()
    assert left == [("first@example.com",), ("second@example.com",)]


def test_an_email_with_nul_is_nobody_and_counts_against_the_email_without_it(
    auth_dsn: str, client: FlaskClient
) -> None:
    email = "nul@example.com"
    add_user(auth_dsn, email, PASSWORD)

    with_nul = login(client, email + "\x00", PASSWORD)
    assert (with_nul.status_code, with_nul.get_json()) == (401, INVALID)
    for _ in range(9):
        assert login(client, "\x00" + email).status_code == 401

    assert_throttled(login(client, email, PASSWORD))

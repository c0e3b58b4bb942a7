"""POST /authenticate: the seed user logs in; anything else is 401, 400 or 503 with the contract's message."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from labtest import add_user, free_port

SEED = {"email": "admin@example.com", "password": "verysecret"}
INVALID = {"error": True, "message": "invalid credentials"}
USER_FIELDS = {"id", "email", "first_name", "last_name", "user_active", "created_at", "updated_at"}


def all_users(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT * FROM users ORDER BY id").fetchall()


def test_seed_user_logs_in_without_the_hash_in_the_reply(client: FlaskClient) -> None:
    response = client.post("/authenticate", json=SEED)

    assert response.status_code == 202
    body = response.get_json()
    assert body["error"] is False
    assert body["message"] == "Logged in user admin@example.com"
    user = body["data"]
    assert set(user) == USER_FIELDS
    assert (user["email"], user["first_name"], user["last_name"], user["user_active"]) == (
        "admin@example.com",
        "Admin",
        "User",
        1,
    )
    assert isinstance(user["id"], int)
    assert "password" not in response.text
    assert "$2b$" not in response.text


def test_email_is_compared_case_insensitively(client: FlaskClient) -> None:
    response = client.post("/authenticate", json={"email": " Admin@EXAMPLE.com", "password": "verysecret"})
    assert response.status_code == 202
    assert response.get_json()["data"]["email"] == "admin@example.com"


def test_wrong_password_and_unknown_user_get_the_same_401(client: FlaskClient) -> None:
    wrong = client.post("/authenticate", json={"email": "admin@example.com", "password": "verysecreT"})
    unknown = client.post("/authenticate", json={"email": "nobody@example.com", "password": "verysecret"})

    assert (wrong.status_code, wrong.get_json()) == (401, INVALID)
    assert (unknown.status_code, unknown.get_json()) == (401, INVALID)


def test_inactive_user_is_refused(auth_dsn: str, client: FlaskClient) -> None:
    add_user(auth_dsn, "gone@example.com", "opensesame", active=0)
    add_user(auth_dsn, "here@example.com", "opensesame")

    gone = client.post("/authenticate", json={"email": "gone@example.com", "password": "opensesame"})
    here = client.post("/authenticate", json={"email": "here@example.com", "password": "opensesame"})

    assert (gone.status_code, gone.get_json()) == (401, INVALID)
    assert here.status_code == 202


def test_password_is_not_truncated_at_72_bytes(auth_dsn: str, client: FlaskClient) -> None:
    password = "p" * 72
    add_user(auth_dsn, "long@example.com", password)

    longer = client.post("/authenticate", json={"email": "long@example.com", "password": password + "extra"})
    exact = client.post("/authenticate", json={"email": "long@example.com", "password": password})

    assert (longer.status_code, longer.get_json()) == (401, INVALID)
    assert exact.status_code == 202


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "' OR '1'='1", "password": "' OR '1'='1"},
        {"email": "admin@example.com'--", "password": "x"},
        {"email": "admin@example.com", "password": "' OR ''='"},
        {"email": "x'; DROP TABLE users; --", "password": "x'; DELETE FROM users; --"},
        {"email": "%", "password": "verysecret"},
    ],
)
def test_sql_metacharacters_are_plain_strings(
    auth_dsn: str, client: FlaskClient, credentials: dict[str, str]
) -> None:
    before = all_users(auth_dsn)
    response = client.post("/authenticate", json=credentials)
    assert (response.status_code, response.get_json()) == (401, INVALID)
    assert all_users(auth_dsn) == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "email is required"),
        ({"password": "verysecret"}, "email is required"),
        ({"email": None, "password": "verysecret"}, "email is required"),
        ({"email": "admin@example.com"}, "password is required"),
        ({"email": "", "password": "verysecret"}, "email must not be empty"),
        ({"email": "   ", "password": "verysecret"}, "email must not be empty"),
        ({"email": "admin@example.com", "password": ""}, "password must not be empty"),
        ({"email": 42, "password": "verysecret"}, "email must be a string"),
        ({"email": "admin@example.com", "password": ["verysecret"]}, "password must be a string"),
    ],
)
def test_bad_fields_are_400(client: FlaskClient, body: dict[str, Any], message: str) -> None:
    response = client.post("/authenticate", json=body)
    assert (response.status_code, response.get_json()) == (400, {"error": True, "message": message})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"email=admin@example.com&password=verysecret", "request body must be valid JSON"),
        (b"", "request body must be valid JSON"),
        (b'[{"email": "admin@example.com", "password": "verysecret"}]', "request body must be a JSON object"),
    ],
)
def test_body_that_is_not_one_json_object_is_400(client: FlaskClient, raw: bytes, message: str) -> None:
    response = client.post("/authenticate", data=raw, content_type="application/json")
    assert (response.status_code, response.get_json()) == (400, {"error": True, "message": message})


def test_ready_when_postgres_answers(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["data"]["postgres"] is True


def test_database_down_is_503_not_a_hang(make_app: Callable[..., Flask]) -> None:
    client = make_app(f"postgresql://postgres@127.0.0.1:{free_port()}/users").test_client()

    login = client.post("/authenticate", json=SEED)
    ready = client.get("/readyz")

    assert (login.status_code, login.get_json()) == (
        503,
        {"error": True, "message": "user database is unavailable"},
    )
    assert ready.status_code == 503
    assert ready.get_json()["data"] == {"postgres": False, "outbox": None}
    assert client.get("/healthz").status_code == 200

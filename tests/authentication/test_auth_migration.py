"""The users table migration: idempotent, safe to run from two workers at once, and run once the database
can be reached when it could not be at start."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import psycopg
from flask import Flask

from authentication.db import UserStore
from authentication.passwords import hash_password
from labrun import backing
from labtest import eventually

EXPECTED_COLUMNS = {
    "id": ("integer", "NO"),
    "email": ("character varying", "NO"),
    "first_name": ("character varying", "YES"),
    "last_name": ("character varying", "YES"),
    "password": ("character varying", "NO"),
    "user_active": ("integer", "NO"),
    "created_at": ("timestamp with time zone", "NO"),
    "updated_at": ("timestamp with time zone", "NO"),
}


def users(dsn: str) -> list[tuple[str, str | None, str | None, str, int]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT email, first_name, last_name, password, user_active FROM users ORDER BY id"
        ).fetchall()


def test_migration_is_idempotent(auth_dsn: str, make_app: Callable[..., Flask]) -> None:
    make_app()
    make_app()

    with psycopg.connect(auth_dsn) as conn:
        columns = conn.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_name = 'users'"
        ).fetchall()
    assert {name: (kind, nullable) for name, kind, nullable in columns} == EXPECTED_COLUMNS
    [(email, first_name, last_name, password, active)] = users(auth_dsn)
    assert (email, first_name, last_name, active) == ("admin@example.com", "Admin", "User", 1)
    assert password.startswith("$2b$04$")


def test_two_workers_migrating_at_once_both_succeed(auth_dsn: str) -> None:
    stores = [UserStore(auth_dsn, hash_password("verysecret", 4)) for _ in range(2)]
    start = threading.Barrier(len(stores))
    failures: list[BaseException] = []

    def migrate(store: UserStore) -> None:
        start.wait()
        try:
            store.migrate()
        except Exception as exc:
            failures.append(exc)

    threads = [threading.Thread(target=migrate, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()

    assert failures == []
    assert [row[0] for row in users(auth_dsn)] == ["admin@example.com"]


def test_migrates_once_the_database_appears(pg_dsn: str, make_app: Callable[..., Flask]) -> None:
    name = f"{psycopg.conninfo.conninfo_to_dict(pg_dsn)['dbname']}_late_{uuid.uuid4().hex[:8]}"
    late_dsn = psycopg.conninfo.make_conninfo(pg_dsn, dbname=name)
    client = make_app(late_dsn).test_client()
    credentials = {"email": "admin@example.com", "password": "verysecret"}

    down = client.post("/authenticate", json=credentials)
    assert down.status_code == 503
    assert down.get_json() == {"error": True, "message": "user database is unavailable"}
    assert client.get("/readyz").status_code == 503

    backing.create_database(pg_dsn, name)
    try:
        up = eventually(
            lambda: client.post("/authenticate", json=credentials), lambda r: r.status_code == 202
        )
        assert up.get_json()["message"] == "Logged in user admin@example.com"
        assert client.get("/readyz").get_json()["data"]["postgres"] is True
    finally:
        client.application.extensions["authenticator"].close()
        backing.drop_database(pg_dsn, name)

"""The transactional outbox: a login writes its event in the login's own transaction, and the relay
publishes it to RabbitMQ (confirmed, persistent, routed by level) with the event id it was written with.
Against the run's PostgreSQL and RabbitMQ; what the logger then stores is checked in
tests/faults/test_faults_outbox.py.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pika
import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from authentication.outbox import OutboxRelay, claim
from authentication.service import Authenticator
from labkit.amqp import Publisher
from labkit.validation import ApiError
from labtest import add_user, amqp_tap, eventually

PASSWORD = "opensesame"


def new_user(dsn: str) -> str:
    email = f"outbox-{uuid.uuid4().hex[:10]}@example.com"
    add_user(dsn, email, PASSWORD)
    return email


def login(client: FlaskClient, email: str, request_id: str | None = None) -> int:
    headers = {"X-Request-ID": request_id} if request_id else {}
    response = client.post("/authenticate", json={"email": email, "password": PASSWORD}, headers=headers)
    return response.status_code


def outbox_rows(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()


def unsent(dsn: str) -> int:
    return sum(row["sent_at"] is None for row in outbox_rows(dsn))


def authenticator(app: Flask) -> Authenticator:
    return app.extensions["authenticator"]


@pytest.fixture
def relays(auth_dsn: str, amqp_url: str) -> Iterator[Callable[[Flask], OutboxRelay]]:
    """Relays over the app's pool publishing to the run's RabbitMQ, driven step by step by the test
    itself; the app's own relay thread is stopped first, so only the test's relays publish."""
    publishers: list[Publisher] = []

    def make(app: Flask) -> OutboxRelay:
        authenticator(app).relay.stop()
        publishers.append(Publisher(amqp_url))
        return OutboxRelay(authenticator(app).users, auth_dsn, publishers[-1])

    yield make
    for publisher in publishers:
        publisher.close()


def test_a_login_writes_its_event_to_the_outbox(auth_dsn: str, client: FlaskClient) -> None:
    email = new_user(auth_dsn)

    assert login(client, email, request_id="req-outbox-1") == 202

    [row] = outbox_rows(auth_dsn)
    assert (row["name"], row["data"], row["level"]) == ("authentication", f"{email} logged in", "INFO")
    assert row["request_id"] == "req-outbox-1"
    assert len(row["event_id"]) >= 32
    assert row["sent_at"] is None, "RabbitMQ is unreachable for this app: nothing is sent"


def test_refused_logins_write_no_event(auth_dsn: str, client: FlaskClient) -> None:
    email = new_user(auth_dsn)
    wrong = client.post("/authenticate", json={"email": email, "password": "wrong"})
    unknown = client.post("/authenticate", json={"email": "nobody@example.com", "password": PASSWORD})

    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert outbox_rows(auth_dsn) == []


def test_the_event_and_the_cleared_failures_commit_together(auth_dsn: str, client: FlaskClient) -> None:
    """While the outbox is locked, the login waits with its failures not yet cleared; once it goes on,
    both are done: one transaction, never one without the other."""
    email = new_user(auth_dsn)
    answers: list[int] = []
    with psycopg.connect(auth_dsn) as blocker:
        blocker.execute("LOCK TABLE outbox IN EXCLUSIVE MODE")
        thread = threading.Thread(target=lambda: answers.append(login(client, email)))
        thread.start()
        with psycopg.connect(auth_dsn, autocommit=True) as watcher:
            eventually(
                lambda: watcher.execute(
                    "SELECT count(*) FROM pg_locks WHERE relation = 'outbox'::regclass AND NOT granted"
                ).fetchone()[0],
                lambda waiting: waiting == 1,
            )
            failures = "SELECT count(*) FROM login_failures WHERE email = %s"
            assert watcher.execute(failures, (email,)).fetchone()[0] == 1, "the attempt, not yet cleared"
            blocker.rollback()
            thread.join(10)
            assert answers == [202]
            assert watcher.execute(failures, (email,)).fetchone()[0] == 0
    assert [row["data"] for row in outbox_rows(auth_dsn)] == [f"{email} logged in"]


def test_the_relay_publishes_the_event_as_written_and_marks_it_sent(
    auth_dsn: str, amqp_url: str, make_app: Callable[..., Flask]
) -> None:
    client = make_app(amqp_url=amqp_url).test_client()
    email = new_user(auth_dsn)
    with amqp_tap(amqp_url) as tap:
        started = time.monotonic()
        assert login(client, email, request_id="req-outbox-2") == 202
        [message] = eventually(tap.drain, lambda received: len(received) == 1, timeout=5)
        print(f"login to published: {time.monotonic() - started:.3f} s")

    [row] = eventually(lambda: outbox_rows(auth_dsn), lambda rows: rows[0]["sent_at"] is not None, timeout=5)
    assert message.routing_key == "log.INFO"
    assert message.body == {
        "name": "authentication",
        "data": f"{email} logged in",
        "event_id": row["event_id"],
        "level": "INFO",
        "request_id": "req-outbox-2",
    }
    assert message.properties.delivery_mode == pika.DeliveryMode.Persistent.value
    assert message.properties.message_id == row["event_id"]
    assert message.properties.correlation_id == "req-outbox-2"


def test_a_row_held_by_one_relay_is_skipped_by_another_which_does_not_wait(
    auth_dsn: str, amqp_url: str, client: FlaskClient, relays: Callable[[Flask], OutboxRelay]
) -> None:
    email = new_user(auth_dsn)
    for _ in range(5):
        assert login(client, email) == 202
    relay = relays(client.application)
    with amqp_tap(amqp_url) as tap, psycopg.connect(auth_dsn) as holder:
        [held] = claim(holder, 1)
        started = time.monotonic()
        assert relay.relay_pending() == 4
        assert time.monotonic() - started < 2.0, "the other relay waited for the held row"
        assert held.event_id not in tap.event_ids()
        assert unsent(auth_dsn) == 1
        holder.rollback()
        assert relay.relay_pending() == 1
        assert sorted(tap.event_ids()) == sorted(row["event_id"] for row in outbox_rows(auth_dsn))
    assert unsent(auth_dsn) == 0


def test_while_rabbitmq_is_unreachable_rows_stay_unsent_and_readyz_shows_the_lag(
    auth_dsn: str, client: FlaskClient
) -> None:
    email = new_user(auth_dsn)
    for _ in range(3):
        assert login(client, email) == 202

    with pytest.raises(ApiError) as raised:
        authenticator(client.application).relay.relay_batch()
    ready = client.get("/readyz")

    assert (raised.value.status, raised.value.message) == (503, "message broker is unavailable")
    assert unsent(auth_dsn) == 3
    assert ready.status_code == 200, "readiness is about PostgreSQL; logins work while RabbitMQ is down"
    outbox = ready.get_json()["data"]["outbox"]
    assert outbox["unsent"] == 3
    assert outbox["oldest_unsent_at"] == outbox_rows(auth_dsn)[0]["created_at"].isoformat()
    assert outbox["lag_seconds"] >= 0


def test_readyz_shows_no_lag_once_everything_is_sent(
    auth_dsn: str, amqp_url: str, make_app: Callable[..., Flask]
) -> None:
    client = make_app(amqp_url=amqp_url).test_client()
    assert login(client, new_user(auth_dsn)) == 202
    eventually(lambda: unsent(auth_dsn), lambda count: count == 0, timeout=5)

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["data"] == {
        "postgres": True,
        "outbox": {"unsent": 0, "oldest_unsent_at": None, "lag_seconds": 0.0},
    }


def test_sent_rows_past_the_retention_are_pruned_and_unsent_rows_never(
    auth_dsn: str, client: FlaskClient, relays: Callable[[Flask], OutboxRelay]
) -> None:
    email = new_user(auth_dsn)
    for _ in range(4):
        assert login(client, email) == 202
    old_sent, new_sent, old_unsent, new_unsent = (row["id"] for row in outbox_rows(auth_dsn))
    with psycopg.connect(auth_dsn) as conn:
        conn.execute("UPDATE outbox SET sent_at = now() - interval '2 hours' WHERE id = %s", (old_sent,))
        conn.execute("UPDATE outbox SET sent_at = now() WHERE id = %s", (new_sent,))
        conn.execute("UPDATE outbox SET created_at = now() - interval '2 days' WHERE id = %s", (old_unsent,))

    assert relays(client.application).prune() == 1
    assert [row["id"] for row in outbox_rows(auth_dsn)] == [new_sent, old_unsent, new_unsent]

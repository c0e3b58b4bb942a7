"""No login event lost: the authentication service's outbox under faults, over the private servers.

Each test logs a user of its own in, so its events are told apart by their data ("<email> logged in"),
and checks what a user would: the documents in the logger's collection and the rows of the outbox.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from faultlab import FaultLab, PrivateServers, post
from pymongo.collection import Collection

from authentication.config import MIN_BCRYPT_COST, Config
from authentication.outbox import OutboxRelay
from authentication.service import Authenticator
from labkit.amqp import Publisher
from labrun import backing
from labtest import add_user, amqp_tap, eventually

PASSWORD = "opensesame"
CRASHING_RELAY = Path(__file__).with_name("crashing_relay.py")


def new_user(dsn: str) -> str:
    email = f"outbox-{uuid.uuid4().hex[:10]}@example.com"
    add_user(dsn, email, PASSWORD)
    return email


def login_through_broker(lab: FaultLab, email: str) -> int:
    credentials = {"email": email, "password": PASSWORD}
    return post(lab.broker + "/handle", {"action": "auth", "auth": credentials}).status


def outbox_event_ids(dsn: str, email: str, *, unsent_only: bool = False) -> list[str]:
    """The event ids of the user's outbox rows (only the unsent ones if asked), oldest first."""
    query = "SELECT event_id FROM outbox WHERE data = %s AND (sent_at IS NULL OR NOT %s) ORDER BY id"
    with psycopg.connect(dsn) as conn:
        return [event_id for (event_id,) in conn.execute(query, (f"{email} logged in", unsent_only))]


def assert_each_login_stored_once(logs: Collection, dsn: str, email: str, logins: int) -> None:
    """One document per login, with the event id its outbox row was written with; no row left unsent."""
    query = {"name": "authentication", "data": f"{email} logged in"}
    eventually(lambda: logs.count_documents(query), lambda stored: stored >= logins, timeout=60)
    stored = Counter(doc["event_id"] for doc in logs.find(query, {"event_id": 1}))
    assert sum(stored.values()) == logins, "a login's event is missing or stored twice"
    assert stored == Counter(outbox_event_ids(dsn, email))
    assert outbox_event_ids(dsn, email, unsent_only=True) == []


def test_logins_while_the_logger_is_stopped_are_all_stored_once_it_is_back(
    fault_lab: FaultLab, private_servers: PrivateServers, logs: Collection
) -> None:
    dsn = private_servers.backing.dsn
    email = new_user(dsn)
    with fault_lab.down("logger"):
        statuses = [login_through_broker(fault_lab, email) for _ in range(20)]
        assert statuses == [202] * 20
        eventually(lambda: outbox_event_ids(dsn, email, unsent_only=True), lambda ids: ids == [], timeout=10)
        assert logs.count_documents({"data": f"{email} logged in"}) == 0
    assert_each_login_stored_once(logs, dsn, email, 20)


def test_logins_while_rabbitmq_is_killed_are_all_published_once_it_is_back(
    fault_lab: FaultLab, private_servers: PrivateServers, logs: Collection
) -> None:
    dsn = private_servers.backing.dsn
    email = new_user(dsn)
    with private_servers.rabbitmq.down(crash=True):
        statuses = [login_through_broker(fault_lab, email) for _ in range(20)]
        assert statuses == [202] * 20
        assert len(outbox_event_ids(dsn, email, unsent_only=True)) == 20
        ready = requests.get(fault_lab.url("authentication") + "/readyz", timeout=5)
        assert ready.status_code == 200, "readiness is PostgreSQL's; logins work while RabbitMQ is down"
        assert ready.json()["data"]["outbox"]["unsent"] >= 20
    assert_each_login_stored_once(logs, dsn, email, 20)


@pytest.fixture
def own_outbox(private_servers: PrivateServers) -> Iterator[tuple[str, Authenticator]]:
    """A users database of the test's own on the private PostgreSQL, which the lab's relays never see,
    and an Authenticator over it whose relay thread is not started: the test drives the relays."""
    admin = psycopg.conninfo.make_conninfo(private_servers.backing.dsn, dbname="postgres")
    name = f"outbox_{uuid.uuid4().hex[:8]}"
    dsn = backing.create_database(admin, name)
    config = Config(dsn=dsn, amqp_url=private_servers.backing.amqp_url, bcrypt_cost=MIN_BCRYPT_COST)
    authenticator = Authenticator(config)
    try:
        authenticator.users.migrate()
        yield dsn, authenticator
    finally:
        authenticator.close()
        backing.drop_database(admin, name)


def test_a_relay_killed_after_publishing_but_before_marking_sent_publishes_again_and_it_is_stored_once(
    own_outbox: tuple[str, Authenticator], private_servers: PrivateServers, logs: Collection
) -> None:
    dsn, authenticator = own_outbox
    email = new_user(dsn)
    for _ in range(3):
        authenticator.login(email, PASSWORD)
    written = sorted(outbox_event_ids(dsn, email))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    with amqp_tap(private_servers.backing.amqp_url) as tap:
        crashed = subprocess.run(
            [sys.executable, str(CRASHING_RELAY), dsn, private_servers.backing.amqp_url],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
        assert sorted(crashed.stdout.split()) == written, "it published every row before it died"
        assert sorted(eventually(tap.event_ids, lambda ids: len(ids) == 3)) == written
        assert sorted(outbox_event_ids(dsn, email, unsent_only=True)) == written, "none was marked sent"

        authenticator.relay.start()
        eventually(lambda: outbox_event_ids(dsn, email, unsent_only=True), lambda ids: ids == [], timeout=10)
        assert Counter(eventually(tap.event_ids, lambda ids: len(ids) == 6)) == dict.fromkeys(written, 2)
        # One login more, published after the repeats: once it is stored, the repeats have been consumed.
        authenticator.login(email, PASSWORD)
        assert_each_login_stored_once(logs, dsn, email, 4)


def test_two_relays_at_once_over_200_logins_publish_and_store_each_event_once(
    own_outbox: tuple[str, Authenticator], private_servers: PrivateServers, logs: Collection
) -> None:
    dsn, authenticator = own_outbox
    email = new_user(dsn)
    for _ in range(200):
        authenticator.login(email, PASSWORD)
    amqp_url = private_servers.backing.amqp_url
    publishers = [Publisher(amqp_url), Publisher(amqp_url)]
    relays = [OutboxRelay(authenticator.users, dsn, publisher, batch_size=10) for publisher in publishers]
    start = threading.Barrier(len(relays))
    counts: dict[int, int] = {}

    def run(index: int) -> None:
        start.wait()
        try:
            counts[index] = relays[index].relay_pending()
        finally:
            publishers[index].close()

    with amqp_tap(amqp_url) as tap:
        threads = [threading.Thread(target=run, args=(index,)) for index in range(len(relays))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        published = eventually(tap.event_ids, lambda ids: len(ids) >= 200)

    assert sum(counts.values()) == 200 and min(counts.values()) > 0, counts
    assert sorted(published) == sorted(outbox_event_ids(dsn, email)), "each event published exactly once"
    assert_each_login_stored_once(logs, dsn, email, 200)

"""Fixtures for the authentication service's tests: a fresh users database per test and apps over it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient

from authentication import create_app
from authentication.config import Config
from labrun import backing
from labtest import free_port

TEST_BCRYPT_COST = 4


@pytest.fixture
def auth_dsn(pg_dsn: str) -> Iterator[str]:
    """A database of this test's own on the run's PostgreSQL server, dropped afterwards."""
    name = f"{psycopg.conninfo.conninfo_to_dict(pg_dsn)['dbname']}_auth_{uuid.uuid4().hex[:8]}"
    dsn = backing.create_database(pg_dsn, name)
    try:
        yield dsn
    finally:
        backing.drop_database(pg_dsn, name)


@pytest.fixture
def closed_amqp_url() -> str:
    """An AMQP URL where nothing listens: an outbox relay using it publishes nothing."""
    return f"amqp://guest:guest@127.0.0.1:{free_port()}/"


@pytest.fixture
def make_app(auth_dsn: str, closed_amqp_url: str) -> Iterator[Callable[..., Flask]]:
    """Build apps over auth_dsn (or the given DSN) and, unless an AMQP URL is given, RabbitMQ on a closed
    port, so their outbox relays publish nothing and every login's event stays in the outbox. Each app's
    relay thread runs until the app's authenticator is closed, afterwards at the latest."""
    apps: list[Flask] = []

    def make(dsn: str | None = None, amqp_url: str | None = None) -> Flask:
        config = Config(
            dsn=dsn or auth_dsn,
            amqp_url=amqp_url or closed_amqp_url,
            bcrypt_cost=TEST_BCRYPT_COST,
        )
        app = create_app(config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["authenticator"].close()


@pytest.fixture
def client(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app().test_client()

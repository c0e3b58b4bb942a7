"""The service's tables in PostgreSQL: one connection pool per process, the migration and the user lookup."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

from labkit.validation import ApiError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 2
POOL_TIMEOUT_SECONDS = 3.0
PING_TIMEOUT_SECONDS = 1.0
# Stop backing off after this long so a request soon starts a fresh connection attempt again.
RECONNECT_TIMEOUT_SECONDS = 10.0
POOL_MAX_SIZE = 8

# Held for the migration's transaction, so workers starting together create the table one at a time.
MIGRATION_LOCK_KEY = 8082_0001

SEED_EMAIL = "admin@example.com"
SEED_PASSWORD = "verysecret"  # noqa: S105 - the lab's documented seed user
SEED_FIRST_NAME = "Admin"
SEED_LAST_NAME = "User"

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS users (
    id serial PRIMARY KEY,
    email varchar(255) UNIQUE NOT NULL,
    first_name varchar(255),
    last_name varchar(255),
    password varchar(60) NOT NULL,
    user_active integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""
CREATE_EMAIL_INDEX = "CREATE INDEX IF NOT EXISTS users_email_lower_idx ON users (lower(email))"
INSERT_SEED = """
INSERT INTO users (email, first_name, last_name, password) VALUES (%s, %s, %s, %s)
ON CONFLICT (email) DO NOTHING
"""
# Failed logins, counted per lower(email) by authentication.throttle. A hash index has no key-size limit,
# so an email of any length is counted like any other.
CREATE_FAILURES_TABLE = """
CREATE TABLE IF NOT EXISTS login_failures (
    id bigserial PRIMARY KEY,
    email text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
)
"""
CREATE_FAILURES_EMAIL_INDEX = (
    "CREATE INDEX IF NOT EXISTS login_failures_email_idx ON login_failures USING hash (email)"
)
CREATE_FAILURES_TIME_INDEX = (
    "CREATE INDEX IF NOT EXISTS login_failures_failed_at_idx ON login_failures (failed_at)"
)
# Login events waiting for the relay (authentication.outbox); sent_at is set once RabbitMQ confirmed one.
# The partial indexes keep claiming and measuring the unsent rows, and pruning the sent ones, cheap however
# many rows the table holds.
CREATE_OUTBOX_TABLE = """
CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY,
    event_id text UNIQUE NOT NULL,
    name text NOT NULL,
    data text NOT NULL,
    level text NOT NULL,
    request_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
)
"""
CREATE_OUTBOX_UNSENT_INDEX = (
    "CREATE INDEX IF NOT EXISTS outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL"
)
CREATE_OUTBOX_SENT_INDEX = (
    "CREATE INDEX IF NOT EXISTS outbox_sent_at_idx ON outbox (sent_at) WHERE sent_at IS NOT NULL"
)
SELECT_BY_EMAIL = """
SELECT id, email, first_name, last_name, password, user_active, created_at, updated_at
FROM users WHERE lower(email) = lower(%s) ORDER BY id LIMIT 1
"""


class DatabaseUnavailable(ApiError):
    def __init__(self) -> None:
        super().__init__(503, "user database is unavailable")


@dataclass(frozen=True)
class User:
    id: int
    email: str
    first_name: str | None
    last_name: str | None
    password: str = field(repr=False)
    user_active: int
    created_at: datetime
    updated_at: datetime

    @property
    def active(self) -> bool:
        return self.user_active != 0

    def public(self) -> dict[str, Any]:
        """The user as clients see it: every column but the password hash."""
        return {
            "id": self.id,
            "email": self.email,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "user_active": self.user_active,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


class UserStore:
    """Users, failed logins and the outbox in PostgreSQL. The migration runs before the first query and
    again after it failed."""

    def __init__(self, dsn: str, seed_password_hash: str) -> None:
        self._seed_password_hash = seed_password_hash
        self._migrated = False
        self._migration_lock = threading.Lock()
        self._pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=POOL_MAX_SIZE,
            kwargs={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
            timeout=POOL_TIMEOUT_SECONDS,
            reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
            check=ConnectionPool.check_connection,
            name="users",
            open=False,
        )
        self._pool.open(wait=False)

    def migrate(self, timeout: float = POOL_TIMEOUT_SECONDS) -> None:
        if self._migrated:
            return
        with self._migration_lock:
            if self._migrated:
                return
            with self._connection(timeout) as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
                conn.execute(CREATE_TABLE)
                conn.execute(CREATE_EMAIL_INDEX)
                conn.execute(
                    INSERT_SEED, (SEED_EMAIL, SEED_FIRST_NAME, SEED_LAST_NAME, self._seed_password_hash)
                )
                conn.execute(CREATE_FAILURES_TABLE)
                conn.execute(CREATE_FAILURES_EMAIL_INDEX)
                conn.execute(CREATE_FAILURES_TIME_INDEX)
                conn.execute(CREATE_OUTBOX_TABLE)
                conn.execute(CREATE_OUTBOX_UNSENT_INDEX)
                conn.execute(CREATE_OUTBOX_SENT_INDEX)
            self._migrated = True
            log.info("users, login_failures and outbox tables migrated")

    def find_by_email(self, email: str) -> User | None:
        """The user with this email, compared case-insensitively. PostgreSQL text cannot hold a NUL
        character, so an email with one is nobody's."""
        if "\x00" in email:
            return None
        with self.transaction() as conn, conn.cursor(row_factory=class_row(User)) as cursor:
            return cursor.execute(SELECT_BY_EMAIL, (email,)).fetchone()

    def ping(self) -> bool:
        """Readiness: the table is in place and PostgreSQL answers, within about a second."""
        try:
            self.migrate(PING_TIMEOUT_SECONDS)
            with self._connection(PING_TIMEOUT_SECONDS) as conn:
                conn.execute("SELECT 1")
        except DatabaseUnavailable:
            return False
        return True

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in a transaction, once the tables are in place; 503 when unreachable."""
        self.migrate()
        with self._connection() as conn:
            yield conn

    @contextmanager
    def _connection(self, timeout: float = POOL_TIMEOUT_SECONDS) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in a transaction; an unreachable database is a 503."""
        try:
            with self._pool.connection(timeout) as conn:
                yield conn
        except psycopg.OperationalError as exc:
            log.warning("user database is unavailable: %s", exc)
            raise DatabaseUnavailable() from None

"""The transactional outbox: a login's event is a row written in the login's own transaction, and a relay
publishes the rows to RabbitMQ afterwards, so no login waits for RabbitMQ or the logger and no event is lost.

The relay runs as a thread in each gunicorn worker. Each batch is one transaction: claim the oldest unsent
rows (FOR UPDATE SKIP LOCKED, so parallel relays take different rows and never wait on each other),
publish each with a publisher confirm, mark the confirmed ones sent, commit. A relay that dies between
the confirm and the commit leaves its rows unsent and the next relay publishes them again with the same
event id: publishing is at-least-once, and the logger stores an event id once.

A login's transaction NOTIFYs the relays, so an event is published within milliseconds; every relay also
sweeps once a SWEEP_SECONDS in case it missed a notification. While RabbitMQ is down it backs off and
retries; rows wait. Sent rows are deleted once they are RETENTION_SECONDS old.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from typing import Any

import psycopg

from authentication.db import CONNECT_TIMEOUT_SECONDS, UserStore
from authentication.metrics import PUBLISHED
from labkit.amqp import Publisher
from labkit.events import LogEvent
from labkit.validation import ApiError

log = logging.getLogger(__name__)

CHANNEL = "outbox"
BATCH_SIZE = 100
SWEEP_SECONDS = 1.0
RETRY_FIRST_SECONDS, RETRY_LIMIT_SECONDS = 0.5, 5.0
RETENTION_SECONDS = 3600
PRUNE_EVERY_SECONDS = 60.0
PRUNE_BATCH = 1000
STOP_SECONDS = 10.0

INSERT = """
INSERT INTO outbox (event_id, name, data, level, request_id) VALUES (%s, %s, %s, %s, %s)
"""
NOTIFY = f"NOTIFY {CHANNEL}"
CLAIM = """
SELECT event_id, name, data, level, request_id FROM outbox
WHERE sent_at IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
"""
MARK_SENT = "UPDATE outbox SET sent_at = now() WHERE event_id = ANY(%s)"
PRUNE = """
DELETE FROM outbox WHERE id IN (
    SELECT id FROM outbox WHERE sent_at < now() - make_interval(secs => %s)
    LIMIT %s FOR UPDATE SKIP LOCKED
)
"""
LAG = """
SELECT count(*), min(created_at), coalesce(extract(epoch FROM now() - min(created_at)), 0)
FROM outbox WHERE sent_at IS NULL
"""


def record(conn: psycopg.Connection[Any], event: LogEvent) -> None:
    """Write the event in the caller's transaction; the relays are woken when it commits."""
    conn.execute(INSERT, (event.event_id, event.name, event.data, event.level, event.request_id))
    conn.execute(NOTIFY)


def claim(conn: psycopg.Connection[Any], limit: int) -> list[LogEvent]:
    """The oldest unsent events no other transaction holds, locked until this transaction ends."""
    rows = conn.execute(CLAIM, (limit,)).fetchall()
    return [
        LogEvent(name=name, data=data, event_id=event_id, level=level, request_id=request_id)
        for event_id, name, data, level, request_id in rows
    ]


def mark_sent(conn: psycopg.Connection[Any], event_ids: list[str]) -> None:
    conn.execute(MARK_SENT, (event_ids,))


class OutboxRelay:
    """Publishes the outbox's rows to RabbitMQ from a thread of its own (start(), stop()); its steps
    (relay_batch: claim, publish, mark_sent) are separate so that each can be run and observed on its own."""

    def __init__(
        self,
        users: UserStore,
        dsn: str,
        publisher: Publisher,
        *,
        batch_size: int = BATCH_SIZE,
        retention_seconds: float = RETENTION_SECONDS,
    ) -> None:
        self._users = users
        self._dsn = dsn
        self._publisher = publisher
        self._batch_size = batch_size
        self._retention_seconds = retention_seconds
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_read = self._wake_write = -1

    def relay_batch(self) -> int:
        """Publish one batch in one transaction and return how many rows it published. The rows
        confirmed before a failure are marked sent, then the failure (503) is raised."""
        with self._users.transaction() as conn:
            events = claim(conn, self._batch_size)
            published, failure = self.publish(events)
            if published:
                mark_sent(conn, published)
        PUBLISHED.inc(len(published))
        if failure is not None:
            raise failure
        return len(published)

    def publish(self, events: list[LogEvent]) -> tuple[list[str], ApiError | None]:
        """Publish the events in order, each confirmed by RabbitMQ, until one fails: the event ids
        confirmed, and the failure if there was one."""
        published: list[str] = []
        for event in events:
            try:
                self._publisher.publish(event)
            except ApiError as exc:
                return published, exc
            published.append(event.event_id)
        return published, None

    def relay_pending(self) -> int:
        """Publish batches until a batch comes back short: what was unsent is published."""
        total = 0
        while not self._stopping.is_set():
            published = self.relay_batch()
            total += published
            if published < self._batch_size:
                break
        return total

    def prune(self) -> int:
        """Delete sent rows older than the retention period (one batch); the number deleted."""
        with self._users.transaction() as conn:
            return conn.execute(PRUNE, (self._retention_seconds, PRUNE_BATCH)).rowcount

    def lag(self) -> dict[str, Any]:
        """How far the relays are behind: the unsent rows, the oldest one's creation time and age."""
        with self._users.transaction() as conn:
            row = conn.execute(LAG).fetchone()
        unsent, oldest, age = row or (0, None, 0)
        return {
            "unsent": unsent,
            "oldest_unsent_at": oldest.isoformat() if oldest else None,
            "lag_seconds": round(float(age), 3),
        }

    def start(self) -> None:
        """Relay in a thread of its own until stop()."""
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread after its current batch, waking it from any wait; later calls do nothing."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread is None:
            return
        os.write(self._wake_write, b"x")
        self._thread.join(STOP_SECONDS)
        if not self._thread.is_alive():
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _run(self) -> None:
        """Relay until stop(): on each notification, and at least once a SWEEP_SECONDS; back off on
        failure (PostgreSQL or RabbitMQ down) and retry, never dropping a row."""
        failures = 0
        next_prune = time.monotonic()
        try:
            while not self._stopping.is_set():
                try:
                    with psycopg.connect(
                        self._dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
                    ) as listener:
                        listener.execute(f"LISTEN {CHANNEL}")
                        while not self._stopping.is_set():
                            self.relay_pending()
                            if failures:
                                log.info("outbox relay resumed")
                                failures = 0
                            if time.monotonic() >= next_prune:
                                self.prune()
                                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                            self._wait(SWEEP_SECONDS, listener)
                except ApiError as exc:
                    log.warning("outbox relay paused: %s", exc.message)
                except psycopg.Error as exc:
                    log.warning("outbox relay paused: PostgreSQL failed: %s", type(exc).__name__)
                except Exception:
                    log.exception("outbox relay failed")
                delay = min(RETRY_LIMIT_SECONDS, RETRY_FIRST_SECONDS * 2**failures)
                failures += 1
                self._wait(delay)
        finally:
            self._publisher.close()

    def _wait(self, seconds: float, listener: psycopg.Connection[Any] | None = None) -> None:
        """Sleep until stop(), a notification on the listener, or the time is up."""
        watched = [self._wake_read] if listener is None else [self._wake_read, listener.fileno()]
        readable, _, _ = select.select(watched, [], [], seconds)
        if listener is not None and listener.fileno() in readable:
            for _ in listener.notifies(timeout=0):
                pass

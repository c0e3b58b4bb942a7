"""labkit.amqp.Publisher against the real RabbitMQ: idle connections stay alive, a lost one is found
by the keeper before a publish needs it, and every confirmed event is in the queue once."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import pika
import pytest

from labkit import amqp
from labkit.events import LogEvent
from labrun import backing
from labtest import eventually

HEARTBEAT_S = 2


@pytest.fixture
def vhost_url(amqp_url: str) -> Iterator[str]:
    """A vhost of this test's own, so the lab's listener does not consume what it publishes."""
    name = f"{unquote(urlsplit(amqp_url).path[1:])}_publisher_{uuid.uuid4().hex[:6]}"
    backing.create_vhost(name)
    try:
        yield backing.with_vhost(amqp_url, name)
    finally:
        backing.delete_vhost(name)


def queued(url: str) -> list[str]:
    """The event ids waiting in the lab's queue, taken off it."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        ids = []
        while (message := channel.basic_get(amqp.QUEUE, auto_ack=True))[0] is not None:
            ids.append(message[1].message_id)
        return ids
    finally:
        connection.close()


def connections(url: str) -> list[str]:
    """The pids RabbitMQ gives the open connections to this vhost."""
    vhost = unquote(urlsplit(url).path[1:])
    out = backing.rabbitmqctl("list_connections", "-q", "--no-table-headers", "vhost", "pid")
    return [
        pid for line in out.splitlines() if (fields := line.split("\t"))[0] == vhost for pid in fields[1:]
    ]


def event(n: int) -> LogEvent:
    return LogEvent("publisher", str(n), f"publisher-{uuid.uuid4().hex}-{n}")


def test_an_idle_connection_outlives_its_heartbeat_and_a_lost_one_is_replaced_before_use(
    vhost_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="labkit.amqp")
    publisher = amqp.Publisher(vhost_url, heartbeat=HEARTBEAT_S)
    sent = [event(1)]
    try:
        publisher.publish(sent[0])
        (first,) = connections(vhost_url)

        # Idle for three heartbeats: RabbitMQ closes a connection that misses two.
        time.sleep(3 * HEARTBEAT_S)
        sent.append(event(2))
        publisher.publish(sent[1])
        assert connections(vhost_url) == [first], "the idle connection was kept"

        # RabbitMQ drops it: the keeper notices while it is idle, so the next publish opens a new one
        # at once instead of failing on the dead one first.
        backing.rabbitmqctl("close_connection", first, "test: dropped while idle")
        eventually(
            lambda: [r.getMessage() for r in caplog.records], lambda m: any("was lost" in x for x in m)
        )
        sent.append(event(3))
        publisher.publish(sent[2])
        assert len(connections(vhost_url)) == 1
        assert connections(vhost_url) != [first]
    finally:
        publisher.close()
    messages = [record.getMessage() for record in caplog.records]
    assert not any("publishing found its AMQP connection lost" in m for m in messages), messages
    assert queued(vhost_url) == [e.event_id for e in sent]

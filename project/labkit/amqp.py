"""The RabbitMQ topology the broker publishes to and the listener consumes from, and the confirming
publisher every producer of log events uses.

Both sides declare the topology (declarations are idempotent), so a message published before the
listener ever ran still lands in the durable queue instead of being dropped by an exchange with no binding.
"""

from __future__ import annotations

import logging
import threading
import time

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from labkit.events import LEVELS, LogEvent
from labkit.validation import ApiError

# AMQP_URL's native default: RabbitMQ's built-in guest user, which RabbitMQ admits only from localhost.
# Compose, Kubernetes and the tests set AMQP_URL.
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/"
EXCHANGE = "logs_topic"
QUEUE = "logs"
DEAD_LETTER_EXCHANGE = "logs_dead_letter"
DEAD_LETTER_QUEUE = "logs_dead_letter"
UNAVAILABLE = "message broker is unavailable"
# When the message was published, in milliseconds since the epoch: the listener's publish-to-stored time.
PUBLISHED_AT = "x-published-at-ms"

log = logging.getLogger(__name__)


def routing_key(level: str) -> str:
    return f"log.{level}"


ROUTING_KEYS = tuple(routing_key(level) for level in LEVELS)


def published_at(headers: dict | None) -> float | None:
    """When a message was published (seconds since the epoch), from its PUBLISHED_AT header, if any."""
    stamp = (headers or {}).get(PUBLISHED_AT)
    return stamp / 1000 if isinstance(stamp, int) and not isinstance(stamp, bool) else None


def parameters(url: str, *, heartbeat: int = 30, timeout: float = 5.0) -> pika.URLParameters:
    """Connection parameters that fail fast: one attempt, bounded socket and handshake time."""
    params = pika.URLParameters(url)
    params.heartbeat = heartbeat
    params.socket_timeout = timeout
    params.stack_timeout = timeout
    params.blocked_connection_timeout = timeout
    params.connection_attempts = 1
    params.retry_delay = 0
    return params


def declare_topology(channel: BlockingChannel) -> None:
    channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
    channel.exchange_declare(DEAD_LETTER_EXCHANGE, exchange_type="fanout", durable=True)
    channel.queue_declare(DEAD_LETTER_QUEUE, durable=True)
    channel.queue_bind(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE)
    channel.queue_declare(QUEUE, durable=True, arguments={"x-dead-letter-exchange": DEAD_LETTER_EXCHANGE})
    for key in ROUTING_KEYS:
        channel.queue_bind(QUEUE, EXCHANGE, routing_key=key)


class _Link:
    """One thread's connection and channel, and the lock that keeps its thread and the keeper apart."""

    def __init__(self, connection: pika.BlockingConnection, channel: BlockingChannel) -> None:
        self.connection = connection
        self.channel = channel
        self.lock = threading.Lock()

    def close(self) -> None:
        if self.connection.is_open:
            try:
                self.connection.close()
            except pika.exceptions.AMQPError:
                log.debug("closing a broken AMQP connection failed", exc_info=True)


class Publisher:
    """Publishes log events as persistent messages with publisher confirms, routed by level: publish()
    returns only once RabbitMQ has confirmed, and raises ApiError 503 otherwise.

    One connection per thread (pika is not thread-safe), opened on first use. A blocking connection only
    answers heartbeats while its thread uses it, so a keeper thread serves the idle ones every third of
    the heartbeat, each under its own lock: an idle connection stays alive, and one that died (RabbitMQ
    restarted) is dropped by the keeper before a request finds it broken. A publish on a connection that
    still fails reconnects once.
    """

    def __init__(self, amqp_url: str, *, heartbeat: int = 60) -> None:
        self.params = parameters(amqp_url, heartbeat=heartbeat)
        self.local = threading.local()
        self._links: set[_Link] = set()
        self._links_lock = threading.Lock()
        self._keeper: threading.Thread | None = None

    def _link(self) -> _Link:
        link: _Link | None = getattr(self.local, "link", None)
        if link is not None and link.channel.is_open:
            return link
        self._drop()
        try:
            connection = pika.BlockingConnection(self.params)
            channel = connection.channel()
            channel.confirm_delivery()
            declare_topology(channel)
        except pika.exceptions.AMQPError:
            raise ApiError(503, UNAVAILABLE) from None
        link = self.local.link = _Link(connection, channel)
        with self._links_lock:
            self._links.add(link)
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keep_alive, name="amqp-keeper", daemon=True)
                self._keeper.start()
        return link

    def _drop(self, link: _Link | None = None) -> None:
        """Forget and close a link: this thread's when none is named."""
        if link is None:
            link = getattr(self.local, "link", None)
            self.local.link = None
        if link is None:
            return
        with self._links_lock:
            self._links.discard(link)
        link.close()

    def _keep_alive(self) -> None:
        """Serve the idle connections until none is left (the next one starts a new keeper)."""
        interval = max(self.params.heartbeat or 0, 3) / 3
        while True:
            time.sleep(interval)
            with self._links_lock:
                links = list(self._links)
                if not links:
                    self._keeper = None
                    return
            for link in links:
                if not link.lock.acquire(blocking=False):
                    continue  # in use: its own thread is serving it
                try:
                    link.connection.process_data_events(time_limit=0)
                except pika.exceptions.AMQPError:
                    log.info("an idle AMQP connection was lost; the next publish opens a new one")
                    with self._links_lock:
                        self._links.discard(link)
                    link.close()
                finally:
                    link.lock.release()

    def publish(self, event: LogEvent) -> None:
        body = event.to_json()
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=event.event_id,
            correlation_id=event.request_id,
            headers={PUBLISHED_AT: round(time.time() * 1000)},
        )
        # A connection can still die between the keeper's visits: reconnect once and publish again. The
        # event id makes a repeat harmless; the logger stores an event once.
        for attempt in (1, 2):
            link = self._link()
            try:
                with link.lock:
                    link.channel.basic_publish(
                        EXCHANGE, routing_key(event.level), body, properties, mandatory=True
                    )
                return
            except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
                raise ApiError(503, "message broker did not accept the event") from None
            except pika.exceptions.AMQPError:
                log.info("publishing found its AMQP connection lost; reconnecting (attempt %d)", attempt)
                self._drop()
                if attempt == 2:
                    raise ApiError(503, UNAVAILABLE) from None

    def close(self) -> None:
        """Close this thread's connection."""
        self._drop()

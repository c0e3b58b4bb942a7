"""The RabbitMQ topology the broker publishes to and the listener consumes from, and the confirming
publisher every producer of log events uses.

Both sides declare the topology (declarations are idempotent), so a message published before the
listener ever ran still lands in the durable queue instead of being dropped by an exchange with no binding.
"""

from __future__ import annotations

import logging
import threading

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from labkit.events import LEVELS, LogEvent
from labkit.validation import ApiError

EXCHANGE = "logs_topic"
QUEUE = "logs"
DEAD_LETTER_EXCHANGE = "logs_dead_letter"
DEAD_LETTER_QUEUE = "logs_dead_letter"
UNAVAILABLE = "message broker is unavailable"

log = logging.getLogger(__name__)


def routing_key(level: str) -> str:
    return f"log.{level}"


ROUTING_KEYS = tuple(routing_key(level) for level in LEVELS)


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


class Publisher:
    """Publishes log events as persistent messages with publisher confirms, routed by level: publish()
    returns only once RabbitMQ has confirmed, and raises ApiError 503 otherwise. One connection per
    thread (pika is not thread-safe), opened on first use and reopened when found broken."""

    def __init__(self, amqp_url: str, *, heartbeat: int = 60) -> None:
        self.params = parameters(amqp_url, heartbeat=heartbeat)
        self.local = threading.local()

    def _channel(self) -> BlockingChannel:
        channel = getattr(self.local, "channel", None)
        if channel is not None and channel.is_open:
            return channel
        self._drop()
        try:
            self.local.connection = pika.BlockingConnection(self.params)
            channel = self.local.connection.channel()
            channel.confirm_delivery()
            declare_topology(channel)
        except pika.exceptions.AMQPError:
            self._drop()
            raise ApiError(503, UNAVAILABLE) from None
        self.local.channel = channel
        return channel

    def _drop(self) -> None:
        connection = getattr(self.local, "connection", None)
        self.local.connection = self.local.channel = None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except pika.exceptions.AMQPError:
                log.debug("closing a broken AMQP connection failed", exc_info=True)

    def publish(self, event: LogEvent) -> None:
        body = event.to_json()
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            message_id=event.event_id,
            correlation_id=event.request_id,
        )
        # A connection idle past its heartbeat is found dead only when used: reconnect once and
        # publish again. The event id makes a repeat harmless; the logger stores an event once.
        for attempt in (1, 2):
            channel = self._channel()
            try:
                channel.basic_publish(EXCHANGE, routing_key(event.level), body, properties, mandatory=True)
                return
            except (pika.exceptions.UnroutableError, pika.exceptions.NackError):
                raise ApiError(503, "message broker did not accept the event") from None
            except pika.exceptions.AMQPError:
                self._drop()
                if attempt == 2:
                    raise ApiError(503, UNAVAILABLE) from None

    def close(self) -> None:
        """Close this thread's connection."""
        self._drop()

"""The RabbitMQ topology the broker publishes to and the listener consumes from.

Both sides declare it (declarations are idempotent), so a message published before the listener
ever ran still lands in the durable queue instead of being dropped by an exchange with no binding.
"""

from __future__ import annotations

import pika
from pika.adapters.blocking_connection import BlockingChannel

EXCHANGE = "logs_topic"
SEVERITIES = ("INFO", "WARNING", "ERROR")
ROUTING_KEYS = tuple(f"log.{severity}" for severity in SEVERITIES)
QUEUE = "logs"
DEAD_LETTER_EXCHANGE = "logs_dead_letter"
DEAD_LETTER_QUEUE = "logs_dead_letter"


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

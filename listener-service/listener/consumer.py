"""The consumer: one BlockingConnection, owned by the thread that calls run(), reconnecting with backoff.

Messages are stored in batches: whatever arrives within BATCH_LINGER_S of the first (up to BATCH_MAX)
goes to the logger in as few POST /log/batch requests as the 1 MiB request limit allows, each acked only
once the logger answered 202. A message that is not a valid log event (labkit.events, the rules the
logger applies too) is rejected without requeue on its own, so RabbitMQ moves it to the dead-letter
queue and the rest of its batch is stored. Should the logger still refuse a batch (only a logger of
another version could), its messages are tried one by one. Anything else holds the batch unacked and
retries it, in order.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

from labkit import amqp
from labkit.events import batch_bodies
from labkit.httpclient import Downstream
from labkit.logs import request_id_var
from labkit.validation import ApiError
from listener import metrics
from listener.config import Config
from listener.policy import TRANSPORT, Action, Backoff, DeadLetter, Store, action_for, decide

log = logging.getLogger("listener.consumer")

CONNECTION_NAME = "listener"
RECONNECT_FIRST, RECONNECT_LIMIT = 0.5, 15.0
RETRY_FIRST, RETRY_LIMIT = 0.5, 10.0
POLL_SECONDS = 0.5
BATCH_MAX = 100
# How long a batch waits for more events after its first: a little delivery latency for far fewer writes.
BATCH_LINGER_S = 0.02


JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Delivery:
    tag: int
    decision: Store
    published_at: float | None


class Listener:
    def __init__(self, config: Config) -> None:
        self.config = config
        # The logger stores an event id once: a repeated POST /log/batch is safe to retry.
        self.logger = Downstream(
            "logger", config.logger_url, connect_timeout=2.0, read_timeout=5.0, idempotent_posts=True
        )
        self._stopping = threading.Event()
        self._consuming = threading.Event()

    def ready(self) -> dict[str, bool]:
        return {"rabbitmq": self._consuming.is_set()}

    def stop(self) -> None:
        """Ask run() to return; safe from any thread. The message in hand is finished or left unacked."""
        self._stopping.set()

    def run(self) -> None:
        """Consume until stop(); a refused or lost connection is retried, never fatal."""
        backoff = Backoff(RECONNECT_FIRST, RECONNECT_LIMIT)
        while not self._stopping.is_set():
            try:
                self._consume(backoff)
            except pika.exceptions.AMQPError as exc:
                log.warning("rabbitmq connection failed or lost: %s %s", type(exc).__name__, exc)
            except Exception:
                log.exception("consumer failed")
            if self._stopping.is_set():
                break
            delay = backoff.next()
            metrics.RECONNECTS.inc()
            log.info("reconnecting to rabbitmq in %.1fs", delay)
            self._stopping.wait(delay)
        self.logger.close()
        log.info("consumer stopped")

    def _consume(self, backoff: Backoff) -> None:
        params = amqp.parameters(self.config.amqp_url)
        params.client_properties = {"connection_name": CONNECTION_NAME}
        connection = pika.BlockingConnection(params)
        arrived: list[tuple[int, BasicProperties, bytes]] = []

        def on_message(
            _channel: BlockingChannel, method: Basic.Deliver, properties: BasicProperties, body: bytes
        ) -> None:
            arrived.append((method.delivery_tag, properties, body))
            metrics.received(bool(method.redelivered))

        try:
            channel = connection.channel()
            amqp.declare_topology(channel)
            channel.basic_qos(prefetch_count=self.config.prefetch)
            tag = channel.basic_consume(amqp.QUEUE, on_message, auto_ack=False)
            self._consuming.set()
            backoff.reset()
            log.info("consuming from queue %s", amqp.QUEUE)
            while not self._stopping.is_set():
                connection.process_data_events(time_limit=POLL_SECONDS)
                while arrived and not self._stopping.is_set():
                    self._gather(connection, arrived)
                    batch, arrived[:] = arrived[:BATCH_MAX], arrived[BATCH_MAX:]
                    self._store_batch(connection, channel, batch)
            channel.basic_cancel(tag)
        finally:
            self._consuming.clear()
            if connection.is_open:
                try:
                    connection.close()
                except pika.exceptions.AMQPError:
                    log.info("rabbitmq connection was already closing")

    def _gather(self, connection: pika.BlockingConnection, arrived: list[Any]) -> None:
        """Take in what arrives within BATCH_LINGER_S of the batch's first message, then what else is
        already there, up to BATCH_MAX. A queue with a backlog fills a batch at once; under a steady
        flow the short wait turns many one-event writes into one."""
        deadline = time.monotonic() + BATCH_LINGER_S
        while len(arrived) < BATCH_MAX and (left := deadline - time.monotonic()) > 0:
            connection.process_data_events(time_limit=left)
        before = 0
        while len(arrived) != before and len(arrived) < BATCH_MAX:
            before = len(arrived)
            connection.process_data_events(time_limit=0)

    def _store_batch(
        self,
        connection: pika.BlockingConnection,
        channel: BlockingChannel,
        batch: list[tuple[int, BasicProperties, bytes]],
    ) -> None:
        """Dead-letter what can never be stored, then store the rest in as few requests as the request
        limit allows, acking each request's events once it is stored."""
        deliveries = []
        for delivery_tag, properties, body in batch:
            decision = decide(body, properties)
            if isinstance(decision, DeadLetter):
                log.warning(
                    "dead-lettering message: %s",
                    decision.reason,
                    extra={"request_id": properties.correlation_id},
                )
                channel.basic_reject(delivery_tag, requeue=False)
                metrics.dead_lettered()
                continue
            if decision.event_id_source != "body":
                event = decision.event
                log.info(
                    "message has no event_id; using %s id %s",
                    decision.event_id_source,
                    event.event_id,
                    extra={"request_id": event.request_id},
                )
            deliveries.append(Delivery(delivery_tag, decision, amqp.published_at(properties.headers)))
        events = [d.decision.event for d in deliveries]
        for count, body in batch_bodies(events, TRANSPORT):
            part, deliveries = deliveries[:count], deliveries[count:]
            if not self._store_part(connection, channel, part, body):
                return

    def _store_part(
        self, connection: pika.BlockingConnection, channel: BlockingChannel, part: list[Delivery], body: str
    ) -> bool:
        """Store one batch request's events and ack them; False when a stop left them unacked."""
        action, message = self._until_settled(connection, "/log/batch", body, f"{len(part)} events")
        if action is Action.ACK:
            # Every earlier delivery is settled already, so one ack covers the whole part.
            channel.basic_ack(part[-1].tag, multiple=True)
            metrics.BATCH_EVENTS.observe(len(part))
            metrics.acked([d.published_at for d in part])
            log.info(
                "stored a batch of %d events", len(part), extra={"events": len(part), "bytes": len(body)}
            )
            for d in part:
                event = d.decision.event
                log.info(
                    "stored event %s",
                    event.event_id,
                    extra={"event_id": event.event_id, "request_id": event.request_id},
                )
        elif action is Action.DEAD_LETTER:
            log.warning("logger refused a batch (%s): storing its events one by one", message)
            return all(self._store_one(connection, channel, d) for d in part)
        return action is not None

    def _store_one(self, connection: pika.BlockingConnection, channel: BlockingChannel, d: Delivery) -> bool:
        """Store one event with POST /log, or dead-letter it; False when a stop left it unacked."""
        event = d.decision.event
        token = request_id_var.set(event.request_id)
        try:
            body = json.dumps({**event.to_dict(), "transport": TRANSPORT})
            action, message = self._until_settled(connection, "/log", body, f"event {event.event_id}")
        finally:
            request_id_var.reset(token)
        if action is Action.ACK:
            channel.basic_ack(d.tag)
            metrics.acked([d.published_at])
            log.info("stored event %s", event.event_id, extra={"event_id": event.event_id})
        elif action is Action.DEAD_LETTER:
            log.warning("logger refused event %s (%s): dead-lettering it", event.event_id, message)
            channel.basic_reject(d.tag, requeue=False)
            metrics.dead_lettered()
        return action is not None

    def _until_settled(
        self, connection: pika.BlockingConnection, path: str, body: str, what: str
    ) -> tuple[Action | None, str]:
        """Post until the logger stores it (ACK) or refuses it for good (DEAD_LETTER), retrying with
        backoff meanwhile, with the logger's last message; None when a stop came first and left it
        unacked for redelivery."""
        retry = Backoff(RETRY_FIRST, RETRY_LIMIT)
        while True:
            status, message = self._post(path, body)
            action = action_for(status)
            if action is not Action.RETRY:
                return action, message
            delay = retry.next()
            metrics.RETRIES.inc()
            log.warning("logger could not store %s (%s %s); retrying in %.1fs", what, status, message, delay)
            if not self._pause(connection, delay):
                log.info("stopping: %s left unacked for redelivery", what)
                return None, message

    def _post(self, path: str, body: str) -> tuple[int, str]:
        try:
            answer = self.logger.send("POST", path, data=body, headers=JSON_HEADERS)
        except ApiError as exc:
            return exc.status, exc.message
        return answer.status, answer.body["message"]

    def _pause(self, connection: pika.BlockingConnection, seconds: float) -> bool:
        """Wait while serving the connection's heartbeats; False as soon as a stop is asked for."""
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            connection.sleep(min(remaining, POLL_SECONDS))
        return False

"""Hostile input to the listener: its health server (the only HTTP it serves) and poison messages on its
queue. Every answer is the JSON envelope without internals, nothing is stored, and it keeps consuming."""

from __future__ import annotations

import json
from collections.abc import Callable

import pika
import pytest
import requests
from hostile_support import (
    MARK,
    MIB,
    TIMEOUT,
    TOO_LARGE,
    Case,
    assert_envelope,
    assert_no_leak,
    cases,
    exchange,
    marked,
    send,
    unique,
)

from labkit import amqp
from labtest import Lab, eventually

HEALTH = cases(
    Case("unknown-path", None, 404, "not found", "GET", "/"),
    Case("unknown-nested-path", None, 404, "not found", "GET", "/healthz/../admin"),
    Case("nul-path", None, 404, "not found", "GET", "/healthz%00"),
    Case("post-healthz", json.dumps({"x": MARK}), 405, "method not allowed", "POST", "/healthz"),
    Case("put-readyz", json.dumps({"x": MARK}), 405, "method not allowed", "PUT", "/readyz"),
    Case("delete-healthz", None, 405, "method not allowed", "DELETE", "/healthz"),
    Case("post-unknown", json.dumps({"x": MARK}), 404, "not found", "POST", "/log"),
    Case("options", None, 405, "method not allowed", "OPTIONS", "/healthz"),
    Case("trace-unknown", None, 404, "not found", "TRACE", "/admin"),
    Case("over-1mib", MARK * (MIB // len(MARK) + 1), 413, TOO_LARGE, "POST", "/healthz"),
)


@pytest.mark.parametrize("case", HEALTH)
def test_hostile_health_request_gets_the_envelope(
    lab: Lab, untouched, still_serving: Callable[[str], None], case: Case
) -> None:
    assert_envelope(send(lab.url("listener"), case, "/healthz"), case.status, case.message)
    untouched.check()
    still_serving("listener")


@pytest.mark.parametrize(("path", "message"), [("/healthz?probe=1", "alive"), ("/readyz?x=%00", "ready")])
def test_health_ignores_query_strings(lab: Lab, path: str, message: str) -> None:
    assert_envelope(requests.get(lab.url("listener") + path, timeout=TIMEOUT), 200, message)


def test_head_answers_like_get_without_a_body(lab: Lab) -> None:
    response = requests.head(lab.url("listener") + "/healthz", timeout=TIMEOUT)
    assert (response.status_code, response.content) == (200, b"")
    assert_no_leak("", response.headers)


MALFORMED = [
    pytest.param(b"GET /healthz extra HTTP/1.1\r\n\r\n", 400, "bad request", id="extra-word"),
    pytest.param(
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "request-uri too long", id="long-line"
    ),
    pytest.param(
        b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n",
        431,
        "request header fields too large",
        id="long-header",
    ),
    pytest.param(
        b"GET /healthz HTTP/1.1\r\n" + b"X: a\r\n" * 200 + b"\r\n",
        431,
        "request header fields too large",
        id="many-headers",
    ),
]


@pytest.mark.parametrize(("raw", "status", "message"), MALFORMED)
def test_a_malformed_request_gets_the_envelope(
    lab: Lab, still_serving: Callable[[str], None], raw: bytes, status: int, message: str
) -> None:
    answer = exchange(lab.ports.listener, raw)

    assert (answer.status, json.loads(answer.body)) == (status, {"error": True, "message": message})
    assert answer.headers["Content-Type"] == "application/json"
    assert_no_leak(answer.body.decode(), answer.headers)
    still_serving("listener")


POISON = [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested"),
    pytest.param(b'{"name": "n", "data": "' + MARK.encode() + b'\\ud800"}', id="lone-surrogate"),
    pytest.param(b'{"name": "n", "data": "' + MARK.encode() + b"x" * MIB + b'"}', id="over-1mib"),
    pytest.param(b'{"name": "n", "data": "' + MARK.encode() + b'\xff"}', id="not-utf8"),
    pytest.param(b'{"name": ["n"], "data": "' + MARK.encode() + b'"}', id="wrong-type"),
    pytest.param(b"null", id="null"),
]


def take_dead_letter(channel: pika.adapters.blocking_connection.BlockingChannel, body: bytes) -> bool:
    """Remove this body from the dead-letter queue, leaving every other message where it was."""
    found, others = False, []
    while (got := channel.basic_get(amqp.DEAD_LETTER_QUEUE))[0] is not None:
        method, _properties, dead = got
        if dead == body and not found:
            channel.basic_ack(method.delivery_tag)
            found = True
        else:
            others.append(method.delivery_tag)
    for tag in others:
        channel.basic_nack(tag, requeue=True)
    return found


@pytest.mark.parametrize("body", POISON)
def test_a_poison_message_is_dead_lettered_and_the_next_one_stored(
    lab: Lab, amqp_url: str, logs_collection, body: bytes
) -> None:
    """Published straight to RabbitMQ, past the broker's checks: the listener must dead-letter it, never
    retry it forever, which would hold back every message behind it."""
    follower = unique("after-poison")
    connection = pika.BlockingConnection(amqp.parameters(amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for message in (body, json.dumps({"name": "follower", "data": follower}).encode()):
            channel.basic_publish(amqp.EXCHANGE, "log.INFO", message, pika.BasicProperties(delivery_mode=2))

        eventually(lambda: logs_collection.count_documents({"data": follower}), lambda n: n == 1, timeout=20)
        assert eventually(lambda: take_dead_letter(channel, body), bool)
    finally:
        connection.close()
    assert logs_collection.count_documents(marked(MARK)) == 0

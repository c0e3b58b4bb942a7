"""Witnesses for the hostile-input suite: the real stores and outboxes a rejected request must not touch,
and the valid request each service must still answer right after."""

from __future__ import annotations

import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import grpc
import pika
import psycopg
import pymongo
import pytest
import requests
from hostile_support import MARK, TIMEOUT, marked, unique

from labkit import amqp
from labtest import Lab
from logger import logs_pb2, logs_pb2_grpc

SEED = {"email": "admin@example.com", "password": "verysecret"}


class Witness:
    """A private queue bound to every routing key of the broker's exchange: it sees whatever is published."""

    def __init__(self, amqp_url: str) -> None:
        self.connection = pika.BlockingConnection(amqp.parameters(amqp_url, heartbeat=0))
        self.channel = self.connection.channel()
        self.channel.exchange_declare(amqp.EXCHANGE, exchange_type="topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        self.channel.queue_bind(self.queue, amqp.EXCHANGE, routing_key="#")

    def drain(self) -> list[bytes]:
        bodies = []
        while True:
            method, _properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body)

    def close(self) -> None:
        self.connection.close()


@pytest.fixture(scope="module")
def witness(amqp_url: str) -> Iterator[Witness]:
    """Per module, so it holds no copies of what other folders' tests publish later in the run."""
    witness = Witness(amqp_url)
    try:
        yield witness
    finally:
        witness.close()


@dataclass
class Untouched:
    """The state a rejected request must leave as it was: MongoDB's logs, the users table, the mail
    inbox and the RabbitMQ exchange."""

    logs: pymongo.collection.Collection
    users: psycopg.Connection
    inbox: str
    witness: Witness
    users_before: list[tuple] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.witness.drain()
        self.users_before = self.user_rows()

    def user_rows(self) -> list[tuple]:
        return self.users.execute("SELECT * FROM users ORDER BY id").fetchall()

    def mails(self) -> list[dict]:
        return requests.get(f"{self.inbox}/api/v2/messages", timeout=TIMEOUT).json()["items"]

    def check(self) -> None:
        assert self.logs.count_documents(marked(MARK)) == 0, "a rejected entry was stored"
        assert self.user_rows() == self.users_before, "the users table changed"
        assert self.mails() == [], "a mail was sent"
        published = [body for body in self.witness.drain() if MARK.encode() in body]
        assert published == [], "an event was published to RabbitMQ"


@pytest.fixture
def untouched(lab: Lab, logs_collection, users_db, inbox: str, witness: Witness) -> Untouched:
    """The state before the test; the test calls .check() after its hostile request."""
    return Untouched(logs_collection, users_db, inbox, witness)


def _broker(lab: Lab) -> None:
    event = {"name": "probe", "data": unique("probe")}
    response = requests.post(
        lab.broker + "/handle", json={"action": "log", "log": event, "transport": "http"}, timeout=TIMEOUT
    )
    assert (response.status_code, response.json()["message"]) == (202, "logged via http")


def _authentication(lab: Lab) -> None:
    response = requests.post(lab.url("authentication") + "/authenticate", json=SEED, timeout=TIMEOUT)
    assert (response.status_code, response.json()["message"]) == (202, "Logged in user admin@example.com")


def _logger(lab: Lab) -> None:
    response = requests.post(
        lab.url("logger") + "/log", json={"name": "probe", "data": unique("probe")}, timeout=TIMEOUT
    )
    assert (response.status_code, response.json()["message"]) == (202, "logged")


def _mail(lab: Lab) -> None:
    mail = {"to": "probe@example.com", "subject": "probe", "message": "still serving"}
    response = requests.post(lab.url("mail") + "/send", json=mail, timeout=TIMEOUT)
    assert (response.status_code, response.json()["message"]) == (202, "sent to probe@example.com")


def _listener(lab: Lab) -> None:
    response = requests.get(lab.url("listener") + "/readyz", timeout=TIMEOUT)
    assert (response.status_code, response.json()["message"]) == (200, "ready")


def _frontend(lab: Lab) -> None:
    response = requests.get(lab.url("frontend") + "/", timeout=TIMEOUT)
    assert response.status_code == 200
    assert "<html" in response.text


def _logger_rpc(lab: Lab) -> None:
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{lab.ports.logger_rpc}/", allow_none=True)
    with proxy:
        assert proxy.LogInfo({"name": "probe", "data": unique("probe")}) == "Processed payload via RPC:probe"


def _logger_grpc(lab: Lab) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{lab.ports.logger_grpc}") as channel:
        request = logs_pb2.LogRequest(logEntry=logs_pb2.Log(name="probe", data=unique("probe")))
        reply = logs_pb2_grpc.LogServiceStub(channel).WriteLog(request, timeout=TIMEOUT)
    assert reply.result == "logged!"


PROBES: dict[str, Callable[[Lab], None]] = {
    "broker": _broker,
    "authentication": _authentication,
    "logger": _logger,
    "mail": _mail,
    "listener": _listener,
    "frontend": _frontend,
    "logger_rpc": _logger_rpc,
    "logger_grpc": _logger_grpc,
}


@pytest.fixture
def still_serving(lab: Lab) -> Callable[[str], None]:
    """still_serving("mail"): a valid request to that service succeeds right now."""

    def probe(service: str) -> None:
        PROBES[service](lab)

    return probe

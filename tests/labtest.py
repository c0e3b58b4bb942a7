"""Helpers the tests share: ports, polling, users, and the whole lab started as real processes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pika
import psycopg
import pytest

from authentication.config import MIN_BCRYPT_COST
from authentication.passwords import hash_password
from labkit import amqp
from labrun import backing
from labrun.__main__ import install_missing
from labrun.procs import Proc, ServerSpec, free_port, wait_until
from labrun.services import ORDER, Backing, Ports, service_envs, service_spec

__all__ = [
    "AmqpTap",
    "Lab",
    "Published",
    "add_user",
    "amqp_tap",
    "eventually",
    "free_port",
    "prometheus_spec",
    "wait_until",
]

T = TypeVar("T")


def eventually(fetch: Callable[[], T], accept: Callable[[T], bool], timeout: float = 15.0) -> T:
    """Poll fetch() until accept(value) holds; return the value, or fail with the last one seen."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not accept(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        time.sleep(0.1)
        value = fetch()
    return value


def add_user(dsn: str, email: str, password: str, *, active: int = 1) -> None:
    """A user in the authentication service's (migrated) users table, its hash at the cheapest cost."""
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO users (email, first_name, last_name, password, user_active) "
            "VALUES (%s, 'Test', 'Person', %s, %s)",
            (email, hash_password(password, MIN_BCRYPT_COST), active),
        )


def prometheus_spec(datadir: Path, port: int, targets: dict[str, list[str]]) -> ServerSpec:
    """Debian's Prometheus on `port` scraping `targets` every 2 s, as `make run` starts it: installed with
    apt when missing (as `make run` does when root), else the test fails naming the package."""
    try:
        return backing.prometheus(datadir, port, targets)
    except backing.MissingProgram as missing:
        if not install_missing(missing):
            pytest.fail(str(missing))
        return backing.prometheus(datadir, port, targets)


@dataclass(frozen=True)
class Published:
    routing_key: str
    properties: pika.BasicProperties
    body: dict[str, Any]


class AmqpTap:
    """A private queue bound to the lab's exchange for every level: a copy of each message published
    while it exists (the lab's own queue still gets its copy), to inspect and count."""

    def __init__(self, amqp_url: str) -> None:
        self.connection = pika.BlockingConnection(amqp.parameters(amqp_url))
        self.channel = self.connection.channel()
        amqp.declare_topology(self.channel)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        for key in amqp.ROUTING_KEYS:
            self.channel.queue_bind(self.queue, amqp.EXCHANGE, routing_key=key)
        self.received: list[Published] = []

    def drain(self) -> list[Published]:
        """Every message received so far."""
        while True:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return self.received
            self.received.append(Published(method.routing_key, properties, json.loads(body)))

    def event_ids(self) -> list[str]:
        return [message.body["event_id"] for message in self.drain()]


@contextmanager
def amqp_tap(amqp_url: str) -> Iterator[AmqpTap]:
    tap = AmqpTap(amqp_url)
    try:
        yield tap
    finally:
        tap.connection.close()


@dataclass
class Lab:
    """The lab's services as real processes on free ports, over the given backing servers; extra_env adds
    variables per service on top of the contract's."""

    backing: Backing
    log_dir: Path
    ports: Ports = field(default_factory=Ports.free)
    procs: dict[str, Proc] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, service)}"

    @property
    def broker(self) -> str:
        return self.url("broker")

    def start(self, name: str) -> Proc:
        env = {**service_envs(self.ports, self.backing)[name], **self.extra_env.get(name, {})}
        spec = service_spec(name, env)
        self.procs[name] = Proc.start_spec(spec, self.log_dir)
        return self.procs[name]

    def start_all(self) -> Lab:
        for name in ORDER:
            self.start(name)
        return self

    def stop(self, name: str) -> int | None:
        return self.procs[name].stop()

    def stop_all(self) -> dict[str, int | None]:
        return {name: self.procs[name].stop() for name in reversed(list(self.procs))}

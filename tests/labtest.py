"""Helpers the tests share: ports, polling, users, and the whole lab started as real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import threading
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
    "NameServer",
    "Published",
    "add_user",
    "amqp_tap",
    "eventually",
    "free_port",
    "kill_group",
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


def kill_group(proc: Proc) -> None:
    """SIGKILL a process we started and everything in its process group (Proc starts a new session)."""
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.popen is not None
    proc.popen.wait(10)


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


class NameServer:
    """A DNS server on 127.0.0.1 (UDP, a port of its own) that answers one name with an A record for each
    address it is given, as an orchestrator's DNS answers a service's name with every replica's address
    (Docker's endpoint_mode dnsrr). set() changes them at any time; the records' TTL is 0, so nothing
    caches them. The name has no AAAA records; any other name does not exist (NXDOMAIN)."""

    _A, _IN = 1, 1

    def __init__(self, name: str) -> None:
        self.name = name.lower().rstrip(".")
        self.addresses: tuple[str, ...] = ()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.addr = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="name-server", daemon=True)

    def set(self, *addresses: str) -> None:
        self.addresses = addresses

    def __enter__(self) -> NameServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stopping.set()
        self._thread.join()
        self.sock.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                query, client = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            reply = self.answer(query)
            if reply is not None:
                self.sock.sendto(reply, client)

    def answer(self, query: bytes) -> bytes | None:
        """The reply to one query (RFC 1035, 4.1), or None for what is not a one-question query."""
        if len(query) < 12:
            return None
        ident, flags, questions = struct.unpack("!HHH", query[:6])
        if questions != 1 or flags & 0x8000:
            return None
        labels, at = [], 12
        while at < len(query) and query[at]:
            labels.append(query[at + 1 : at + 1 + query[at]].decode("ascii", "replace").lower())
            at += 1 + query[at]
        end = at + 5
        if end > len(query):
            return None
        (qtype,) = struct.unpack("!H", query[at + 1 : at + 3])
        ours = ".".join(labels) == self.name
        addresses = self.addresses if ours and qtype == self._A else ()
        # A response (QR), authoritative (AA), recursion desired as asked (RD), available (RA); NXDOMAIN
        # for a name not ours.
        reply_flags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | (0 if ours else 3)
        header = struct.pack("!HHHHHH", ident, reply_flags, 1, len(addresses), 0, 0)
        # Each record names the question's name by a pointer to it (offset 12).
        records = b"".join(
            b"\xc0\x0c" + struct.pack("!HHIH", self._A, self._IN, 0, 4) + socket.inet_aton(address)
            for address in addresses
        )
        return header + query[12:end] + records

"""What the fault and load tests share: servers that can be stopped and started again, the lab's services
killed by signal, log events sent through the broker, and the check that each accepted one is stored once."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from pymongo.collection import Collection

from labkit.net import tcp_reachable
from labrun.procs import Proc, ServerSpec
from labrun.services import Backing
from labtest import Lab, eventually, kill_group

REQUEST_TIMEOUT = 30.0


@dataclass
class Server:
    """A backing server a test may stop and start again, on the same ports and with the same data."""

    spec: ServerSpec
    log_dir: Path
    proc: Proc | None = None

    def start(self) -> Server:
        self.proc = Proc.start_spec(self.spec, self.log_dir)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def kill(self) -> None:
        """SIGKILL the server and every process it started, as a crash or a power cut would."""
        if self.proc is not None:
            kill_group(self.proc)

    @contextmanager
    def down(self, *, crash: bool = False) -> Iterator[None]:
        """Stopped for the block (by its own stop signal, or killed with crash=True), started again after
        it, even on failure."""
        if crash:
            self.kill()
        else:
            self.stop()
        try:
            yield
        finally:
            self.start()


@dataclass(frozen=True)
class PrivateServers:
    postgres: Server
    rabbitmq: Server
    mongo: Server
    smtp: Server
    backing: Backing
    epmd_port: int
    # The node's rabbitmq_prometheus plugin, host:port.
    rabbitmq_metrics: str

    @property
    def all(self) -> tuple[Server, ...]:
        return (self.postgres, self.rabbitmq, self.mongo, self.smtp)


@dataclass
class FaultLab(Lab):
    """The lab's six services (labtest.Lab), which tests may kill, freeze or take down."""

    def kill(self, name: str) -> None:
        """SIGKILL the service and every process it started (gunicorn's workers), as a crash would."""
        kill_group(self.procs[name])
        ports = [self.ports.logger, self.ports.logger_rpc, self.ports.logger_grpc]
        ports = ports if name == "logger" else [getattr(self.ports, name)]

        def listening() -> list[int]:
            return [port for port in ports if tcp_reachable("127.0.0.1", port)]

        eventually(listening, lambda busy: not busy, 10)

    @contextmanager
    def frozen(self, name: str) -> Iterator[None]:
        """The service and its workers stopped dead (SIGSTOP) for the block: connections are accepted by
        the kernel, but nothing answers. They go on (SIGCONT) after it, even on failure."""
        os.killpg(self.procs[name].pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(self.procs[name].pid, signal.SIGCONT)

    @contextmanager
    def down(self, name: str) -> Iterator[None]:
        """The service stopped cleanly for the block and started again after it, even on failure."""
        assert self.stop(name) == 0, f"{name} did not stop cleanly"
        try:
            yield
        finally:
            self.start(name)

    def readiness(self, name: str) -> int | None:
        try:
            return requests.get(self.url(name) + "/readyz", timeout=5).status_code
        except requests.RequestException:
            return None


@dataclass(frozen=True)
class Reply:
    status: int
    message: str
    data: Any
    seconds: float


def post(url: str, body: dict[str, Any], session: requests.Session | None = None) -> Reply:
    started = time.monotonic()
    response = (session or requests).post(url, json=body, timeout=REQUEST_TIMEOUT)
    envelope = response.json()
    return Reply(response.status_code, envelope["message"], envelope.get("data"), time.monotonic() - started)


def log_body(transport: str, data: str, name: str = "fault") -> dict[str, Any]:
    return {"action": "log", "log": {"name": name, "data": data}, "transport": transport}


def send_log(lab: Lab, transport: str, data: str, session: requests.Session | None = None) -> Reply:
    return post(lab.broker + "/handle", log_body(transport, data), session)


def auth_body() -> dict[str, Any]:
    return {"action": "auth", "auth": {"email": "admin@example.com", "password": "verysecret"}}


def mail_body(subject: str) -> dict[str, Any]:
    mail = {"from": "faults@example.com", "to": "user@example.com", "subject": subject, "message": "hi"}
    return {"action": "mail", "mail": mail}


@dataclass(frozen=True)
class Sent:
    """One log event sent through the broker: its unique data, the broker's status and the event id."""

    data: str
    status: int
    event_id: str | None


def sent(data: str, reply: Reply) -> Sent:
    event_id = reply.data.get("event_id") if reply.status == 202 else None
    return Sent(data, reply.status, event_id)


def send_many(lab: Lab, tag: str, count: int, clients: int = 8) -> list[Sent]:
    """`count` RabbitMQ-path events from a few client threads at once, so many broker threads serve them."""
    datas = [f"{tag}-{index:04d}-{os.urandom(4).hex()}" for index in range(count)]
    with ThreadPoolExecutor(clients, thread_name_prefix=tag) as pool:
        replies = list(pool.map(lambda data: send_log(lab, "rabbitmq", data), datas))
    return [sent(data, reply) for data, reply in zip(datas, replies, strict=True)]


def burst(lab: Lab, tag: str, count: int, midway: Callable[[], None], clients: int = 4) -> list[Sent]:
    """Send `count` RabbitMQ-path events from a few client threads; call midway() once half have been
    answered, while the rest are still being sent."""
    datas = [f"{tag}-{index:04d}-{os.urandom(4).hex()}" for index in range(count)]
    with ThreadPoolExecutor(clients, thread_name_prefix=tag) as pool:
        futures = [pool.submit(send_log, lab, "rabbitmq", data) for data in datas]
        pending = set(futures)
        while len(futures) - len(pending) < count // 2:
            _done, pending = wait(pending, return_when=FIRST_COMPLETED)
        assert pending, "midway came after the burst was over: send more events"
        midway()
        return [sent(data, future.result()) for data, future in zip(datas, futures, strict=True)]


def assert_stored_once(logs: Collection, events: list[Sent], transport: str | None = None) -> None:
    """Every accepted event (202) ends up stored exactly once: one document per data, per event id."""
    accepted = [event for event in events if event.status == 202]
    datas = [event.data for event in accepted]
    query = {"data": {"$in": datas}}
    eventually(lambda: logs.count_documents(query), lambda stored: stored >= len(datas), timeout=60)
    documents = list(logs.find(query, {"_id": 0, "data": 1, "event_id": 1, "transport": 1}))
    stored = Counter(doc["data"] for doc in documents)
    assert stored == Counter(datas), "an accepted event is missing or stored twice"
    assert Counter(doc["event_id"] for doc in documents) == Counter(event.event_id for event in accepted)
    if transport is not None:
        assert {doc["transport"] for doc in documents} == {transport}

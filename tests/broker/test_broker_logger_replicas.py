"""The broker's log senders against a logger that runs as several replicas behind one name, as in a Docker
Swarm stack with endpoint_mode dnsrr: real logger processes (or the logger's gRPC server in this process)
over a real SecantusDB, and a real DNS server that answers the name with every replica's address.

Linux routes all of 127.0.0.0/8 to the loopback interface, so replicas listen on 127.0.0.1 and 127.0.0.2
with the same ports, as containers do on their own addresses.
"""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pymongo
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from broker.config import Config
from broker.dependencies import Dependencies
from broker.transports import GrpcSender
from labkit.events import LogEvent
from labrun.procs import Proc
from labrun.services import service_spec
from labtest import NameServer, eventually, free_port, kill_group, wait_until
from logger import grpc_server
from logger.store import LogStore

NAME = "logger.lab.test"
FIRST, SECOND = "127.0.0.1", "127.0.0.2"


def event(tag: str) -> LogEvent:
    return LogEvent.parse({"name": "replicas", "data": f"{tag}-{uuid.uuid4().hex}"})


@dataclass
class Replicas:
    """Logger processes over one database, each on its own address with the same three ports."""

    mongo_url: str
    work: Path
    database: str = field(default_factory=lambda: f"logs_{uuid.uuid4().hex[:12]}")
    port: int = field(default_factory=free_port)
    rpc_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    procs: dict[str, Proc] = field(default_factory=dict)

    def start(self, address: str) -> Proc:
        metrics = self.work / f"metrics-{address}"
        metrics.mkdir(exist_ok=True)
        env = {
            "PORT": str(self.port),
            "RPC_PORT": str(self.rpc_port),
            "GRPC_PORT": str(self.grpc_port),
            "MONGO_URL": self.mongo_url,
            "MONGO_DB": self.database,
            # Natively, replicas on one port would share the default directory (one per service and port).
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
        }
        spec = service_spec("logger", env, host=address)
        log_dir = self.work / f"logs-{address}"
        self.procs[address] = Proc.start_spec(spec, log_dir, timeout=30)
        return self.procs[address]

    def stored_by(self, address: str) -> int:
        """How many events the replica stored, as its GET /metrics says."""
        text = requests.get(f"http://{address}:{self.port}/metrics", timeout=5).text
        return int(
            sum(
                sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "logger_entries_stored_total"
            )
        )

    def stop_all(self) -> dict[str, int | None]:
        return {address: proc.stop() for address, proc in self.procs.items()}


@pytest.fixture
def replicas(mongo_url: str, tmp_path: Path) -> Iterator[Replicas]:
    started = Replicas(mongo_url, tmp_path)
    try:
        yield started
    finally:
        started.stop_all()
        with pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=3000) as client:
            client.drop_database(started.database)


@pytest.fixture
def stored(mongo_url: str) -> Iterator[Callable[[str, list[LogEvent]], list[int]]]:
    """How many documents a database holds for each of the events, in their order."""
    client = pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=3000)

    def count(database: str, events: list[LogEvent]) -> list[int]:
        collection = client[database]["logs"]
        return [collection.count_documents({"event_id": e.event_id}) for e in events]

    yield count
    client.close()


@pytest.fixture
def name_server() -> Iterator[NameServer]:
    with NameServer(NAME) as server:
        yield server


def test_grpc_calls_are_balanced_over_every_address_of_the_logger_s_name(
    replicas: Replicas, name_server: NameServer, stored: Callable[[str, list[LogEvent]], list[int]]
) -> None:
    for address in (FIRST, SECOND):
        replicas.start(address)
    name_server.set(FIRST, SECOND)
    sender = GrpcSender(f"{NAME}:{replicas.grpc_port}", dns_server=name_server.addr)
    events = [event("balanced") for _ in range(20)]
    try:
        for each in events:
            sender.send(each)
    finally:
        sender.close()

    assert stored(replicas.database, events) == [1] * len(events)
    by_replica = {address: replicas.stored_by(address) for address in (FIRST, SECOND)}
    assert all(by_replica.values()), f"every replica gets calls: {by_replica}"
    assert sum(by_replica.values()) == len(events)


@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_a_replica_that_goes_away_mid_stream_costs_no_call_and_stores_nothing_twice(
    replicas: Replicas,
    name_server: NameServer,
    stored: Callable[[str, list[LogEvent]], list[int]],
    how: str,
) -> None:
    for address in (FIRST, SECOND):
        replicas.start(address)
    # The name still lists the replica that goes away, as an orchestrator's DNS does for a while.
    name_server.set(FIRST, SECOND)
    sender = GrpcSender(f"{NAME}:{replicas.grpc_port}", dns_server=name_server.addr)
    events = [event(how) for _ in range(200)]
    sent = threading.Semaphore(0)

    def send(each: LogEvent) -> None:
        sender.send(each)
        sent.release()

    try:
        with ThreadPoolExecutor(8) as pool:
            calls = [pool.submit(send, each) for each in events]
            for _ in range(50):
                sent.acquire()
            assert replicas.stored_by(SECOND) > 0, "the second replica had its share before it went away"
            if how == "killed":
                kill_group(replicas.procs[SECOND])
            else:
                assert replicas.procs[SECOND].stop() == 0
            failures = [call.exception() for call in calls if call.exception() is not None]
    finally:
        sender.close()

    assert failures == []
    assert stored(replicas.database, events) == [1] * len(events)


def test_a_replica_that_starts_later_gets_calls_once_the_name_lists_it(
    mongo_url: str, name_server: NameServer, stored: Callable[[str, list[LogEvent]], list[int]]
) -> None:
    # Each replica over a database of its own, so where an event is stored says which replica took it.
    # The servers end connections after 1 s instead of 30 s, so the test need not wait long.
    databases = {address: f"logs_{uuid.uuid4().hex[:12]}" for address in (FIRST, SECOND)}
    stores = {address: LogStore(mongo_url, database) for address, database in databases.items()}
    first, port = grpc_server.create_server(f"{FIRST}:0", stores[FIRST], max_connection_age_ms=1000)
    second, _ = grpc_server.create_server(f"{SECOND}:{port}", stores[SECOND], max_connection_age_ms=1000)
    first.start()
    name_server.set(FIRST)
    sender = GrpcSender(f"{NAME}:{port}", dns_server=name_server.addr)
    events: list[LogEvent] = []

    def send_one() -> list[int]:
        events.append(event("scaled"))
        sender.send(events[-1])
        return stored(databases[SECOND], events)

    try:
        for _ in range(5):
            send_one()
        assert stored(databases[FIRST], events) == [1] * 5, "before the name listed it, one replica took all"
        second.start()
        name_server.set(FIRST, SECOND)
        eventually(send_one, lambda counts: sum(counts) > 0, timeout=15)
        by_first, by_second = (stored(databases[address], events) for address in (FIRST, SECOND))
        assert [a + b for a, b in zip(by_first, by_second, strict=True)] == [1] * len(events)
    finally:
        sender.close()
        for server in (first, second):
            server.stop(0)
        for address, store in stores.items():
            store.client.drop_database(databases[address])
            store.close()


@pytest.fixture
def logger(replicas: Replicas) -> Replicas:
    """One logger replica on 127.0.0.1."""
    replicas.start(FIRST)
    return replicas


def broker_dependencies(logger: Replicas) -> Dependencies:
    """The broker's own senders, as it makes them from its environment."""
    config = Config.from_env(
        {
            "LOGGER_URL": f"http://{FIRST}:{logger.port}",
            "LOGGER_RPC_ADDR": f"{FIRST}:{logger.rpc_port}",
            "LOGGER_GRPC_ADDR": f"{FIRST}:{logger.grpc_port}",
        }
    )
    return Dependencies.connect(config)


@pytest.mark.parametrize("transport", ["http", "rpc"])
@pytest.mark.parametrize("how", ["killed", "stopped"])
def test_a_sender_whose_kept_alive_connection_s_logger_went_away_succeeds_on_a_fresh_one(
    logger: Replicas, stored: Callable[[str, list[LogEvent]], list[int]], transport: str, how: str
) -> None:
    dependencies = broker_dependencies(logger)
    sender = dependencies.senders[transport]
    before, after = event(f"{transport}-before"), event(f"{transport}-after")
    try:
        sender.send(before)
        if how == "killed":
            kill_group(logger.procs[FIRST])
        else:
            assert logger.procs[FIRST].stop() == 0
        # Its replacement, at the same address (with several, the name would lead elsewhere).
        logger.start(FIRST)
        sender.send(after)
    finally:
        sender.close()
        dependencies.logger.close()

    assert stored(logger.database, [before, after]) == [1, 1]


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _unread_request_bytes(port: int) -> int:
    """Bytes that reached a server's end of an established connection on the port and are not read yet
    (the kernel's view, /proc/net/tcp)."""
    unread = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == "01":
            unread += int(fields[4].split(":")[1], 16)
    return unread


def test_an_http_send_whose_logger_worker_dies_mid_request_gets_its_answer_from_the_next_worker(
    logger: Replicas, stored: Callable[[str, list[LogEvent]], list[int]]
) -> None:
    # gunicorn's master keeps the listening socket when a worker dies (a crash, an OOM kill) and starts
    # another: the request in the dead worker's hands is lost with its connection, a new one is served.
    dependencies = broker_dependencies(logger)
    sender = dependencies.senders["http"]
    (worker,) = _children(logger.procs[FIRST].pid)
    first, lost = event("http-worker"), event("http-worker-lost")
    try:
        sender.send(first)
        with ThreadPoolExecutor(1) as pool:
            # The worker stops dead, the request reaches its kept-alive connection, then the worker dies.
            os.kill(worker, signal.SIGSTOP)
            call = pool.submit(sender.send, lost)
            wait_until(lambda: _unread_request_bytes(logger.port) > 0, 10, "the request on the wire")
            os.kill(worker, signal.SIGKILL)
            call.result()
    finally:
        sender.close()
        dependencies.logger.close()

    assert stored(logger.database, [first, lost]) == [1, 1]

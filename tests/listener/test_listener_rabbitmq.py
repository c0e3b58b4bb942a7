"""The listener as a real process between a real RabbitMQ and the real logger (over SecantusDB).

These tests assert on whole queues, so they run in a vhost of their own: the session's vhost is shared
with the whole-lab tests, whose listener would compete for the messages.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pika
import pymongo
import pytest
import requests

from labkit import amqp
from labkit.validation import MAX_BODY_BYTES
from labrun import backing
from labrun.procs import Proc, ServerSpec
from labrun.services import service_spec
from labtest import eventually, free_port

LISTENER_CONNECTION = '{"connection_name","listener"}'


def vhost_of(url: str) -> str:
    return unquote(urlsplit(url).path[1:]) or "/"


def publish(
    url: str, body: bytes, *, correlation_id: str | None = None, message_id: str | None = None
) -> None:
    """Publish as the broker does: persistent, confirmed, routed to the listener's queue."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        properties = pika.BasicProperties(
            content_type="application/json",
            delivery_mode=pika.DeliveryMode.Persistent,
            correlation_id=correlation_id,
            message_id=message_id,
        )
        channel.basic_publish(amqp.EXCHANGE, "log.INFO", body, properties, mandatory=True)
    finally:
        connection.close()


def publish_all(url: str, bodies: Iterable[bytes]) -> None:
    """Publish a backlog over one connection, each message persistent and confirmed."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish(amqp.EXCHANGE, "log.INFO", body, pika.BasicProperties(delivery_mode=2))
    finally:
        connection.close()


def event(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def queue_counts(url: str) -> dict[str, tuple[int, int]]:
    """Each queue of the vhost: (messages ready, messages delivered but not acked)."""
    columns = ("name", "messages_ready", "messages_unacknowledged")
    out = backing.rabbitmqctl("list_queues", "-p", vhost_of(url), "-q", "--no-table-headers", *columns)
    counts = {}
    for line in out.splitlines():
        name, ready, unacked = line.split("\t")
        counts[name] = (int(ready), int(unacked))
    return counts


def dead_letters(url: str) -> list[bytes]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        bodies = []
        while True:
            method, _properties, body = channel.basic_get(amqp.DEAD_LETTER_QUEUE, auto_ack=True)
            if method is None:
                return bodies
            bodies.append(body)
    finally:
        connection.close()


def listener_connections(url: str) -> list[str]:
    """The pids RabbitMQ gives the listener's connections to this vhost (it names them "listener")."""
    out = backing.rabbitmqctl(
        "list_connections", "-q", "--no-table-headers", "vhost", "pid", "client_properties"
    )
    rows = (line.split("\t", 2) for line in out.splitlines() if line.count("\t") >= 2)
    return [pid for vhost, pid, props in rows if vhost == vhost_of(url) and LISTENER_CONNECTION in props]


def readiness(health_url: str) -> int | None:
    try:
        return requests.get(f"{health_url}/readyz", timeout=2).status_code
    except requests.RequestException:
        return None


def log_lines(proc: Proc) -> list[dict[str, Any]]:
    return [json.loads(line) for line in proc.log_path.read_text().splitlines() if line.startswith("{")]


@dataclass(frozen=True)
class Listener:
    proc: Proc
    health_url: str


@pytest.fixture
def log_dir(artifacts: Path, request: pytest.FixtureRequest) -> Path:
    return artifacts / "listener" / request.node.name


@pytest.fixture(scope="module")
def vhost_url(amqp_url: str) -> Iterator[str]:
    name = f"{vhost_of(amqp_url).strip('/')}_listener_{uuid.uuid4().hex[:6]}"
    backing.create_vhost(name)
    url = backing.with_vhost(amqp_url, name)
    try:
        yield url
    finally:
        backing.delete_vhost(name)


@pytest.fixture
def clean_vhost(vhost_url: str) -> str:
    """The test vhost with the lab's topology declared (as the broker does) and both queues empty."""
    connection = pika.BlockingConnection(pika.URLParameters(vhost_url))
    try:
        channel = connection.channel()
        amqp.declare_topology(channel)
        channel.queue_purge(amqp.QUEUE)
        channel.queue_purge(amqp.DEAD_LETTER_QUEUE)
    finally:
        connection.close()
    return vhost_url


@pytest.fixture(scope="module")
def logs_db() -> str:
    return f"listener_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def logs(mongo_url: str, logs_db: str) -> Iterator[pymongo.collection.Collection]:
    client = pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=3000)
    try:
        yield client[logs_db]["logs"]
    finally:
        client.close()


def start_service(spec: ServerSpec, log_dir: Path, started: list[Proc]) -> Proc:
    """Start a lab service as `python -m <package>`, remembered in `started` to be stopped at the end."""
    proc = Proc.start_spec(spec, log_dir)
    started.append(proc)
    return proc


@pytest.fixture(scope="module")
def start_logger(mongo_url: str, logs_db: str, artifacts: Path) -> Iterator[Callable[[int], Proc]]:
    """Start the real logger service on a given port; every one started is stopped at the end."""
    started: list[Proc] = []

    def start(port: int) -> Proc:
        env = {
            "PORT": str(port),
            "RPC_PORT": str(free_port()),
            "GRPC_PORT": str(free_port()),
            "MONGO_URL": mongo_url,
            "MONGO_DB": logs_db,
        }
        return start_service(service_spec("logger", env), artifacts / "listener" / f"logger-{port}", started)

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="module")
def logger_url(start_logger: Callable[[int], Proc]) -> str:
    port = free_port()
    start_logger(port)
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def start_listener(log_dir: Path) -> Iterator[Callable[..., Listener]]:
    """Start `python -m listener` with the contract's environment, waiting until it is ready (or, with
    wait_ready=False, only until its health server answers); killed at the end if a test left it up."""
    started: list[Proc] = []

    def start(amqp_url: str, logger_url: str, *, wait_ready: bool = True) -> Listener:
        port = free_port()
        health_url = f"http://127.0.0.1:{port}"
        spec = service_spec("listener", {"PORT": str(port), "AMQP_URL": amqp_url, "LOGGER_URL": logger_url})
        if not wait_ready:
            spec = replace(spec, ready=lambda: readiness(health_url) is not None)
        return Listener(start_service(spec, log_dir, started), health_url)

    yield start
    for proc in started:
        proc.kill()


def test_a_valid_message_is_stored_once_and_acked(
    clean_vhost: str, logger_url: str, logs: pymongo.collection.Collection, start_listener
) -> None:
    listener = start_listener(clean_vhost, logger_url)
    event_id, request_id = uuid.uuid4().hex, f"trace-{uuid.uuid4().hex}"
    publish(clean_vhost, event(name="order", data="placed", event_id=event_id), correlation_id=request_id)

    docs = eventually(lambda: list(logs.find({"event_id": event_id})), lambda found: len(found) == 1)
    assert (docs[0]["name"], docs[0]["data"], docs[0]["transport"]) == ("order", "placed", "rabbitmq")
    assert docs[0]["request_id"] == request_id
    eventually(lambda: queue_counts(clean_vhost), lambda q: q[amqp.QUEUE] == (0, 0))
    assert logs.count_documents({"event_id": event_id}) == 1
    assert queue_counts(clean_vhost)[amqp.DEAD_LETTER_QUEUE] == (0, 0)

    assert listener.proc.stop() == 0
    stored = [line for line in log_lines(listener.proc) if line["message"] == f"stored event {event_id}"]
    assert [line["request_id"] for line in stored] == [request_id]


def test_without_an_event_id_the_amqp_message_id_is_used(
    clean_vhost: str, logger_url: str, logs: pymongo.collection.Collection, start_listener
) -> None:
    listener = start_listener(clean_vhost, logger_url)
    message_id, data = uuid.uuid4().hex, uuid.uuid4().hex
    publish(clean_vhost, event(name="no-id", data=data), message_id=message_id)

    docs = eventually(lambda: list(logs.find({"data": data})), lambda found: len(found) == 1)
    assert docs[0]["event_id"] == message_id
    eventually(lambda: queue_counts(clean_vhost), lambda q: q[amqp.QUEUE] == (0, 0))
    assert listener.proc.stop() == 0


def test_a_malformed_message_is_dead_lettered_and_consuming_goes_on(
    clean_vhost: str, logger_url: str, logs: pymongo.collection.Collection, start_listener
) -> None:
    poison = [b"{not json", event(name="empty-data", data=""), json.dumps(["name", "data"]).encode()]
    for body in poison:
        publish(clean_vhost, body)
    after = uuid.uuid4().hex
    publish(clean_vhost, event(name="after-poison", data="kept", event_id=after))

    listener = start_listener(clean_vhost, logger_url)
    eventually(lambda: logs.count_documents({"event_id": after}), lambda n: n == 1)
    counts = eventually(lambda: queue_counts(clean_vhost), lambda q: q[amqp.QUEUE] == (0, 0))
    assert counts[amqp.DEAD_LETTER_QUEUE] == (len(poison), 0)
    assert dead_letters(clean_vhost) == poison
    assert listener.proc.stop() == 0
    messages = [line["message"] for line in log_lines(listener.proc)]
    assert [message for message in messages if message.startswith("dead-lettering")] == [
        "dead-lettering message: body is not UTF-8 JSON",
        "dead-lettering message: data must not be empty",
        "dead-lettering message: body must be a JSON object",
    ]


def test_with_the_logger_down_the_message_is_held_then_stored_when_it_is_back(
    clean_vhost: str, start_logger, logs: pymongo.collection.Collection, start_listener
) -> None:
    port = free_port()
    listener = start_listener(clean_vhost, f"http://127.0.0.1:{port}")
    event_id = uuid.uuid4().hex
    publish(clean_vhost, event(name="held", data="while down", event_id=event_id))

    eventually(lambda: queue_counts(clean_vhost), lambda q: q[amqp.QUEUE] == (0, 1))
    eventually(
        lambda: sum("retrying" in line["message"] for line in log_lines(listener.proc)), lambda n: n >= 3
    )
    assert queue_counts(clean_vhost) == {amqp.QUEUE: (0, 1), amqp.DEAD_LETTER_QUEUE: (0, 0)}
    assert logs.count_documents({"event_id": event_id}) == 0

    start_logger(port)
    eventually(lambda: logs.count_documents({"event_id": event_id}), lambda n: n == 1, timeout=30)
    eventually(lambda: queue_counts(clean_vhost), lambda q: q[amqp.QUEUE] == (0, 0))
    assert queue_counts(clean_vhost)[amqp.DEAD_LETTER_QUEUE] == (0, 0)
    assert listener.proc.stop() == 0


def test_stopping_while_the_logger_is_down_leaves_the_message_queued(
    clean_vhost: str, logger_url: str, logs: pymongo.collection.Collection, start_listener
) -> None:
    listener = start_listener(clean_vhost, f"http://127.0.0.1:{free_port()}")
    event_id = uuid.uuid4().hex
    publish(clean_vhost, event(name="held", data="across a restart", event_id=event_id))
    eventually(lambda: queue_counts(clean_vhost), lambda q: q[amqp.QUEUE] == (0, 1))

    assert listener.proc.stop() == 0
    assert queue_counts(clean_vhost)[amqp.QUEUE] == (1, 0)
    assert logs.count_documents({"event_id": event_id}) == 0

    second = start_listener(clean_vhost, logger_url)
    eventually(lambda: logs.count_documents({"event_id": event_id}), lambda n: n == 1)
    eventually(lambda: queue_counts(clean_vhost), lambda q: q[amqp.QUEUE] == (0, 0))
    assert second.proc.stop() == 0


def test_the_listener_reconnects_after_its_connection_is_closed(
    clean_vhost: str, logger_url: str, logs: pymongo.collection.Collection, start_listener
) -> None:
    listener = start_listener(clean_vhost, logger_url)
    [first] = eventually(lambda: listener_connections(clean_vhost), lambda pids: len(pids) == 1)

    backing.rabbitmqctl("close_connection", first, "listener reconnect test")
    [second] = eventually(
        lambda: listener_connections(clean_vhost), lambda pids: len(pids) == 1 and pids != [first]
    )
    assert second != first
    eventually(lambda: readiness(listener.health_url), lambda status: status == 200)
    event_id = uuid.uuid4().hex
    publish(clean_vhost, event(name="after", data="reconnect", event_id=event_id))
    eventually(lambda: logs.count_documents({"event_id": event_id}), lambda n: n == 1)

    assert listener.proc.stop() == 0
    messages = [line["message"] for line in log_lines(listener.proc)]
    assert any(message.startswith("rabbitmq connection failed or lost") for message in messages)
    assert messages.count("consuming from queue logs") == 2


@pytest.fixture
def late_vhost(amqp_url: str) -> Iterator[tuple[str, str]]:
    """A vhost that does not exist yet, so RabbitMQ refuses the listener until the test creates it."""
    name = f"{vhost_of(amqp_url).strip('/')}_listener_late_{uuid.uuid4().hex[:6]}"
    yield name, backing.with_vhost(amqp_url, name)
    if name in backing.rabbitmqctl("list_vhosts", "-q", "--no-table-headers").split():
        backing.delete_vhost(name)


def test_the_listener_waits_for_rabbitmq_and_readyz_follows(
    late_vhost: tuple[str, str], logger_url: str, logs: pymongo.collection.Collection, start_listener
) -> None:
    name, url = late_vhost
    listener = start_listener(url, logger_url, wait_ready=False)
    eventually(
        lambda: sum(line["message"].startswith("reconnecting") for line in log_lines(listener.proc)),
        lambda n: n >= 2,
    )
    response = requests.get(f"{listener.health_url}/readyz", timeout=2)
    assert response.status_code == 503
    assert response.json() == {"error": True, "message": "not ready", "data": {"rabbitmq": False}}
    assert requests.get(f"{listener.health_url}/healthz", timeout=2).status_code == 200

    backing.create_vhost(name)
    eventually(lambda: readiness(listener.health_url), lambda status: status == 200, timeout=30)
    assert requests.get(f"{listener.health_url}/readyz", timeout=2).json() == {
        "error": False,
        "message": "ready",
        "data": {"rabbitmq": True},
    }
    event_id = uuid.uuid4().hex
    publish(url, event(name="late", data="rabbitmq came up", event_id=event_id))
    eventually(lambda: logs.count_documents({"event_id": event_id}), lambda n: n == 1)
    assert listener.proc.stop() == 0


def test_the_listener_stops_cleanly_while_rabbitmq_is_unreachable(logger_url: str, start_listener) -> None:
    listener = start_listener(f"amqp://guest:guest@127.0.0.1:{free_port()}/", logger_url, wait_ready=False)
    eventually(
        lambda: sum(line["message"].startswith("reconnecting") for line in log_lines(listener.proc)),
        lambda n: n >= 2,
    )
    assert readiness(listener.health_url) == 503
    assert listener.proc.alive()
    assert listener.proc.stop() == 0


def test_a_backlog_is_stored_in_batches_each_event_once(
    clean_vhost: str, logger_url: str, logs: pymongo.collection.Collection, start_listener
) -> None:
    name = f"backlog-{uuid.uuid4().hex[:8]}"
    publish_all(clean_vhost, (event(name=name, data=str(i), event_id=f"{name}-{i}") for i in range(300)))

    listener = start_listener(clean_vhost, logger_url)
    eventually(lambda: logs.count_documents({"name": name}), lambda n: n == 300, timeout=60)
    eventually(lambda: queue_counts(clean_vhost), lambda q: q[amqp.QUEUE] == (0, 0))
    docs = list(logs.find({"name": name}))
    assert sorted(int(d["data"]) for d in docs) == list(range(300))
    # A batch is one write, and its entries share their stored time: far fewer writes than events.
    assert len({d["created_at"] for d in docs}) <= 300 // 10
    assert listener.proc.stop() == 0
    stored = [line for line in log_lines(listener.proc) if line["message"].startswith("stored event")]
    assert len(stored) == 300


def test_an_invalid_event_is_dead_lettered_on_its_own_and_the_rest_of_its_batch_is_stored_at_once(
    clean_vhost: str, logger_url: str, logs: pymongo.collection.Collection, start_listener
) -> None:
    name = f"mixed-{uuid.uuid4().hex[:8]}"
    refused = event(name=name, data="bad", event_id="x" * 129)
    bodies = [event(name=name, data=str(i), event_id=f"{name}-{i}") for i in range(5)]
    for body in [*bodies[:2], refused, *bodies[2:]]:
        publish(clean_vhost, body)

    listener = start_listener(clean_vhost, logger_url)
    eventually(lambda: logs.count_documents({"name": name}), lambda n: n == 5)
    counts = eventually(lambda: queue_counts(clean_vhost), lambda q: q[amqp.QUEUE] == (0, 0))
    assert counts[amqp.DEAD_LETTER_QUEUE] == (1, 0)
    assert dead_letters(clean_vhost) == [refused]
    assert sorted(d["data"] for d in logs.find({"name": name})) == ["0", "1", "2", "3", "4"]
    assert listener.proc.stop() == 0
    lines = log_lines(listener.proc)
    messages = [line["message"] for line in lines]
    # The listener checks each event by the logger's own rules: the bad one never reaches the logger,
    # and the five good ones go in one request.
    assert "dead-lettering message: event_id must be at most 128 characters" in messages
    assert [line["events"] for line in lines if line["message"].startswith("stored a batch")] == [5]
    assert not any(m.startswith("logger refused") for m in messages)


def test_large_events_are_stored_in_as_few_requests_as_the_size_limit_allows(
    clean_vhost: str, logger_url: str, logs: pymongo.collection.Collection, start_listener
) -> None:
    """100 events of 20 KiB are 2 MiB: two requests of 1 MiB at most, never one the logger refuses."""
    name = f"large-{uuid.uuid4().hex[:8]}"
    publish_all(
        clean_vhost,
        (event(name=name, data=f"{i:03} " + "x" * 20 * 1024, event_id=f"{name}-{i}") for i in range(100)),
    )

    listener = start_listener(clean_vhost, logger_url)
    eventually(lambda: logs.count_documents({"name": name}), lambda n: n == 100, timeout=60)
    eventually(lambda: queue_counts(clean_vhost), lambda q: q[amqp.QUEUE] == (0, 0))
    assert sorted(int(d["data"][:3]) for d in logs.find({"name": name})) == list(range(100))
    assert listener.proc.stop() == 0
    lines = log_lines(listener.proc)
    batches = [line for line in lines if line["message"].startswith("stored a batch")]
    assert [line["events"] for line in batches] == [50, 50]
    assert all(line["bytes"] <= MAX_BODY_BYTES for line in batches)
    assert [line for line in lines if line["level"] != "INFO"] == []

"""POST /bench: the transports compared under load, measured next to the broker.

For each transport, N log events go through the broker (POST /handle on the broker's own port, so
through gunicorn exactly as a client's would) and the same N go straight to the logger over that
transport with the broker's own senders. Each path then waits until every accepted event is stored
and reads back, by the prefix of its events' ids, what the logger stored and when. Then the broker's
other actions, measured by their replies: N mails, each with subject "bench-<run id> <number>" (so
`make bench` counts them again in the SMTP catcher, which this broker does not know), and AUTH_N logins
of the seed user. The answer streams one JSON object a line: progress at least every half second, then
the result (or an error).

The load runs in a child process, `python -m broker.bench`, whose lines the route passes on: a load
generator inside a broker worker would share that worker's interpreter lock with the requests it
measures. One run at a time per broker: every worker takes the same lock file.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from contextlib import closing, nullcontext, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TextIO

from flask import Blueprint, Response

from broker import procstat
from broker.config import TRANSPORTS, Config
from broker.transports import Sender, log_senders
from labkit.events import LogEvent
from labkit.httpclient import Downstream
from labkit.logs import configure_logging
from labkit.validation import ApiError
from labkit.web import read_json_object

log = logging.getLogger(__name__)

MAX_EVENTS = 10_000
MAX_CONCURRENCY = 64
PATHS = ("broker", "direct")
# The broker's other actions, measured through the broker only, after the log paths.
ACTIONS = ("mail", "auth")
# Logins a run makes unless told: each costs a bcrypt hash at the configured cost (about a quarter of a
# second of CPU at 12), so as many as log events would make a long run.
DEFAULT_AUTH_N = 200
SEED_USER = {"email": "admin@example.com", "password": "verysecret"}
MAIL_TO = "bench@example.com"
PROGRESS_EVERY_S = 0.5
# Waiting for accepted events to be stored ends once none has arrived for this long.
STALL_S = 60.0
COUNT_PAUSE_FACTOR = 9.0
# The transport whose 202 means "queued", not "stored".
QUEUED = "rabbitmq"
# A run stopped early (the client went away) waits this long for the sends in flight to end.
STOP_WAIT_S = 15.0
# ... and its process gets this much longer before it is killed.
EXIT_GRACE_S = 5.0
CALL_TIMEOUT_S = 10.0
PERCENTILES = (50, 95, 99)
# Events each client sends over a path, unmeasured, just before that path is measured.
WARMUP_PER_CLIENT = 5
NDJSON = "application/x-ndjson"


@dataclass(frozen=True)
class Settings:
    n: int
    concurrency: int
    auth_n: int


def _bounded_int(body: dict[str, Any], field_name: str, top: int, default: int | None = None) -> int:
    value = body.get(field_name)
    if value is None:
        if default is None:
            raise ApiError(400, f"{field_name} is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise ApiError(400, f"{field_name} must be an integer from 1 to {top}")
    return value


def parse_settings(body: dict[str, Any]) -> Settings:
    n = _bounded_int(body, "n", MAX_EVENTS)
    return Settings(
        n=n,
        concurrency=_bounded_int(body, "concurrency", MAX_CONCURRENCY),
        auth_n=_bounded_int(body, "auth_n", MAX_EVENTS, default=min(n, DEFAULT_AUTH_N)),
    )


def percentiles(values: list[float]) -> dict[str, float | None]:
    """p50, p95 and p99 by linear interpolation between the closest ranks; None when there are none."""
    ordered = sorted(values)
    result: dict[str, float | None] = {}
    for q in PERCENTILES:
        if not ordered:
            result[f"p{q}"] = None
            continue
        rank = q / 100 * (len(ordered) - 1)
        low, high = math.floor(rank), math.ceil(rank)
        value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
        result[f"p{q}"] = round(value, 2)
    return result


def host_info() -> dict[str, Any]:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(memory / 2**30, 1),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "load_1m": round(os.getloadavg()[0], 2),
    }


class Load:
    """n events sent by `concurrency` threads through one send function, each timed. Times of day
    (time.time()) are kept to compare with the logger's stored times; durations use perf_counter.

    Each thread first sends `warm_up_per_client` events through `warm_up`, unmeasured, on the same
    connections as the measured ones (the senders keep one per thread), and the measured sending starts
    once every thread has warmed up: the numbers leave out what a freshly started lab pays once
    (connections, pools, each server thread's and request path's first use)."""

    def __init__(
        self,
        n: int,
        concurrency: int,
        send: Callable[[int], None],
        cancel: threading.Event,
        thread_done: Callable[[], None] | None = None,
        *,
        warm_up: Callable[[int], None],
        warm_up_per_client: int,
    ) -> None:
        self.n = n
        self.send = send
        self.cancel = cancel
        self.thread_done = thread_done
        self.warm_up = warm_up
        self.warm_up_per_client = warm_up_per_client
        self.sent_at: list[float | None] = [None] * n
        self.accept_ms: list[float | None] = [None] * n
        self.errors: Counter[str] = Counter()
        self.sent = self.accepted = 0
        self.started_at = self.replied_at = 0.0
        self.on_start: Callable[[], None] = lambda: None
        self._next = 0
        self._lock = threading.Lock()
        self._warm = threading.Barrier(concurrency, action=self._begin)
        self._threads = [
            threading.Thread(target=self._work, args=(i,), name=f"bench-{i}", daemon=True)
            for i in range(concurrency)
        ]

    def start(self, on_start: Callable[[], None] = lambda: None) -> Load:
        """Start the threads; `on_start` runs once they have warmed up, just before measured sending."""
        self.on_start = on_start
        for thread in self._threads:
            thread.start()
        return self

    def wait(self, timeout: float) -> bool:
        """Whether every started thread has finished, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread.ident is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _begin(self) -> None:
        self.on_start()
        self.started_at = time.time()

    def _take(self) -> int | None:
        with self._lock:
            if self._next >= self.n or self.cancel.is_set():
                return None
            self._next += 1
            self.sent += 1
            return self._next - 1

    def _work(self, client: int) -> None:
        try:
            for k in range(self.warm_up_per_client):
                if self.cancel.is_set():
                    break
                try:
                    self.warm_up(client * self.warm_up_per_client + k)
                except Exception:  # a warm-up event is not measured; the measured ones show any fault
                    log.debug("benchmark warm-up send failed", exc_info=True)
            self._warm.wait()
            while (seq := self._take()) is not None:
                self._send_one(seq)
        finally:
            if self.thread_done is not None:
                self.thread_done()

    def _send_one(self, seq: int) -> None:
        error = None
        self.sent_at[seq] = time.time()
        began = time.perf_counter()
        try:
            self.send(seq)
        except ApiError as exc:
            error = str(exc.status)
        except Exception:
            log.exception("benchmark send failed")
            error = "exception"
        ended = time.perf_counter()
        with self._lock:
            self.replied_at = max(self.replied_at, time.time())
            if error is None:
                self.accept_ms[seq] = (ended - began) * 1000
                self.accepted += 1
            else:
                self.errors[error] += 1


class StoredCount:
    """The logger's count of a path's stored events (by their event ids' prefix), polled in the
    background. Counting reads every matching index entry, so after each count it pauses
    COUNT_PAUSE_FACTOR times as long as the count took (at least half a second): polling never takes
    more than a tenth of the store's time."""

    def __init__(self, logger: Downstream, prefix: str) -> None:
        self.logger = logger
        self.prefix = prefix
        self.value = 0
        self.error: ApiError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="bench-count", daemon=True)

    def __enter__(self) -> StoredCount:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                status, body = self.logger.get("/logs/count", event_id_prefix=self.prefix)
                if status == 200:
                    self.value = body["data"]["count"]
                    self.error = None
                else:
                    self.error = ApiError(502, "logger service failed")
            except ApiError as exc:
                self.error = exc
            took = time.monotonic() - began
            self._stop.wait(max(PROGRESS_EVERY_S, COUNT_PAUSE_FACTOR * took))


class BrokerClient:
    """POST /handle to this broker over one kept-alive connection per sending thread.

    A minimal HTTP/1.1 client (the request written whole, the answer read by its Content-Length): the
    load generator shares the machine's CPUs with the broker it measures, and http.client spends more
    than twice its CPU on each call (requests about ten times), which would slow the broker down.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.head = f"POST /handle HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        self.local = threading.local()

    def handle(self, body: dict[str, Any]) -> None:
        """One action; ApiError with the broker's status and message unless it answered 202."""
        payload = json.dumps(body).encode()
        request = f"{self.head}Content-Length: {len(payload)}\r\n\r\n".encode() + payload
        try:
            status, raw = self._exchange(request)
        except TimeoutError:
            self.close()
            raise ApiError(504, "broker timed out") from None
        except OSError:
            self.close()
            raise ApiError(503, "broker is unavailable") from None
        if status != 202:
            try:
                message = json.loads(raw)["message"]
            except (ValueError, KeyError, TypeError):
                message = "broker sent an invalid reply"
            raise ApiError(status, message)

    def _exchange(self, request: bytes) -> tuple[int, bytes]:
        connection = getattr(self.local, "connection", None)
        if connection is None:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=CALL_TIMEOUT_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = self.local.connection = (sock, sock.makefile("rb"))
        sock, reader = connection
        sock.sendall(request)
        status_line = reader.readline()
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise ConnectionError("no HTTP status line")
        length, keep_alive = None, True
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                keep_alive = value.strip().lower() != b"close"
        if length is None:
            raise ConnectionError("an answer without Content-Length")
        raw = reader.read(length)
        if len(raw) != length:
            raise ConnectionError("a truncated answer")
        if not keep_alive:
            self.close()
        return int(parts[1]), raw

    def close(self) -> None:
        """Close the calling thread's connection."""
        connection = getattr(self.local, "connection", None)
        self.local.connection = None
        if connection is not None:
            sock, reader = connection
            reader.close()
            sock.close()


# Senders that keep one connection per thread (pika and xmlrpc are not thread-safe); each sending thread
# closes its own as it ends. The gRPC channel and the HTTP session are shared by all threads.
PER_THREAD = frozenset({"rabbitmq", "rpc"})


class Clients:
    """The senders of the direct paths, used as the broker uses them."""

    def __init__(self, config: Config, concurrency: int) -> None:
        self.logger = Downstream("logger", config.logger_url, read_timeout=5.0, pool_size=concurrency)
        self.senders: dict[str, Sender] = log_senders(config, self.logger, path="direct")

    def thread_done(self, transport: str) -> Callable[[], None] | None:
        return self.senders[transport].close if transport in PER_THREAD else None

    def close(self) -> None:
        for transport, sender in self.senders.items():
            if transport not in PER_THREAD:
                sender.close()
        self.logger.close()


def _line(payload: dict[str, Any]) -> str:
    return json.dumps(payload) + "\n"


def _created_ms(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp() * 1000


def measure(load: Load, stored: list[dict[str, Any]]) -> dict[str, Any]:
    """One path's numbers from its sends and the entries the logger stored of them.

    throughput_per_s is stored events per second of the whole run, from the first send until the last
    event was stored (or answered, if later); accepted_per_s counts the 202s per second of sending. The
    two differ for RabbitMQ, whose 202 means queued: its throughput includes the listener's work.
    """
    first_stored: dict[int, float] = {}
    copies: Counter[int] = Counter()
    for entry in stored:
        data = entry.get("data")
        if not (isinstance(data, str) and data.isdigit() and int(data) < load.n):
            continue
        seq, created = int(data), _created_ms(entry["created_at"])
        copies[seq] += 1
        first_stored[seq] = min(created, first_stored.get(seq, created))
    accepted = [seq for seq in range(load.n) if load.accept_ms[seq] is not None]
    # Stored times are whole milliseconds: a delivery within the send's own millisecond counts as 0.
    deliver = [
        max(0.0, first_stored[seq] - (load.sent_at[seq] or 0.0) * 1000)
        for seq in range(load.n)
        if seq in first_stored and load.sent_at[seq] is not None
    ]
    send_s = max(0.0, load.replied_at - load.started_at)
    last_stored = max(first_stored.values(), default=0.0) / 1000
    run_s = max(send_s, last_stored - load.started_at)
    return {
        "sent": load.sent,
        "accepted": load.accepted,
        "stored": len(first_stored),
        "duplicates": sum(count - 1 for count in copies.values()),
        "failed": load.sent - load.accepted,
        "lost": sum(1 for seq in accepted if seq not in first_stored),
        "errors": dict(load.errors),
        "send_s": round(send_s, 3),
        "run_s": round(run_s, 3),
        "throughput_per_s": round(len(first_stored) / run_s, 1) if run_s > 0 else 0.0,
        "accepted_per_s": round(load.accepted / send_s, 1) if send_s > 0 else 0.0,
        "accept_ms": percentiles([load.accept_ms[seq] or 0.0 for seq in accepted]),
        "deliver_ms": percentiles(deliver),
    }


def measure_replies(load: Load) -> dict[str, Any]:
    """The numbers of a path measured by its replies (a mail sent, a login): throughput is replies per
    second, and what arrived (stored, duplicates, lost, deliver_ms) is null: no store of the lab's
    holds it (the SMTP catcher's mails are counted by `make bench`)."""
    send_s = max(0.0, load.replied_at - load.started_at)
    accepted_per_s = round(load.accepted / send_s, 1) if send_s > 0 else 0.0
    return {
        "sent": load.sent,
        "accepted": load.accepted,
        "stored": None,
        "duplicates": None,
        "failed": load.sent - load.accepted,
        "lost": None,
        "errors": dict(load.errors),
        "send_s": round(send_s, 3),
        "run_s": round(send_s, 3),
        "throughput_per_s": accepted_per_s,
        "accepted_per_s": accepted_per_s,
        "accept_ms": percentiles([ms for ms in load.accept_ms if ms is not None]),
        "deliver_ms": percentiles([]),
    }


class Bench:
    """One benchmark run: every transport through the broker and direct, in turn."""

    def __init__(self, config: Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self.run_id = uuid.uuid4().hex[:8]
        # This process is the broker's child: the lab is what runs under the broker's supervisor.
        self.lab_root = procstat.lab_root(os.getppid())
        self.cancel = threading.Event()
        self.loads: list[Load] = []

    def lines(self) -> Iterator[str]:
        """The streamed answer; closing it early (the client went away) stops the run."""
        started_at = datetime.now(UTC).isoformat(timespec="seconds")
        host = host_info()
        broker = BrokerClient(self.config.port)
        clients = Clients(self.config, self.settings.concurrency)
        paths: dict[str, dict[str, Any]] = {path: {} for path in PATHS}
        try:
            for transport in TRANSPORTS:
                for path in PATHS:
                    marker = f"bench-{self.run_id}-{path}-{transport}"
                    if path == "broker":
                        make, thread_done = partial(self._through_broker, broker), broker.close
                    else:
                        make, thread_done = partial(self._direct, clients), clients.thread_done(transport)
                    warm_up = make(transport, f"bench-{self.run_id}-warmup-{path}-{transport}")
                    load = self._load(make(transport, marker), warm_up, thread_done)
                    paths[path][transport] = yield from self._run_path(
                        load, clients.logger, path, transport, f"{marker}-"
                    )
            paths["broker"]["mail"] = yield from self._mail(broker)
            paths["broker"]["auth"] = yield from self._auth(broker)
        except ApiError as exc:
            yield _error_line(exc.message)
            return
        except Exception:
            log.exception("benchmark failed")
            yield _error_line("internal error")
            return
        finally:
            self.cancel.set()
            for load in self.loads:
                load.wait(STOP_WAIT_S)
            clients.close()
        memory = procstat.usage(self.lab_root)
        data = {
            "run_id": self.run_id,
            "n": self.settings.n,
            "concurrency": self.settings.concurrency,
            "auth_n": self.settings.auth_n,
            "started_at": started_at,
            "host": host,
            "paths": paths,
            "memory_mib": {role: round(use.memory_bytes / 2**20, 1) for role, use in sorted(memory.items())},
        }
        yield _line({"type": "result", "error": False, "message": "benchmark done", "data": data})

    def _load(
        self,
        send: Callable[[int], None],
        warm_up: Callable[[int], None],
        thread_done: Callable[[], None] | None,
        *,
        n: int | None = None,
        warm_up_per_client: int = WARMUP_PER_CLIENT,
    ) -> Load:
        """N events (or `n`), each client first sending its warm-up events under a marker of their own."""
        load = Load(
            self.settings.n if n is None else n,
            self.settings.concurrency,
            send,
            self.cancel,
            thread_done,
            warm_up=warm_up,
            warm_up_per_client=warm_up_per_client,
        )
        self.loads.append(load)
        return load

    @staticmethod
    def _through_broker(broker: BrokerClient, transport: str, marker: str) -> Callable[[int], None]:
        """Events named `marker`, each with its sequence number as data and `marker-seq` as event id (the
        broker keeps a client's event id), so the path's events are read back by their ids' prefix."""

        def send(seq: int) -> None:
            event = {"name": marker, "data": str(seq), "event_id": f"{marker}-{seq}"}
            broker.handle({"action": "log", "log": event, "transport": transport})

        return send

    def _mail(self, broker: BrokerClient) -> Generator[str, None, dict[str, Any]]:
        """N mails through the broker's mail action, subject "bench-<run id> <number>" (the warm-up's
        "bench-<run id>-warmup <number>")."""

        def mail(marker: str) -> Callable[[int], None]:
            def send(seq: int) -> None:
                message = f"A benchmark's mail, number {seq}."
                fields = {"to": MAIL_TO, "subject": f"{marker} {seq}", "message": message}
                broker.handle({"action": "mail", "mail": fields})

            return send

        load = self._load(mail(f"bench-{self.run_id}"), mail(f"bench-{self.run_id}-warmup"), broker.close)
        return (yield from self._replies(load, "mail"))

    def _auth(self, broker: BrokerClient) -> Generator[str, None, dict[str, Any]]:
        """AUTH_N logins of the seed user through the broker's auth action (one per client to warm up)."""

        def login(_seq: int) -> None:
            broker.handle({"action": "auth", "auth": SEED_USER})

        load = self._load(login, login, broker.close, n=self.settings.auth_n, warm_up_per_client=1)
        return (yield from self._replies(load, "auth"))

    def _replies(self, load: Load, action: str) -> Generator[str, None, dict[str, Any]]:
        """Run an action's load through the broker, with progress (its accepted count as "stored"), and
        measure it by its replies, with the lab's CPU per accepted request."""
        before = self._start(load)
        while not load.wait(PROGRESS_EVERY_S):
            yield _progress(load, "broker", action, load.accepted)
        after = procstat.usage(self.lab_root)
        yield _progress(load, "broker", action, load.accepted)
        result = measure_replies(load)
        result["cpu_ms_per_event"] = procstat.cpu_ms_per_event(before, after, result["accepted"])
        return result

    @staticmethod
    def _direct(clients: Clients, transport: str, marker: str) -> Callable[[int], None]:
        sender = clients.senders[transport]

        def send(seq: int) -> None:
            sender.send(LogEvent(name=marker, data=str(seq), event_id=f"{marker}-{seq}"))

        return send

    def _start(self, load: Load) -> dict[str, procstat.Usage]:
        """Start the load; the lab's CPU as its measured sending starts (the warm-up left out), to
        subtract from the CPU as it ends."""
        before: dict[str, procstat.Usage] = {}
        load.start(lambda: before.update(procstat.usage(self.lab_root)))
        return before

    def _run_path(
        self,
        load: Load,
        logger: Downstream,
        path: str,
        transport: str,
        prefix: str,
    ) -> Generator[str, None, dict[str, Any]]:
        """Send, wait until every accepted event is stored (or none arrives for STALL_S), measure."""

        def progress(stored: int) -> str:
            return _progress(load, path, transport, stored)

        # A 202 on a synchronous transport means the event is stored; only RabbitMQ's stored count lags
        # behind its accepted one, so only its paths poll the count (which costs the store some time).
        with StoredCount(logger, prefix) if transport == QUEUED else nullcontext() as count:
            before = self._start(load)
            while not load.wait(PROGRESS_EVERY_S):
                yield progress(count.value if count else load.accepted)
            if count:
                yield from self._until_stored(count, load, progress)
        after = procstat.usage(self.lab_root)
        status, body = logger.get("/logs/by-event-id", event_id_prefix=prefix)
        if status != 200:
            raise ApiError(502, "logger service failed")
        yield progress(body["data"]["count"])
        result = measure(load, body["data"]["entries"])
        result["cpu_ms_per_event"] = procstat.cpu_ms_per_event(before, after, result["stored"])
        return result

    @staticmethod
    def _until_stored(count: StoredCount, load: Load, progress: Callable[[int], str]) -> Iterator[str]:
        """Progress until the store holds every accepted event, or none has arrived for STALL_S."""
        last_value, last_change = count.value, time.monotonic()
        while count.value < load.accepted and time.monotonic() - last_change < STALL_S:
            yield progress(count.value)
            time.sleep(PROGRESS_EVERY_S)
            if count.value != last_value:
                last_value, last_change = count.value, time.monotonic()
        if count.error is not None and count.value < load.accepted:
            raise count.error


def _progress(load: Load, path: str, transport: str, stored: int) -> str:
    """A progress line of one path: how many of its events were sent, accepted and stored so far."""
    return _line(
        {
            "type": "progress",
            "path": path,
            "transport": transport,
            "n": load.n,
            "sent": load.sent,
            "accepted": load.accepted,
            "stored": stored,
        }
    )


def _error_line(message: str) -> str:
    return _line({"type": "error", "error": True, "message": f"benchmark failed: {message}"})


class Runner:
    """Runs one benchmark at a time per broker, each in a child process. The lock is a file lock, so
    it holds across gunicorn workers; the operating system releases it if a worker dies."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.lock_path = os.path.join(tempfile.gettempdir(), f"broker-bench-{config.port}.lock")

    def start(self, settings: Settings) -> Response:
        lock = self._lock()
        response = Response(self._relay(settings, lock), mimetype=NDJSON)
        response.headers["Cache-Control"] = "no-store"
        # Proxies (the Kubernetes ingress) pass each line on at once instead of buffering the answer.
        response.headers["X-Accel-Buffering"] = "no"
        # Also when the answer is closed before the run has started.
        response.call_on_close(lambda: self._unlock(lock))
        return response

    def _lock(self) -> TextIO:
        """The run lock, or 409. Its holder removes the file as the run ends, so a lock taken on a file
        that is no longer at the path (removed just after it was opened) counts as held."""
        lock = open(self.lock_path, "a")  # noqa: SIM115 (held until the streamed answer closes)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held, at_path = os.fstat(lock.fileno()), os.stat(self.lock_path)
            if (held.st_dev, held.st_ino) != (at_path.st_dev, at_path.st_ino):
                raise BlockingIOError
        except (BlockingIOError, FileNotFoundError):
            lock.close()
            raise ApiError(409, "a benchmark is already running") from None
        return lock

    def _unlock(self, lock: TextIO) -> None:
        """Remove the lock file and release it, once: a second call does nothing."""
        if lock.closed:
            return
        with suppress(FileNotFoundError):
            os.unlink(self.lock_path)
        lock.close()

    def _relay(self, settings: Settings, lock: TextIO) -> Iterator[str]:
        """The child's lines; closing early (the client went away) stops the child, which then waits
        for the sends in flight. A child that ends without a last line is reported as failed. The last
        line is held until the child has ended and the lock is released, so a client that has read it
        can start the next run at once."""
        argv = [sys.executable, "-m", "broker.bench", json.dumps(asdict(self.config))]
        argv += [str(settings.n), str(settings.concurrency), str(settings.auth_n)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        last = None
        try:
            with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env) as child:
                try:
                    for line in child.stdout or ():
                        if not line.endswith("\n"):
                            break  # cut off: the child died in the middle of a line
                        if json.loads(line)["type"] in ("result", "error"):
                            last = line
                        else:
                            yield line
                finally:
                    if child.poll() is None:
                        child.terminate()
                    try:
                        child.wait(STOP_WAIT_S + EXIT_GRACE_S)
                    except subprocess.TimeoutExpired:
                        child.kill()
        finally:
            self._unlock(lock)
        if last is None:
            log.error("benchmark process ended with status %s and no result", child.returncode)
            last = _error_line("internal error")
        yield last


def blueprint(runner: Runner) -> Blueprint:
    routes = Blueprint("bench", __name__)

    @routes.post("/bench")
    def bench() -> Response:
        return runner.start(parse_settings(read_json_object()))

    return routes


def _stop(signum: int, _frame: object) -> None:
    sys.exit(128 + signum)


def main(argv: list[str]) -> int:
    """The child process: `python -m broker.bench CONFIG_JSON N CONCURRENCY AUTH_N`, lines on stdout. Its
    own logs go to stderr, which it shares with the broker."""
    fields = json.loads(argv[0])
    config = Config(**{**fields, "cors_origins": tuple(fields["cors_origins"])})
    settings = Settings(n=int(argv[1]), concurrency=int(argv[2]), auth_n=int(argv[3]))
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    configure_logging("broker")
    signal.signal(signal.SIGTERM, _stop)
    with out, closing(Bench(config, settings).lines()) as lines:
        for line in lines:
            out.write(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Serve a Flask app factory with gunicorn (gthread workers), logging JSON, stopping gracefully on SIGTERM
(after draining for DRAIN_SECONDS, see labkit.drain), with prometheus_client's multiprocess mode so
GET /metrics counts every worker."""

from __future__ import annotations

import json
import os
import select
import sys
import tempfile
import time
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol, TypeVar

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger
from gunicorn.http import errors
from gunicorn.workers.gthread import ThreadWorker
from prometheus_client import multiprocess

from labkit import drain
from labkit.config import load_or_exit
from labkit.logs import configure_logging
from labkit.metrics import MULTIPROC_DIR
from labkit.net import SERVER_KEEPALIVE_S


def logging_dict(service: str) -> dict[str, Any]:
    """gunicorn's logging, routed through the lab's JSON formatter; access lines come from labkit.web."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "labkit.logs.JsonFormatter", "service": service}},
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
        },
        "root": {"level": "INFO", "handlers": ["stdout"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }


_PROTOCOL_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (errors.LimitRequestLine, 414, "request line is too long"),
    (errors.LimitRequestHeaders, 431, "request headers are too large"),
    (errors.UnsupportedTransferCoding, 501, "transfer coding is not supported"),
    (errors.ExpectationFailed, 417, "expectation failed"),
    (errors.ForbiddenProxyRequest, 403, "forbidden"),
    (errors.ConfigurationProblem, 500, "internal error"),
    (errors.InvalidResponseHeader, 500, "internal error"),
    (errors.InvalidResponseHeaderName, 500, "internal error"),
    (errors.ParseException, 400, "malformed HTTP request"),
)


def protocol_error(exc: BaseException) -> tuple[int, str]:
    """The status and message for a request gunicorn could not parse (or answer): 500 if it is ours."""
    for kind, status, message in _PROTOCOL_ERRORS:
        if isinstance(exc, kind):
            return status, message
    return 500, "internal error"


# How long a stopping worker lets its requests in progress finish (gunicorn's graceful_timeout).
GRACEFUL_TIMEOUT_S = 10

# How long a worker thread waits on its kept-alive connection for the client's next request before
# handing the connection back to gunicorn's poller (LabWorker.handle), and how often it checks meanwhile
# that it may go on waiting.
NEXT_REQUEST_WAIT_MS = 50
WAIT_CHECK_MS = 5


class LabWorker(ThreadWorker):
    """gunicorn's thread worker, with two changes.

    It answers what it cannot parse with the JSON envelope instead of an HTML page, so every answer of
    every service is JSON (the contract).

    A thread that answered a kept-alive connection serves that connection's next request itself if it
    comes within NEXT_REQUEST_WAIT_MS, while every open connection can have a thread of its own. gunicorn
    hands each kept-alive connection back to its main thread between requests (its poller, a pipe and a
    future each way): about a quarter of a busy service's CPU. A waiting thread checks every
    WAIT_CHECK_MS that there are still no more connections than threads, and lets its connection go
    when there are, so no connection waits longer than that for a thread another one keeps.
    """

    def handle(self, conn: Any) -> Any:
        keep = super().handle(conn)
        while keep is True and self._next_request(conn):
            keep = super().handle(conn)
        return keep

    def _may_wait(self) -> bool:
        return self.alive and self.nr_conns <= self.cfg.threads

    def _next_request(self, conn: Any) -> bool:
        """Whether the connection's next request is read ahead already or arrives while this thread may
        wait for it."""
        if not self._may_wait():
            return False
        if conn.parser.unreader.buf.getvalue():
            return True
        poll = select.poll()
        poll.register(conn.sock, select.POLLIN)
        for _ in range(NEXT_REQUEST_WAIT_MS // WAIT_CHECK_MS):
            if poll.poll(WAIT_CHECK_MS):
                return True
            if not self._may_wait():
                return False
        return False

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        status, message = protocol_error(exc)
        if status >= 500:
            self.log.exception("error handling request")
        else:
            self.log.info("refused a malformed request: %s", type(exc).__name__)
        body = json.dumps({"error": True, "message": message}).encode()
        head = (
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            client.sendall(head.encode("latin-1") + body)
        except OSError:
            self.log.debug("client went away before the error reply")


class NoAccessLogger(Logger):
    """gunicorn's logger without its access lines, which labkit.web writes as JSON. gunicorn builds an
    access line for every request whenever a logging config is given, even one that drops it."""

    @property
    def access_log_enabled(self) -> bool:
        return False


# Set to the PID of a process whose metrics directory is ready (see metrics_dir).
_METRICS_READY = "LABKIT_METRICS_READY"


def metrics_dir(service: str, port: int) -> None:
    """Make sure this process runs with PROMETHEUS_MULTIPROC_DIR naming an empty directory of this
    service's own (the variable's value when given, else one per service and port under the temp dir),
    without the drain marker a previous run may have left there.

    prometheus_client decides where samples live when it is first imported, and a service's modules
    (which import it) are loaded before its config is read. So the first time, this empties the
    directory, sets the variable and starts the same command again in this process (exec: same PID,
    so supervisors and tests still hold the right one); the second time it returns at once."""
    if os.environ.get(_METRICS_READY) == str(os.getpid()):
        return
    default = Path(tempfile.gettempdir()) / "labkit-metrics" / f"{service}-{port}"
    path = Path(os.environ.get(MULTIPROC_DIR) or default)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_DIR] = str(path)
    drain.clear()
    os.environ[_METRICS_READY] = str(os.getpid())
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606 (this very command, again)


def worker_gone(_arbiter: Any, worker: Any) -> None:
    """gunicorn's child_exit hook: a dead worker's live gauges leave the service's totals (its counters
    and histograms stay: they count what it did)."""
    multiprocess.mark_process_dead(worker.pid)


class DrainingArbiter(Arbiter):
    """gunicorn's master. With drain_seconds > 0 its first SIGTERM marks the service as draining (every
    worker's /readyz answers 503 from then on) and the workers keep serving for that many seconds; then it
    stops gracefully, as a SIGTERM does without a drain. A second SIGTERM ends the drain early; SIGINT and
    SIGQUIT stop at once, as ever."""

    def __init__(self, app: BaseApplication, drain_seconds: int) -> None:
        self.drain_seconds = drain_seconds
        self.drain_ends: float | None = None
        super().__init__(app)

    def handle_term(self) -> None:
        if self.drain_seconds > 0 and self.drain_ends is None:
            drain.begin()
            self.drain_ends = time.monotonic() + self.drain_seconds
            self.log.info("draining for %d s before stopping", self.drain_seconds)
            return
        super().handle_term()

    def wait_for_signals(self, timeout: float = 1.0) -> list[int]:
        if self.drain_ends is not None:
            left = self.drain_ends - time.monotonic()
            if left <= 0:
                # The master's loop stops on StopIteration, as gunicorn's own SIGTERM handler raises it.
                raise StopIteration
            timeout = min(timeout, left)
        return super().wait_for_signals(timeout)


class _Gunicorn(BaseApplication):
    def __init__(self, factory: Callable[[], Any], options: dict[str, Any], drain_seconds: int) -> None:
        self.factory = factory
        self.options = options
        self.drain_seconds = drain_seconds
        super().__init__()

    def run(self) -> None:
        """As BaseApplication.run, with the draining master."""
        try:
            DrainingArbiter(self, self.drain_seconds).run()
        except RuntimeError as exc:
            print(f"\nError: {exc}\n", file=sys.stderr)
            sys.stderr.flush()
            sys.exit(1)

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.factory()


def serve(
    factory: Callable[[], Any],
    *,
    service: str,
    host: str,
    port: int,
    workers: int = 2,
    threads: int = 8,
    drain_seconds: int = 0,
    **settings: Any,
) -> None:
    """Run gunicorn in this process. The factory runs in each worker, after the fork. On SIGTERM it
    drains for drain_seconds (DrainingArbiter), then stops gracefully."""
    configure_logging(service)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "labkit.serve.LabWorker",
        "threads": threads,
        "timeout": 30,
        "graceful_timeout": GRACEFUL_TIMEOUT_S,
        "keepalive": SERVER_KEEPALIVE_S,
        "accesslog": None,
        "logger_class": "labkit.serve.NoAccessLogger",
        "logconfig_dict": logging_dict(service),
        "proc_name": service,
        # gunicorn's control socket defaults to one path per user, which the lab's services would share.
        "control_socket_disable": True,
        "child_exit": worker_gone,
        **settings,
    }
    _Gunicorn(factory, options, drain_seconds).run()


class ServiceConfig(Protocol):
    host: str
    port: int


C = TypeVar("C", bound=ServiceConfig)


def run_service(
    service: str,
    load_config: Callable[[], C],
    create_app: Callable[[C], Any],
    *,
    workers: int = 2,
    threads: int = 8,
    settings: Callable[[C], dict[str, Any]] | None = None,
) -> None:
    """What every HTTP service's `python -m` does: read its config from the environment (a bad variable
    stops it, named), then serve create_app(config) with gunicorn on the config's host and port, with any
    further gunicorn settings made from the config. DRAIN_SECONDS (labkit.drain) is every service's."""
    config = load_or_exit(load_config, service)
    drain_seconds = load_or_exit(drain.drain_seconds, service)
    metrics_dir(service, config.port)
    extra = settings(config) if settings else {}
    serve(
        lambda: create_app(config),
        service=service,
        host=config.host,
        port=config.port,
        workers=workers,
        threads=threads,
        drain_seconds=drain_seconds,
        **extra,
    )

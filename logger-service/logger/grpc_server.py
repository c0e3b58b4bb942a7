"""The logger's gRPC front door: logs.LogService/WriteLog, with the standard health service beside it.

The health service tells the truth: a watcher runs the same check as /readyz every second and sets
"" and logs.LogService to SERVING or NOT_SERVING as the store comes and goes, and NOT_SERVING while the
logger drains before stopping (labkit.drain).

A connection lasts at most MAX_CONNECTION_AGE_MS: clients with long-lived channels (the broker's) then
reconnect and resolve the logger's name again, so replicas that started since get their share of calls.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from labkit.drain import draining
from labkit.events import LogEvent
from labkit.frontdoor import front_door
from labkit.validation import MAX_BODY_BYTES, ApiError
from logger import logs_pb2, logs_pb2_grpc
from logger.entries import write
from logger.metrics import refusals
from logger.store import LogStore

SERVICE_NAME = logs_pb2.DESCRIPTOR.services_by_name["LogService"].full_name
HEALTH_SERVICES = ("", SERVICE_NAME)
REQUEST_ID_METADATA = "x-request-id"
RETRY_PUSHBACK_METADATA = "grpc-retry-pushback-ms"
MAX_WORKERS = 16
HEALTH_INTERVAL_S = 1.0
MAX_CONNECTION_AGE_MS = 30_000
# A call in flight when its connection reaches its age may finish within its deadline (the broker's 5 s).
MAX_CONNECTION_AGE_GRACE_MS = 5_000

# The front door's statuses as gRPC codes; any other is INTERNAL.
STATUS_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], bool]


class LogService(logs_pb2_grpc.LogServiceServicer):
    def __init__(self, store: LogStore) -> None:
        self.store = store

    def WriteLog(self, request: logs_pb2.LogRequest, context: grpc.ServicerContext) -> logs_pb2.LogResponse:
        metadata = {item.key: item.value for item in context.invocation_metadata()}
        try:
            with front_door("grpc WriteLog", metadata.get(REQUEST_ID_METADATA)), refusals("grpc"):
                write(self.store, LogEvent.from_proto(request.logEntry), "grpc")
        except ApiError as exc:
            # The logger's own answer, not a lost connection: a client's retry policy does not try it
            # again (gRPC's retry pushback; a store that is down is every replica's store).
            context.set_trailing_metadata(((RETRY_PUSHBACK_METADATA, "-1"),))
            context.abort(STATUS_CODES.get(exc.status, grpc.StatusCode.INTERNAL), exc.message)
        return logs_pb2.LogResponse(result="logged!")


class HealthWatch:
    """Sets the health statuses from a readiness check, now and every `interval` seconds until stopped."""

    def __init__(self, servicer: health.HealthServicer, ready: ReadyCheck, interval: float) -> None:
        self.servicer = servicer
        self.ready = ready
        self.interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grpc-health", daemon=True)
        self._serving: bool | None = None

    def check(self) -> None:
        serving = self.ready()
        if serving == self._serving:
            return
        self._serving = serving
        status = (
            health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for service in HEALTH_SERVICES:
            self.servicer.set(service, status)
        log.log(
            logging.INFO if serving else logging.WARNING,
            "grpc health: %s",
            health_pb2.HealthCheckResponse.ServingStatus.Name(status),
        )

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.check()

    def start(self) -> None:
        self.check()
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()


class LogGrpcServer:
    """The gRPC server and its health service, so stopping first tells health checkers NOT_SERVING."""

    def __init__(self, server: grpc.Server, watch: HealthWatch) -> None:
        self.server = server
        self.watch = watch

    def start(self) -> None:
        self.watch.start()
        self.server.start()

    def stop(self, grace: float) -> None:
        """Refuse new calls, give the ones in flight `grace` seconds, then return."""
        self.watch.stop()
        self.watch.servicer.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def create_server(
    address: str,
    store: LogStore,
    *,
    health_interval: float = HEALTH_INTERVAL_S,
    max_connection_age_ms: int = MAX_CONNECTION_AGE_MS,
) -> tuple[LogGrpcServer, int]:
    """A gRPC server bound to host:port (port 0 picks a free one); call start() to serve. Its health
    follows store.ready(), the check behind the logger's /readyz, and the drain."""
    server = grpc.server(
        ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="grpc"),
        options=[
            ("grpc.max_receive_message_length", MAX_BODY_BYTES),
            # Fail at start when the port is taken instead of sharing it with another process.
            ("grpc.so_reuseport", 0),
            ("grpc.max_connection_age_ms", max_connection_age_ms),
            ("grpc.max_connection_age_grace_ms", MAX_CONNECTION_AGE_GRACE_MS),
        ],
    )
    logs_pb2_grpc.add_LogServiceServicer_to_server(LogService(store), server)
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port(address)
    watch = HealthWatch(servicer, lambda: store.ready() and not draining(), health_interval)
    return LogGrpcServer(server, watch), port

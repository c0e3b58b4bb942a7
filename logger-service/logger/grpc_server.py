"""The logger's gRPC front door: logs.LogService/WriteLog, with the standard health service beside it."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from labkit.logs import accept_request_id, request_id_var
from labkit.validation import ApiError
from labkit.web import MAX_BODY_BYTES
from logger import logs_pb2, logs_pb2_grpc
from logger.entries import write
from logger.store import LogStore, StoreUnavailable

SERVICE_NAME = logs_pb2.DESCRIPTOR.services_by_name["LogService"].full_name
REQUEST_ID_METADATA = "x-request-id"
MAX_WORKERS = 16

log = logging.getLogger(__name__)


class LogService(logs_pb2_grpc.LogServiceServicer):
    def __init__(self, store: LogStore) -> None:
        self.store = store

    def WriteLog(self, request: logs_pb2.LogRequest, context: grpc.ServicerContext) -> logs_pb2.LogResponse:
        started = time.perf_counter()
        metadata = {item.key: item.value for item in context.invocation_metadata()}
        token = request_id_var.set(accept_request_id(metadata.get(REQUEST_ID_METADATA)))
        entry = request.logEntry
        fields = {"name": entry.name, "data": entry.data, "event_id": entry.event_id or None}
        code = grpc.StatusCode.OK
        try:
            write(self.store, fields, "grpc")
        except ApiError as exc:
            code = grpc.StatusCode.INVALID_ARGUMENT
            context.abort(code, exc.message)
        except StoreUnavailable as exc:
            code = grpc.StatusCode.UNAVAILABLE
            context.abort(code, str(exc))
        except Exception:
            code = grpc.StatusCode.INTERNAL
            log.exception("WriteLog failed")
            context.abort(code, "internal error")
        finally:
            ms = round((time.perf_counter() - started) * 1000, 2)
            log.info("grpc WriteLog %s", code.name, extra={"status": code.name, "ms": ms})
            request_id_var.reset(token)
        return logs_pb2.LogResponse(result="logged!")


class LogGrpcServer:
    """The gRPC server and its health service, so stopping first tells health checkers NOT_SERVING."""

    def __init__(self, server: grpc.Server, health_servicer: health.HealthServicer) -> None:
        self.server = server
        self.health = health_servicer

    def start(self) -> None:
        self.server.start()

    def stop(self, grace: float) -> None:
        """Refuse new calls, give the ones in flight `grace` seconds, then return."""
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


def create_server(address: str, store: LogStore) -> tuple[LogGrpcServer, int]:
    """A gRPC server bound to host:port (port 0 picks a free one); call start() to serve."""
    server = grpc.server(
        ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="grpc"),
        options=[
            ("grpc.max_receive_message_length", MAX_BODY_BYTES),
            # Fail at start when the port is taken instead of sharing it with another process.
            ("grpc.so_reuseport", 0),
        ],
    )
    logs_pb2_grpc.add_LogServiceServicer_to_server(LogService(store), server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for service in ("", SERVICE_NAME):
        health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    port = server.add_insecure_port(address)
    return LogGrpcServer(server, health_servicer), port

"""The four ways the broker hands a log event to the logger, each failing with the contract's status.

Every sender reuses its connection across requests: one gRPC channel per process (channels are
thread-safe), and one AMQP connection and one xmlrpc proxy per thread (neither is thread-safe).

The logger may run as several replicas behind one name that resolves to each one's address. gRPC
balances calls over every address (round robin) and resolves the name again as replicas come and go;
xmlrpc and HTTP resolve it for each new connection. Each fails over after a connection-level failure
(gRPC: UNAVAILABLE) with another try: safe, since an event carries its event id and the logger stores an
event id once, answering a repeat with success.
"""

from __future__ import annotations

import json
import logging
import threading
import xmlrpc.client
from collections.abc import Mapping
from http.client import HTTPConnection
from typing import Any, Protocol

import grpc

from broker import logs_pb2, logs_pb2_grpc
from broker.config import Config
from broker.metrics import Measured
from labkit.amqp import Publisher
from labkit.events import LogEvent
from labkit.httpclient import Downstream
from labkit.validation import ApiError

log = logging.getLogger(__name__)

LOGGER_UNAVAILABLE = "logger service is unavailable"
LOGGER_TIMED_OUT = "logger service timed out"
CALL_TIMEOUT = 5.0
RETRY_AFTER = "Retry-After"

_GRPC_ERRORS = {
    grpc.StatusCode.UNAVAILABLE: (503, LOGGER_UNAVAILABLE),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, LOGGER_TIMED_OUT),
}

# Round robin over every address of the logger's name; a call that ends UNAVAILABLE (its replica went
# away, or had no store) or CANCELLED (a replica that shuts down cancels the calls it had received but not
# yet begun) is tried again, on another replica when there is one, within the call's deadline.
# WriteLog is idempotent: the event carries its event id and the logger stores an event id once, answering
# a repeat with success, so a retried call never stores an event twice.
_GRPC_SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [
            {
                "name": [{"service": logs_pb2.DESCRIPTOR.services_by_name["LogService"].full_name}],
                "retryPolicy": {
                    "maxAttempts": 5,
                    "initialBackoff": "0.2s",
                    "maxBackoff": "1s",
                    "backoffMultiplier": 2,
                    "retryableStatusCodes": ["UNAVAILABLE", "CANCELLED"],
                },
            }
        ],
    }
)


class Sender(Protocol):
    def send(self, event: LogEvent) -> None: ...

    def close(self) -> None: ...


def relay(service: str, status: int, body: dict, headers: Mapping[str, str] | None = None) -> ApiError:
    """A downstream's error reply as the broker's: its own 4xx, 503 and 504 pass through, others are 502.
    A passed-through reply keeps its Retry-After when that is a number of seconds."""
    if 400 <= status < 500 or status in (503, 504):
        retry_after = (headers or {}).get(RETRY_AFTER, "")
        kept = {RETRY_AFTER: retry_after} if retry_after.isascii() and retry_after.isdigit() else {}
        return ApiError(status, body["message"], headers=kept)
    return ApiError(502, f"{service} service failed")


class RabbitSender:
    """Publishes the event, persistent and confirmed, with labkit's Publisher (the one every producer of
    log events uses); returns only once RabbitMQ has confirmed."""

    def __init__(self, amqp_url: str) -> None:
        self.publisher = Publisher(amqp_url)

    def send(self, event: LogEvent) -> None:
        self.publisher.publish(event)

    def close(self) -> None:
        self.publisher.close()


class _Transport(xmlrpc.client.Transport):
    """xmlrpc.client's HTTP transport with a timeout, trying once more on a fresh connection after a
    connection-level failure: refused, reset, aborted, broken pipe or closed by the logger (a kept-alive
    connection to a replica that went away, or one that went away mid-call), never a timeout, which has
    used the call's deadline. Transport.request retries the same way except after a refused connection."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host: str) -> HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = self.timeout
        return connection

    def request(self, host: str, handler: str, request_body: bytes, verbose: bool = False) -> Any:
        try:
            return self.single_request(host, handler, request_body, verbose)
        except ConnectionError:
            # single_request closed the failed connection: this one resolves the logger's name again.
            return self.single_request(host, handler, request_body, verbose)


class RpcSender:
    """Calls the logger's xmlrpc LogInfo; faults 400, 413 and 503 keep their meaning. Text that XML
    cannot carry as it is gets a 400 before any call."""

    def __init__(self, addr: str) -> None:
        self.url = f"http://{addr}/"
        self.local = threading.local()

    def _proxy(self) -> xmlrpc.client.ServerProxy:
        proxy = getattr(self.local, "proxy", None)
        if proxy is None:
            transport = _Transport(CALL_TIMEOUT)
            proxy = xmlrpc.client.ServerProxy(self.url, transport=transport, allow_none=True)
            self.local.proxy = proxy
        return proxy

    def send(self, event: LogEvent) -> None:
        payload = event.to_xmlrpc()
        proxy = self._proxy()
        try:
            proxy.LogInfo(payload)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode == 413:
                raise ApiError(413, "log entry is larger than 1 MiB as XML-RPC") from None
            if fault.faultCode in (400, 503):
                raise ApiError(fault.faultCode, fault.faultString) from None
            raise ApiError(502, "logger service failed") from None
        except TimeoutError:
            self._reset(proxy)
            raise ApiError(504, LOGGER_TIMED_OUT) from None
        except (OSError, xmlrpc.client.ProtocolError):
            self._reset(proxy)
            raise ApiError(503, LOGGER_UNAVAILABLE) from None

    def _reset(self, proxy: xmlrpc.client.ServerProxy) -> None:
        proxy("close")()
        self.local.proxy = None

    def close(self) -> None:
        proxy = getattr(self.local, "proxy", None)
        if proxy is not None:
            self._reset(proxy)


class GrpcSender:
    """WriteLog over one channel per process, with a deadline on every call, balanced over every address
    the logger's name resolves to.

    `dns_server` (host:port) names the DNS server to ask instead of the system's (tests run their own)."""

    def __init__(self, addr: str, *, dns_server: str = "") -> None:
        self.channel = grpc.insecure_channel(
            f"dns://{dns_server}/{addr}",
            options=[
                ("grpc.service_config", _GRPC_SERVICE_CONFIG),
                # This config, never one a DNS TXT record might carry.
                ("grpc.service_config_disable_resolution", 1),
                # How soon the name may be resolved again, when a connection ends (a replica stopped,
                # or the logger closed it at its maximum age) and gRPC asks for fresh addresses.
                ("grpc.dns_min_time_between_resolutions_ms", 1000),
                # Short reconnect backoff. Round robin fails a call at once while every address is
                # waiting out its backoff after a failed connection (pick_first would connect anew for
                # the call), so a logger that is back must be reconnected to within the retries' reach:
                # at most 0.5 s apart. grpc.min_reconnect_backoff_ms stays at its default: gRPC also
                # takes it as the time a connection attempt may last, and at 200 ms a logger that paused
                # for a moment failed calls with UNAVAILABLE long before their deadline.
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 500),
            ],
        )
        self.stub = logs_pb2_grpc.LogServiceStub(self.channel)

    def send(self, event: LogEvent) -> None:
        request = logs_pb2.LogRequest(logEntry=event.to_proto(logs_pb2.Log))
        metadata = (("x-request-id", event.request_id or ""),)
        try:
            self.stub.WriteLog(request, timeout=CALL_TIMEOUT, metadata=metadata)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise ApiError(400, exc.details() or "invalid log entry") from None
            status, message = _GRPC_ERRORS.get(exc.code(), (502, "logger service failed"))
            raise ApiError(status, message) from None

    def close(self) -> None:
        self.channel.close()


class HttpSender:
    """POSTs the event to the logger's /log."""

    def __init__(self, logger: Downstream) -> None:
        self.logger = logger

    def send(self, event: LogEvent) -> None:
        status, body = self.logger.post("/log", event.to_dict())
        if status != 202:
            raise relay("logger", status, body)

    def close(self) -> None:
        """The shared Downstream session is closed by its owner."""


def log_senders(config: Config, logger: Downstream, path: str = "broker") -> dict[str, Sender]:
    """One sender per transport, as the broker's routes (path "broker") and its benchmark's direct paths
    (path "direct") use them, each send counted and timed under that path (broker.metrics)."""
    senders: dict[str, Sender] = {
        "rabbitmq": RabbitSender(config.amqp_url),
        "rpc": RpcSender(config.logger_rpc_addr),
        "grpc": GrpcSender(config.logger_grpc_addr),
        "http": HttpSender(logger),
    }
    return {transport: Measured(sender, transport, path) for transport, sender in senders.items()}

"""JSON log lines on stdout, one an event, carrying the request's correlation id."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

REQUEST_ID_HEADER = "X-Request-ID"

# Fields a record carries as extra={FIELDS: {...}}, each written on its line under its own name, which may
# be one logging refuses as an extra because a LogRecord has an attribute of that name ("created", "name").
FIELDS = "fields"

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", FIELDS}


MAX_REQUEST_ID_LENGTH = 64


def new_id() -> str:
    return uuid.uuid4().hex


def accept_request_id(incoming: object) -> str:
    """The caller's correlation id when it can travel on safely (1-64 printable ASCII characters, so it
    is a valid header everywhere), otherwise a new one. Every front door of every service uses this."""
    if (
        isinstance(incoming, str)
        and 0 < len(incoming) <= MAX_REQUEST_ID_LENGTH
        and incoming.isascii()
        and incoming.isprintable()
    ):
        return incoming
    return new_id()


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        event = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            event["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and key not in event:
                event[key] = value
        for key, value in getattr(record, FIELDS, {}).items():
            event.setdefault(key, value)
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every logger's records to stdout as JSON lines. Safe to call more than once."""
    # A line carries none of the caller's file, line, thread or process names: skip collecting them
    # (the logging HOWTO's "Optimization" settings; about a fifth of the cost of each line).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("urllib3", "pymongo", "grpc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pika logs every failed connection attempt as errors with tracebacks; its callers log the failure
    # once themselves (the listener's reconnects, the publishers' 503s).
    logging.getLogger("pika").setLevel(logging.CRITICAL)

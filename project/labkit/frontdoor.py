"""One way in for every front door of every service (an HTTP route, an xmlrpc method, a gRPC method):
the caller's correlation id set for the call, the call timed, one log line with its status, the call
counted and its latency observed (labkit.metrics, by a bounded route), and any error turned into the
ApiError the caller sees. A transport adds only its own translation of that
status (an HTTP reply, an xmlrpc fault, a gRPC code)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from labkit.logs import FIELDS, accept_request_id, request_id_var
from labkit.metrics import observe_call
from labkit.validation import ApiError

log = logging.getLogger("labkit.frontdoor")

_current: ContextVar[Call | None] = ContextVar("labkit_call", default=None)


def as_api_error(exc: BaseException) -> ApiError:
    """What the caller sees of an error: an ApiError as it is; anything else is logged with its trace
    and becomes a 500 "internal error", so no exception text ever reaches a caller."""
    if isinstance(exc, ApiError):
        return exc
    log.error("unhandled error", exc_info=exc)
    return ApiError(500, "internal error")


class Call:
    """One call through a front door, from its start to its end(), which writes its log line and counts
    it. `what` names the call in the log line; `route`, its metrics label, must come from a bounded set
    (an HTTP call's URL rule, not its path); it is `what` when not given."""

    def __init__(
        self, what: str, incoming_request_id: object, *, quiet: bool = False, route: str | None = None
    ) -> None:
        self.what = what
        self.route = route or what
        self.quiet = quiet
        self.status = 200
        self.request_id = accept_request_id(incoming_request_id)
        self.fields: dict[str, Any] = {}
        self._token = request_id_var.set(self.request_id)
        self._call_token = _current.set(self)
        self._started = time.perf_counter()

    def fail(self, exc: BaseException) -> ApiError:
        error = as_api_error(exc)
        self.status = error.status
        return error

    def end(self) -> None:
        seconds = time.perf_counter() - self._started
        observe_call(self.route, self.status, seconds)
        if not self.quiet:
            ms = round(seconds * 1000, 2)
            fields = {"status": self.status, "ms": ms, **self.fields}
            log.info("%s %s", self.what, self.status, extra={FIELDS: fields})
        _current.reset(self._call_token)
        request_id_var.reset(self._token)


def note(**fields: Any) -> bool:
    """Add fields to the one log line of the call in progress (what it did, e.g. the event it stored),
    so a call costs one line, not two. Any name will do, even one a LogRecord has (labkit.logs.FIELDS).
    False when no call is in progress or its line is not written."""
    call = _current.get()
    if call is None or call.quiet:
        return False
    call.fields.update(fields)
    return True


@contextmanager
def front_door(what: str, incoming_request_id: object) -> Iterator[Call]:
    """Run one call; an error leaves as the ApiError the caller should see."""
    call = Call(what, incoming_request_id)
    try:
        yield call
    except Exception as exc:
        raise call.fail(exc) from None
    finally:
        call.end()

"""One pooled HTTP client per peer service: explicit timeouts, failures mapped to the contract's statuses."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from urllib3.connection import HTTPConnection
from urllib3.connectionpool import ConnectionPool, HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, HTTPError, MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import BaseHTTPResponse
from urllib3.util import Timeout, parse_url
from urllib3.util.retry import Retry

from labkit.logs import REQUEST_ID_HEADER, request_id_var
from labkit.net import CLIENT_IDLE_S
from labkit.validation import ApiError


@dataclass(frozen=True)
class Answer:
    """A downstream's reply: its status, its JSON envelope and its headers (case-insensitive)."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str]


# urllib3's own answer to a failure when it makes no retries.
_NO_RETRY = Retry(0, read=False)


class FailOver(Retry):
    """One more try, on a fresh connection (which resolves the service's name again, so it may reach
    another replica), after a connection-level failure: a connection refused or a name that did not
    resolve (nothing was sent: any method), or a connection reset or closed by the other end (the request
    may have been processed: only methods in allowed_methods). Never after a timeout, which has used the
    call's deadline: that ends as without retries, a ConnectTimeout or a ReadTimeout. Statuses are
    answers, never retried."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Retry:
        if isinstance(error, Urllib3Timeout) and not isinstance(error, NewConnectionError):
            return _NO_RETRY.increment(method, url, response, error, _pool, _stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)


class _IdleLimit:
    """A connection pool that does not reuse a connection idle for more than CLIENT_IDLE_S: the server may
    be closing it (labkit.net.SERVER_KEEPALIVE_S), and a request sent as it closes fails. urllib3 itself
    only sees a close that has already arrived. The stale connection is closed and connects again on use."""

    def _put_conn(self, conn: HTTPConnection | None) -> None:
        if conn is not None:
            conn.labkit_idle_since = time.monotonic()
        super()._put_conn(conn)

    def _get_conn(self, timeout: float | None = None) -> HTTPConnection:
        conn = super()._get_conn(timeout)
        since = getattr(conn, "labkit_idle_since", None)
        if since is not None and time.monotonic() - since > CLIENT_IDLE_S:
            conn.close()
        return conn


class _IdleLimitedHTTPPool(_IdleLimit, HTTPConnectionPool):
    pass


class _IdleLimitedHTTPSPool(_IdleLimit, HTTPSConnectionPool):
    pass


_POOLS = {"http": _IdleLimitedHTTPPool, "https": _IdleLimitedHTTPSPool}


class Downstream:
    """A JSON-envelope service reached over HTTP: 503 when it cannot be reached, 504 past the deadline.

    A request that fails at the connection level is tried once more on a fresh connection (FailOver).
    A POST that may have reached the service is tried again only when `idempotent_posts` says repeating
    one is safe (the logger's: it stores an event id once); mail would be sent twice. So a connection idle
    for longer than CLIENT_IDLE_S, which the server may be closing, is not reused (_IdleLimit).

    One urllib3 connection pool per service. urllib3 rather than requests: requests' sessions merge
    settings, cookies and hooks on every call, which cost the broker more CPU than the HTTP exchange
    itself, and a peer named by the lab's config needs none of it (nor proxies or .netrc from the
    environment, which urllib3 never reads)."""

    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        connect_timeout: float = 2.0,
        read_timeout: float = 10.0,
        pool_size: int = 16,
        idempotent_posts: bool = False,
    ) -> None:
        self.name = name
        url = parse_url(base_url.rstrip("/"))
        self.prefix = url.path or ""
        methods = Retry.DEFAULT_ALLOWED_METHODS | ({"POST"} if idempotent_posts else set())
        self.pool = _POOLS[url.scheme or "http"](
            url.host,
            url.port,
            maxsize=pool_size,
            timeout=Timeout(connect=connect_timeout, read=read_timeout),
            retries=FailOver(total=1, allowed_methods=methods, respect_retry_after_header=False),
        )

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        """The whole reply, headers included, for callers that pass some of them on."""
        sent = dict(headers or {})
        request_id = request_id_var.get()
        if request_id:
            sent[REQUEST_ID_HEADER] = request_id
        url = self.prefix + path + (f"?{urlencode(params)}" if params else "")
        try:
            response = self.pool.request(method, url, body=data, json=json, headers=sent)
        except MaxRetryError as exc:
            raise self._failure(exc.reason) from None
        except HTTPError as exc:
            raise self._failure(exc) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            raise ApiError(502, f"{self.name} service sent an invalid reply")
        return Answer(response.status, body, response.headers)

    def _failure(self, error: Exception | None) -> ApiError:
        """A timeout once connected is 504; not reaching the service (refused, unresolved, reset, or
        no connection in time) is 503."""
        if isinstance(error, Urllib3Timeout) and not isinstance(error, ConnectTimeoutError):
            return ApiError(504, f"{self.name} service timed out")
        return ApiError(503, f"{self.name} service is unavailable")

    def post(self, path: str, payload: Any) -> tuple[int, dict[str, Any]]:
        answer = self.send("POST", path, json=payload)
        return answer.status, answer.body

    def get(self, path: str, **params: Any) -> tuple[int, dict[str, Any]]:
        answer = self.send("GET", path, params=params)
        return answer.status, answer.body

    def close(self) -> None:
        self.pool.close()

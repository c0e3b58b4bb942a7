"""One pooled HTTP session per process, with explicit timeouts, failures mapped to the contract's statuses."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import ConnectionPool, HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import BaseHTTPResponse
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


# requests' own answer to a failure when it makes no retries.
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
            conn.labkit_idle_since = time.monotonic()  # type: ignore[attr-defined]
        super()._put_conn(conn)  # type: ignore[misc]

    def _get_conn(self, timeout: float | None = None) -> HTTPConnection:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        since = getattr(conn, "labkit_idle_since", None)
        if since is not None and time.monotonic() - since > CLIENT_IDLE_S:
            conn.close()
        return conn


class _IdleLimitedHTTPPool(_IdleLimit, HTTPConnectionPool):
    pass


class _IdleLimitedHTTPSPool(_IdleLimit, HTTPSConnectionPool):
    pass


class _IdleLimitedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        pools = {"http": _IdleLimitedHTTPPool, "https": _IdleLimitedHTTPSPool}
        self.poolmanager.pool_classes_by_scheme = pools


class Downstream:
    """A JSON-envelope service reached over HTTP: 503 when it cannot be reached, 504 past the deadline.

    A request that fails at the connection level is tried once more on a fresh connection (FailOver).
    A POST that may have reached the service is tried again only when `idempotent_posts` says repeating
    one is safe (the logger's: it stores an event id once); mail would be sent twice. So a connection idle
    for longer than CLIENT_IDLE_S, which the server may be closing, is not reused (_IdleLimit)."""

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
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.session = requests.Session()
        # A service's peers are named by its config, never reached through a proxy or with .netrc
        # credentials from the environment; skipping those lookups also saves time on every call.
        self.session.trust_env = False
        methods = Retry.DEFAULT_ALLOWED_METHODS | ({"POST"} if idempotent_posts else set())
        retry = FailOver(total=1, allowed_methods=methods, respect_retry_after_header=False)
        adapter = _IdleLimitedAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        answer = self.send(method, path, **kwargs)
        return answer.status, answer.body

    def send(self, method: str, path: str, **kwargs: Any) -> Answer:
        """The whole reply, headers included, for callers that pass some of them on."""
        headers = kwargs.pop("headers", {})
        request_id = request_id_var.get()
        if request_id:
            headers[REQUEST_ID_HEADER] = request_id
        try:
            response = self.session.request(
                method, self.base_url + path, headers=headers, timeout=self.timeout, **kwargs
            )
        except requests.ConnectTimeout:
            raise ApiError(503, f"{self.name} service is unavailable") from None
        except requests.Timeout:
            raise ApiError(504, f"{self.name} service timed out") from None
        except requests.ConnectionError:
            raise ApiError(503, f"{self.name} service is unavailable") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            raise ApiError(502, f"{self.name} service sent an invalid reply")
        return Answer(response.status_code, body, response.headers)

    def post(self, path: str, payload: Any) -> tuple[int, dict[str, Any]]:
        return self.request("POST", path, json=payload)

    def get(self, path: str, **params: Any) -> tuple[int, dict[str, Any]]:
        return self.request("GET", path, params=params)

    def close(self) -> None:
        self.session.close()

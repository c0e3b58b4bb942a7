"""Login events sent to the logger off the request path: a logger that is down never fails a login."""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor

from labkit.httpclient import Downstream
from labkit.web import ApiError

log = logging.getLogger(__name__)

EVENT_NAME = "authentication"


class LoginEvents:
    def __init__(self, logger_url: str) -> None:
        self._logger = Downstream("logger", logger_url, connect_timeout=1.0, read_timeout=2.0, pool_size=2)
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="login-events")

    def logged_in(self, email: str) -> None:
        """Queue the event; it carries the current request's id."""
        context = contextvars.copy_context()
        self._executor.submit(context.run, self._send, f"{email} logged in")

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._logger.close()

    def _send(self, data: str) -> None:
        try:
            status, body = self._logger.post("/log", {"name": EVENT_NAME, "data": data})
        except ApiError as exc:
            log.warning("login event not logged: %s", exc.message)
            return
        if status != 202:
            log.warning("login event not logged: the logger answered %s %s", status, body["message"])

"""The mail catcher: an SMTP server that keeps every message and an HTTP server that shows them."""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server, select_address_family

from mailcatcher.store import Caught, MessageStore
from mailcatcher.web import create_app

log = logging.getLogger("mailcatcher")

HOSTNAME = "mailcatcher.example"


class _Handler:
    """aiosmtpd handler: every sender and recipient is accepted, every message is kept."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = Caught.received(
            envelope.mail_from or "",
            envelope.rcpt_tos,
            envelope.original_content or b"",
            session.host_name or "",
            HOSTNAME,
        )
        self.store.add(message)
        log.info("message received", extra={"mail_from": message.mail_from, "rcpt_to": message.rcpt_tos})
        return "250 Message accepted for delivery"


def _accept_any_login(*_args: Any) -> AuthResult:
    """Like MailHog, AUTH succeeds with any credentials, so a client configured to log in still works."""
    return AuthResult(success=True)


class _Controller(Controller):
    """aiosmtpd's threaded controller, able to bind port 0: it learns the real port from its socket."""

    def _trigger_server(self) -> None:
        if self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class _QuietRequestHandler(WSGIRequestHandler):
    """Request lines are logged as JSON by labkit.web, so werkzeug's own access lines are dropped."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class MailCatcher:
    """Both servers, started and stopped together. Port 0 binds a free port; the bound ones are then
    in `smtp_port` and `http_port`. STARTTLS is offered when a `tls_context` is given, never required."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        smtp_port: int = 1025,
        http_port: int = 8025,
        *,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.store = MessageStore()
        self._smtp = _Controller(
            _Handler(self.store),
            hostname=host,
            port=smtp_port,
            server_hostname=HOSTNAME,
            tls_context=tls_context,
            authenticator=_accept_any_login,
            auth_require_tls=False,
        )
        self._requested_http_port = http_port
        self._http: BaseWSGIServer | None = None
        self._http_thread: threading.Thread | None = None

    @property
    def smtp_host(self) -> str:
        return self.host

    @property
    def smtp_port(self) -> int:
        return self._smtp.port

    @property
    def http_port(self) -> int:
        return self._http.port if self._http else self._requested_http_port

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    def start(self) -> MailCatcher:
        """Bind and start both servers; an OSError (say, a port in use) leaves nothing running."""
        self._smtp.start()
        try:
            self._http = self._http_server()
        except OSError:
            self._smtp.stop()
            raise
        self._http_thread = threading.Thread(target=self._http.serve_forever, name="mailcatcher-http")
        self._http_thread.start()
        log.info(
            "mail catcher listening",
            extra={"host": self.host, "smtp_port": self.smtp_port, "http_port": self.http_port},
        )
        return self

    def _http_server(self) -> BaseWSGIServer:
        app = create_app(
            self.store,
            smtp_address=f"{self.host}:{self.smtp_port}",
            ready_check=lambda: {"smtp": self._smtp.server is not None},
        )
        # Bound here rather than by werkzeug, which prints and exits the process when a port is taken.
        family = select_address_family(self.host, self._requested_http_port)
        with socket.create_server((self.host, self._requested_http_port), family=family) as listener:
            return make_server(
                self.host,
                listener.getsockname()[1],
                app,
                threaded=True,
                request_handler=_QuietRequestHandler,
                fd=listener.fileno(),
            )

    def stop(self) -> None:
        if self._http is not None and self._http_thread is not None:
            self._http.shutdown()
            self._http_thread.join()
            self._http = None
            self._http_thread = None
        self._smtp.stop(no_assert=True)
        log.info("mail catcher stopped")

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

"""Sending over SMTP, each thread reusing its own connection, failures mapped to the contract's statuses."""

from __future__ import annotations

import logging
import select
import smtplib
import socket
import ssl
import threading
from email.message import EmailMessage

from labkit.validation import ApiError
from mail.config import Config

log = logging.getLogger("mail.smtp")

CONNECT_TIMEOUT = 2.0
REPLY_TIMEOUT = 5.0
READY_TIMEOUT = 1.0


class Mailer:
    """MAIL_ENCRYPTION none: plain SMTP; tls: STARTTLS; ssl: SMTP over TLS from the first byte.

    TLS uses `ssl_context`, normally ssl.create_default_context() (certificate and host name verified).
    Each thread keeps its connection (greeted, secured and logged in) for its next message, and first
    checks that the server has not closed it meanwhile (_closed): a connection the server closed is
    replaced before anything is sent, so no message is ever sent twice. Any failure drops the connection.
    """

    def __init__(self, config: Config, ssl_context: ssl.SSLContext) -> None:
        self.config = config
        self.ssl_context = ssl_context
        self.local = threading.local()

    def send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        client = self._client()
        try:
            client.send_message(message, sender, [recipient])
        except OSError as exc:
            self._drop()
            raise self._failure(*_classify(exc), exc) from None

    def _client(self) -> smtplib.SMTP:
        """This thread's connection unless the server closed it, else a new one (or the contract's error)."""
        client: smtplib.SMTP | None = getattr(self.local, "client", None)
        if client is not None:
            if not _closed(client):
                return client
            self._drop()
        client = self._connect()
        try:
            if self.config.mail_encryption == "tls":
                client.starttls(context=self.ssl_context)
            if self.config.mail_username:
                client.login(self.config.mail_username, self.config.mail_password)
        except OSError as exc:
            client.close()
            raise self._failure(*_classify(exc), exc) from None
        self.local.client = client
        return client

    def _drop(self) -> None:
        client: smtplib.SMTP | None = getattr(self.local, "client", None)
        self.local.client = None
        if client is not None:
            client.close()

    def reachable(self) -> bool:
        try:
            with socket.create_connection((self.config.mail_host, self.config.mail_port), READY_TIMEOUT):
                return True
        except OSError:
            return False

    def _connect(self) -> smtplib.SMTP:
        """Connected and greeted, or a 503: the server is down, unknown, silent or its TLS is not trusted."""
        address = (self.config.mail_host, self.config.mail_port)
        domain = self.config.mail_domain
        try:
            if self.config.mail_encryption == "ssl":
                client = smtplib.SMTP_SSL(
                    *address, local_hostname=domain, timeout=CONNECT_TIMEOUT, context=self.ssl_context
                )
            else:
                client = smtplib.SMTP(*address, local_hostname=domain, timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            raise self._failure(503, "mail server is unavailable", exc) from None
        if client.sock is not None:
            client.sock.settimeout(REPLY_TIMEOUT)
        return client

    def _failure(self, status: int, message: str, exc: BaseException) -> ApiError:
        log.warning(
            "%s: %s",
            message,
            exc,
            extra={
                "status": status,
                "error": type(exc).__name__,
                "mail_host": self.config.mail_host,
                "mail_port": self.config.mail_port,
            },
        )
        return ApiError(status, message)


def _closed(client: smtplib.SMTP) -> bool:
    """Whether the server has closed the connection, or is closing it: between two messages a server
    says nothing unasked but its end of the connection (or a 421 before it). A look at the socket, not a
    NOOP, which cost a round trip and a reply to parse for every message."""
    if client.sock is None:
        return True
    poll = select.poll()
    poll.register(client.sock, select.POLLIN)
    return bool(poll.poll(0))


def _classify(exc: OSError) -> tuple[int, str]:
    """smtplib reports a read or write that timed out as a disconnect caused by the TimeoutError."""
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return 504, "mail server timed out"
    if isinstance(exc, smtplib.SMTPServerDisconnected) or not isinstance(exc, smtplib.SMTPException):
        return 503, "mail server is unavailable"
    return 502, "mail server refused the message"

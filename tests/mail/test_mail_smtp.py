"""SMTP modes and failures against real servers: STARTTLS, SMTPS, login, a refusing and a stalled server.

STARTTLS and SMTPS are verified for real: the servers use a throwaway self-signed certificate, and the
mail service is handed an SSL context that trusts it (create_app's ssl_context seam; in production it
is ssl.create_default_context()). The same mail service with the default context refuses that server.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from flask.testing import FlaskClient
from mailtest import Inbox, TlsFiles

from labtest import free_port
from mail import smtp
from mailcatcher import MailCatcher

MAIL = {"to": "you@example.com", "subject": "Over TLS", "message": "Secret <stuff>."}


class Recorder:
    """An aiosmtpd handler that keeps what it receives, or refuses every recipient."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.received: list[bytes] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope.original_content or b"")
        return "250 OK"


@contextmanager
def run_server(recorder: Recorder, **settings: object) -> Iterator[int]:
    controller = Controller(recorder, **{"hostname": "127.0.0.1", "port": free_port(), **settings})
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


@pytest.fixture
def tls_catcher(tls_files: TlsFiles) -> Iterator[MailCatcher]:
    with MailCatcher("127.0.0.1", 0, 0, tls_context=tls_files.server_context()) as running:
        yield running


def test_starttls_delivers_with_a_trusted_certificate(
    mail_client: Callable[..., FlaskClient], tls_catcher: MailCatcher, tls_files: TlsFiles
) -> None:
    client = mail_client(
        ssl_context=tls_files.client_context(), mail_port=tls_catcher.smtp_port, mail_encryption="tls"
    )

    response = client.post("/send", json=MAIL)

    assert response.status_code == 202
    assert Inbox(tls_catcher.api_url).only()["Subject"] == "Over TLS"


def test_starttls_refuses_an_untrusted_certificate(
    mail_client: Callable[..., FlaskClient], tls_catcher: MailCatcher
) -> None:
    response = mail_client(mail_port=tls_catcher.smtp_port, mail_encryption="tls").post("/send", json=MAIL)

    assert response.status_code == 503
    assert response.get_json() == {"error": True, "message": "mail server is unavailable"}
    assert Inbox(tls_catcher.api_url).items() == []


def test_tls_against_a_server_without_starttls_is_refused(
    mail_client: Callable[..., FlaskClient], inbox: Inbox
) -> None:
    response = mail_client(mail_encryption="tls").post("/send", json=MAIL)

    assert response.status_code == 502
    assert response.get_json() == {"error": True, "message": "mail server refused the message"}
    assert inbox.items() == []


def test_smtps_delivers_over_tls_from_the_first_byte(
    mail_client: Callable[..., FlaskClient], tls_files: TlsFiles
) -> None:
    recorder = Recorder()
    with run_server(recorder, ssl_context=tls_files.server_context()) as port:
        client = mail_client(ssl_context=tls_files.client_context(), mail_port=port, mail_encryption="ssl")
        response = client.post("/send", json=MAIL)

        assert response.status_code == 202
        assert len(recorder.received) == 1
        assert b"Subject: Over TLS" in recorder.received[0]


def test_smtps_against_a_plain_server_is_unavailable(mail_client: Callable[..., FlaskClient]) -> None:
    response = mail_client(mail_encryption="ssl").post("/send", json=MAIL)

    assert response.status_code == 503
    assert response.get_json() == {"error": True, "message": "mail server is unavailable"}


def test_a_username_logs_in_first(mail_client: Callable[..., FlaskClient], inbox: Inbox) -> None:
    response = mail_client(mail_username="lab", mail_password="secret").post("/send", json=MAIL)

    assert response.status_code == 202
    assert inbox.only()["Subject"] == "Over TLS"


def test_a_refused_recipient_is_a_502(mail_client: Callable[..., FlaskClient]) -> None:
    recorder = Recorder(refuse=True)
    with run_server(recorder) as port:
        response = mail_client(mail_port=port).post("/send", json=MAIL)

        assert response.status_code == 502
        assert response.get_json() == {"error": True, "message": "mail server refused the message"}
        assert recorder.received == []


@pytest.fixture
def stalled_server() -> Iterator[int]:
    """Greets like an SMTP server, then never answers another line."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    done = threading.Event()

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            return
        with connection:
            connection.sendall(b"220 stalled.example ESMTP\r\n")
            done.wait(10)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        done.set()
        thread.join()
        listener.close()


def test_a_server_that_stops_answering_is_a_504(
    mail_client: Callable[..., FlaskClient], stalled_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(smtp, "REPLY_TIMEOUT", 0.5)

    response = mail_client(mail_port=stalled_server).post("/send", json=MAIL)

    assert response.status_code == 504
    assert response.get_json() == {"error": True, "message": "mail server timed out"}


class Greetings(Recorder):
    """A Recorder that also counts the sessions clients open (one EHLO each)."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions = 0

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses


def test_one_connection_carries_a_threads_messages_and_a_closed_one_is_replaced(
    mail_client: Callable[..., FlaskClient],
) -> None:
    greetings = Greetings()
    port = free_port()
    with run_server(greetings, port=port):
        client = mail_client(mail_port=port)
        for i in range(3):
            assert client.post("/send", json={**MAIL, "subject": f"first {i}"}).status_code == 202
        assert (greetings.sessions, len(greetings.received)) == (1, 3)

    # The server went away and came back: the kept connection is found closed before the next message.
    restarted = Greetings()
    with run_server(restarted, port=port):
        assert client.post("/send", json={**MAIL, "subject": "after the restart"}).status_code == 202
        assert (restarted.sessions, len(restarted.received)) == (1, 1)
        assert b"Subject: after the restart" in restarted.received[0]

"""The mail service's app pointed at the in-process mail catcher (tests/conftest.py), and TLS material."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from flask.testing import FlaskClient
from mailtest import Inbox, TlsFiles

from mail import create_app
from mail.config import Config
from mailcatcher import MailCatcher


@pytest.fixture
def inbox(catcher: MailCatcher) -> Inbox:
    return Inbox(catcher.api_url)


@pytest.fixture
def mail_client(catcher: MailCatcher) -> Callable[..., FlaskClient]:
    """A test client of the mail service sending to the catcher; keyword arguments override Config."""

    def make(ssl_context: ssl.SSLContext | None = None, **settings: Any) -> FlaskClient:
        config = replace(Config(mail_host=catcher.smtp_host, mail_port=catcher.smtp_port), **settings)
        return create_app(config, ssl_context=ssl_context).test_client()

    return make


@pytest.fixture
def client(mail_client: Callable[..., FlaskClient]) -> FlaskClient:
    return mail_client()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A throwaway self-signed certificate for 127.0.0.1 and localhost."""
    folder = tmp_path_factory.mktemp("tls")
    files = TlsFiles(folder / "cert.pem", folder / "key.pem")
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(files.key), "-out", str(files.cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return files

"""The services' source holds no credentials but the lab's documented defaults, and each of those is only
a default: the environment overrides it."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import authentication.config
import broker.config
import listener.config
import mail.config
from labrun.services import FOLDERS

ROOT = Path(__file__).resolve().parents[2]
SOURCE_FOLDERS = (*FOLDERS.values(), "project/labkit")

# A user and password inside a URL (scheme://user:password@host), a libpq "password=..." keyword,
# a private key; and names whose string value would be a secret.
URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)
LIBPQ_PASSWORD = re.compile(r"\bpassword\s*=\s*[^\s{%]", re.IGNORECASE)
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
SECRET_NAME = re.compile(r"passw|pwd|secret|token|api_?key", re.IGNORECASE)

# Every credential the source may hold, as (file, literal). Keep this list tiny; each entry is a
# documented lab default that the contract names.
ALLOWED = {
    # AMQP_URL's native default, defined once for the broker, the listener, the authentication service
    # and the native runner: RabbitMQ's built-in guest user, which RabbitMQ admits only from localhost.
    # Compose, Kubernetes and the tests set AMQP_URL.
    ("project/labkit/amqp.py", "amqp://guest:guest@127.0.0.1:5672/"),
    # The contract's seed user admin@example.com / verysecret, which the migration creates (hashed).
    ("authentication-service/authentication/db.py", "verysecret"),
    # The same seed user, whom the broker's benchmark logs in as to measure the auth action (make bench).
    ("broker-service/broker/bench.py", "verysecret"),
}


def _text(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        return node.value
    return None


def _named_values(tree: ast.AST) -> Iterator[tuple[str, ast.AST | None]]:
    """(name, value) for assignments, annotated assignments, keyword arguments and dict entries."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name | ast.Attribute):
                    yield ast.unparse(target), node.value
        elif isinstance(node, ast.AnnAssign):
            yield ast.unparse(node.target), node.value
        elif isinstance(node, ast.keyword) and node.arg:
            yield node.arg, node.value
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (name := _text(key)) is not None:
                    yield name, value


def credential_literals(source: str) -> set[str]:
    """The string literals in Python source that look like credentials."""
    tree = ast.parse(source)
    found = set()
    for node in ast.walk(tree):
        text = _text(node)
        if text and any(p.search(text) for p in (URL_CREDENTIALS, LIBPQ_PASSWORD, PRIVATE_KEY)):
            found.add(text)
    for name, value in _named_values(tree):
        text = _text(value)
        if text and SECRET_NAME.search(name):
            found.add(text)
    return found


def source_files() -> Iterator[Path]:
    for folder in SOURCE_FOLDERS:
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_the_scan_finds_credential_literals_and_nothing_else() -> None:
    source = """
BROKER = "amqp://lab:s3cret@rabbitmq:5672/"
DSN = "host=db user=lab password=s3cret"
ADMIN_PASSWORD = "hunter2"
client.login(user, password="hunter3")
headers = {"api_key": "k-123"}
self.token: str = "t-456"
KEY = "-----BEGIN RSA PRIVATE KEY-----"

mail_password: str = ""
password = env_str("MAIL_PASSWORD", "", environ)
MESSAGE = "password must be a string"
URL = "http://127.0.0.1:8083"
QUERY = "SELECT password FROM users WHERE email = %s"
SQL = "UPDATE users SET password = %s"
"""
    assert credential_literals(source) == {
        "amqp://lab:s3cret@rabbitmq:5672/",
        "host=db user=lab password=s3cret",
        "hunter2",
        "hunter3",
        "k-123",
        "t-456",
        "-----BEGIN RSA PRIVATE KEY-----",
    }


def test_the_source_holds_only_the_documented_default_credentials() -> None:
    files = list(source_files())
    assert len(files) > 30, "the scan reads the services' source"
    found = {
        (str(path.relative_to(ROOT)), literal)
        for path in files
        for literal in credential_literals(path.read_text(encoding="utf-8"))
    }
    assert found - ALLOWED == set(), "credentials in the source: read them from the environment instead"
    assert ALLOWED - found == set(), "an allowed default is gone: remove it from ALLOWED"


@pytest.mark.parametrize(
    ("config", "variable", "value", "field"),
    [
        (broker.config.Config, "AMQP_URL", "amqp://lab:s3cret@rabbitmq:5672/", "amqp_url"),
        (listener.config.Config, "AMQP_URL", "amqp://lab:s3cret@rabbitmq:5672/", "amqp_url"),
        (authentication.config.Config, "DSN", "postgresql://lab:s3cret@postgres:5432/users", "dsn"),
        (mail.config.Config, "MAIL_PASSWORD", "s3cret", "mail_password"),
    ],
    ids=["broker-amqp", "listener-amqp", "auth-dsn", "mail-password"],
)
def test_every_credential_comes_from_the_environment(
    config: Any, variable: str, value: str, field: str
) -> None:
    assert getattr(config.from_env({variable: value}), field) == value

"""Session fixtures: the backing servers every test talks to, isolated per run, and the whole lab over them.

A server named by the environment (DSN, MONGO_URL, AMQP_URL) is used as given; otherwise the machine's
local PostgreSQL and RabbitMQ are used when they answer, and private ones are started when they don't.
Each run gets its own database, vhost and ports, so runs never see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pymongo
import pytest
import requests
from answers import BrokerAnswers, checking

from labkit.net import tcp_reachable
from labrun import backing
from labrun.__main__ import RABBITMQ_METRICS_PORT
from labrun.procs import Proc, free_port
from labrun.services import Backing, scrape_targets
from labtest import Lab, prometheus_spec
from mailcatcher import MailCatcher as LocalCatcher

ROOT = Path(__file__).resolve().parent.parent
RUN_ID = f"labtest_{os.getpid()}_{uuid.uuid4().hex[:6]}"
LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_AMQP = "amqp://guest:guest@127.0.0.1:5672/"
LAB_DB = "labtest"


# A test is a `lab` test when it runs the whole lab as real processes (natively or in containers): it
# uses one of these fixtures or lives in one of these folders. `pytest -m "not lab"` leaves them out:
# the fast inner loop.
LAB_FIXTURES = frozenset({"lab", "private_lab", "docker_lab"})
LAB_FOLDERS = ("lab", "faults")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = item.path.relative_to(ROOT / "tests").parts[0]
        if folder in LAB_FOLDERS or LAB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.lab)


@dataclass(frozen=True)
class MailCatcher:
    smtp_host: str
    smtp_port: int
    api_url: str


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where this run's process logs and screenshots go (kept after the run, ignored by git)."""
    path = ROOT / "test-artifacts" / RUN_ID
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp(RUN_ID)


@pytest.fixture(scope="session")
def mongo_url(artifacts: Path) -> Iterator[str]:
    given = os.environ.get("MONGO_URL")
    if given:
        yield given
        return
    port = free_port()
    proc = Proc.start_spec(backing.secantus(port, ":memory:"), artifacts)
    try:
        yield f"mongodb://127.0.0.1:{port}"
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def pg_admin_dsn(run_dir: Path, artifacts: Path) -> Iterator[str]:
    given = os.environ.get("DSN")
    if given:
        yield given
        return
    if backing.pg_reachable(LOCAL_PG):
        yield LOCAL_PG
        return
    port = free_port()
    proc = Proc.start_spec(backing.postgres(run_dir / "pgdata", port), artifacts)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def pg_dsn(pg_admin_dsn: str) -> Iterator[str]:
    """A database of this run's own, dropped at the end."""
    dsn = backing.create_database(pg_admin_dsn, RUN_ID)
    try:
        yield dsn
    finally:
        backing.drop_database(pg_admin_dsn, RUN_ID)


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    """A RabbitMQ vhost of this run's own, deleted at the end."""
    given = os.environ.get("AMQP_URL")
    if given:
        yield given
        return
    if not tcp_reachable("127.0.0.1", 5672):
        pytest.fail(
            "RabbitMQ is not running on 127.0.0.1:5672 and AMQP_URL is not set: "
            "start it with `rabbitmq-server -detached`"
        )
    backing.create_vhost(RUN_ID)
    try:
        yield backing.with_vhost(LOCAL_AMQP, RUN_ID)
    finally:
        backing.delete_vhost(RUN_ID)


@pytest.fixture(scope="session")
def mail_catcher(artifacts: Path) -> Iterator[MailCatcher]:
    smtp_port, http_port = free_port(), free_port()
    proc = Proc.start_spec(backing.mail_catcher(smtp_port, http_port), artifacts)
    try:
        yield MailCatcher("127.0.0.1", smtp_port, f"http://127.0.0.1:{http_port}")
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def lab(pg_dsn: str, mongo_url: str, amqp_url: str, mail_catcher, artifacts: Path) -> Iterator[Lab]:
    """The whole lab as real processes over this run's backing servers, stopped by PID at the end."""
    backing = Backing(
        dsn=pg_dsn,
        mongo_url=mongo_url,
        mongo_db=LAB_DB,
        amqp_url=amqp_url,
        smtp_host=mail_catcher.smtp_host,
        smtp_port=mail_catcher.smtp_port,
        mail_ui_url=mail_catcher.api_url,
        # The broker's live panel reads this Prometheus, which the `prometheus` fixture starts when asked.
        prometheus_url=f"http://127.0.0.1:{free_port()}",
    )
    lab = Lab(backing, artifacts / "lab")
    try:
        answers = BrokerAnswers(lab.start_all().broker)
        with checking(answers):
            yield lab
    finally:
        codes = lab.stop_all()
    assert codes == dict.fromkeys(codes, 0), f"every service stops cleanly on SIGTERM: {codes}"
    assert answers.checked > 0, "the broker's answers were checked against its OpenAPI document"


@pytest.fixture(scope="session")
def prometheus(lab: Lab, run_dir: Path, artifacts: Path) -> Iterator[str]:
    """Debian's Prometheus (installed when missing, as `make run` does) scraping the lab every 2 s, on
    the port the lab's broker reads; stopped by PID at the end. Its URL."""
    port = urlsplit(lab.backing.prometheus_url).port
    targets = scrape_targets(lab.ports, f"127.0.0.1:{RABBITMQ_METRICS_PORT}")
    proc = Proc.start_spec(prometheus_spec(run_dir / "prometheus", port, targets), artifacts)
    try:
        yield lab.backing.prometheus_url
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def logs_collection(mongo_url: str) -> Iterator[pymongo.collection.Collection]:
    """The lab logger's collection."""
    client = pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=3000)
    try:
        yield client[LAB_DB]["logs"]
    finally:
        client.close()


@pytest.fixture(scope="session")
def users_db(pg_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def inbox(mail_catcher) -> Iterator[str]:
    """The mail catcher's API, emptied before the test."""
    requests.delete(f"{mail_catcher.api_url}/api/v1/messages", timeout=5).raise_for_status()
    yield mail_catcher.api_url


@pytest.fixture(scope="module")
def running_catcher() -> Iterator[LocalCatcher]:
    """A mail catcher running in this process on free ports (the fast tests' SMTP server)."""
    with LocalCatcher("127.0.0.1", 0, 0) as catcher:
        yield catcher


@pytest.fixture
def catcher(running_catcher: LocalCatcher) -> LocalCatcher:
    """The in-process mail catcher, emptied before the test."""
    requests.delete(f"{running_catcher.api_url}/api/v1/messages", timeout=5).raise_for_status()
    return running_catcher

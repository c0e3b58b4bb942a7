"""Private backing servers and the lab's six services over them, for tests that stop, kill and restart.

Everything here belongs to this folder: every process listens on a free port below the ephemeral range,
so it is still free when the process restarts; the servers keep their data in a temporary directory, so
what they stored survives a restart; the session's shared servers are never touched. They start once (a
RabbitMQ node alone takes ~16 s), and every test leaves them all running.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pymongo
import pytest
from chromium import browser, page
from faultlab import FaultLab, PrivateServers, Server
from pymongo.collection import Collection

from labrun import backing
from labrun.procs import free_port
from labrun.services import ORDER, Backing, Ports, scrape_targets
from labtest import eventually, prometheus_spec

__all__ = ["browser", "page"]

LOGS_DB = "logs"
# Logins cost ~0.3 s of CPU each at bcrypt's default cost of 12; hashing is not what these tests are about.
EXTRA_ENV = {"authentication": {"BCRYPT_COST": "4"}}


@pytest.fixture(scope="session")
def data_dir() -> Iterator[Path]:
    """The servers' data, in a directory the postgres and rabbitmq users may enter when we are root."""
    path = Path(tempfile.mkdtemp(prefix="labfaults-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def private_servers(data_dir: Path, artifacts: Path) -> Iterator[PrivateServers]:
    log_dir = artifacts / "faults"
    pg_port, amqp_port, ui_port, epmd_port, dist_port = (free_port() for _ in range(5))
    mongo_port, smtp_port, inbox_port, metrics_port = free_port(), free_port(), free_port(), free_port()
    rabbitmq = backing.rabbitmq(
        data_dir / "rabbitmq",
        port=amqp_port,
        management_port=ui_port,
        prometheus_port=metrics_port,
        epmd_port=epmd_port,
        dist_port=dist_port,
    )
    (data_dir / "mongodb").mkdir()
    servers = PrivateServers(
        postgres=Server(backing.postgres(data_dir / "postgres", pg_port), log_dir),
        rabbitmq=Server(rabbitmq, log_dir),
        mongo=Server(backing.secantus(mongo_port, str(data_dir / "mongodb")), log_dir),
        smtp=Server(backing.mail_catcher(smtp_port, inbox_port), log_dir),
        backing=Backing(
            dsn=f"postgresql://postgres@127.0.0.1:{pg_port}/users",
            mongo_url=f"mongodb://127.0.0.1:{mongo_port}",
            mongo_db=LOGS_DB,
            amqp_url=f"amqp://guest:guest@127.0.0.1:{amqp_port}/",
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            mail_ui_url=f"http://127.0.0.1:{inbox_port}",
            rabbitmq_ui_url=f"http://127.0.0.1:{ui_port}",
            # The broker's live panel reads this Prometheus, which `private_prometheus` starts when asked.
            prometheus_url=f"http://127.0.0.1:{free_port()}",
        ),
        epmd_port=epmd_port,
        rabbitmq_metrics=f"127.0.0.1:{metrics_port}",
    )
    try:
        with ThreadPoolExecutor(len(servers.all)) as pool:
            list(pool.map(Server.start, servers.all))
        backing.create_database(f"postgresql://postgres@127.0.0.1:{pg_port}/postgres", "users")
        yield servers
    finally:
        for server in servers.all:
            server.stop()
        backing.stop_epmd(epmd_port)


@pytest.fixture(scope="session")
def private_lab(private_servers: PrivateServers, artifacts: Path) -> Iterator[FaultLab]:
    """The six services as real processes over the private servers; tests may kill and restart them."""
    lab = FaultLab(private_servers.backing, artifacts / "faults" / "lab", Ports.free(), extra_env=EXTRA_ENV)
    try:
        yield lab.start_all()
    finally:
        codes = lab.stop_all()
    assert codes == dict.fromkeys(codes, 0), f"every service stops cleanly on SIGTERM: {codes}"


@pytest.fixture(scope="session")
def private_prometheus(
    private_servers: PrivateServers, private_lab: FaultLab, data_dir: Path, artifacts: Path
) -> Iterator[Server]:
    """Debian's Prometheus scraping the private lab and its RabbitMQ node's rabbitmq_prometheus plugin, on
    the port the private broker reads; tests may stop and start it (Server.down)."""
    port = urlsplit(private_servers.backing.prometheus_url).port
    targets = scrape_targets(private_lab.ports, private_servers.rabbitmq_metrics)
    server = Server(prometheus_spec(data_dir / "prometheus", port, targets), artifacts / "faults").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def logs(private_servers: PrivateServers) -> Iterator[Collection]:
    client = pymongo.MongoClient(private_servers.backing.mongo_url, serverSelectionTimeoutMS=5000)
    try:
        yield client[LOGS_DB]["logs"]
    finally:
        client.close()


@pytest.fixture(autouse=True)
def fault_lab(private_lab: FaultLab) -> FaultLab:
    """The private lab, every service ready before each test (the one before may have just restarted one)."""
    for name in ORDER:
        eventually(lambda name=name: private_lab.readiness(name), lambda status: status == 200, timeout=30)
    return private_lab

"""The lab's backing servers on one machine: reuse the ones already running, or start private ones."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from labkit.net import tcp_reachable
from labrun.procs import ServerSpec, http_ready
from labrun.scrape import write_scrape_config

PROJECT = Path(__file__).resolve().parent.parent
# The plugins of every RabbitMQ node the lab starts itself, native or in compose: the management UI and
# rabbitmq_prometheus.
ENABLED_PLUGINS = PROJECT / "rabbitmq" / "enabled_plugins"


class MissingProgram(RuntimeError):
    """A server program the lab needs is not installed; the message names the Debian package."""


def _program(name: str, package: str, extra_dirs: tuple[str, ...] = ()) -> str:
    for directory in (str(Path(sys.executable).parent), *extra_dirs):
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise MissingProgram(f"{name} is not installed: apt-get install -y {package}")
    return found


# PostgreSQL


def pg_reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def create_database(admin_dsn: str, name: str) -> str:
    """Create database `name` (if absent) on the server of admin_dsn; return a DSN for it."""
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return psycopg.conninfo.make_conninfo(admin_dsn, dbname=name)


def drop_database(admin_dsn: str, name: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _as_user(name: str) -> str | None:
    """The user a server runs as: `name` when we are root (PostgreSQL refuses root), else ourselves."""
    return name if os.geteuid() == 0 else None


def _own(path: Path, user: str | None) -> None:
    if user is not None:
        for item in (path, *path.rglob("*")):
            shutil.chown(item, user, user)


def postgres(datadir: Path, port: int, host: str = "127.0.0.1") -> ServerSpec:
    """A private PostgreSQL cluster in `datadir` (created on first start), run in the foreground."""
    bin_dirs = tuple(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
    server = _program("postgres", "postgresql", bin_dirs)
    initdb = _program("initdb", "postgresql", bin_dirs)
    user = _as_user("postgres")

    def prepare() -> None:
        if (datadir / "PG_VERSION").exists():
            return
        datadir.mkdir(parents=True, exist_ok=True)
        _own(datadir, user)
        argv = [initdb, "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
        subprocess.run(argv, check=True, capture_output=True, timeout=120, user=user, group=user)

    return ServerSpec(
        name="postgres",
        argv=[
            server,
            "-D",
            str(datadir),
            "-p",
            str(port),
            "-c",
            f"listen_addresses={host}",
            "-k",
            str(datadir),
        ],
        ready=lambda: pg_reachable(f"postgresql://postgres@{host}:{port}/postgres"),
        user=user,
        stop_signal=signal.SIGINT,
        prepare=prepare,
    )


# RabbitMQ


def rabbitmqctl(*args: str) -> str:
    ctl = _program("rabbitmqctl", "rabbitmq-server")
    done = subprocess.run([ctl, *args], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def with_vhost(amqp_url: str, vhost: str) -> str:
    parts = urlsplit(amqp_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, ""))


def create_vhost(name: str, user: str = "guest") -> None:
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")


def delete_vhost(name: str) -> None:
    rabbitmqctl("delete_vhost", name)


def rabbitmq(
    base: Path,
    *,
    port: int,
    management_port: int,
    prometheus_port: int,
    epmd_port: int,
    dist_port: int,
    host: str = "127.0.0.1",
) -> ServerSpec:
    """A private RabbitMQ node with the management and rabbitmq_prometheus plugins (a node the lab starts
    itself, so it may choose its plugins), its data and its own epmd port of ours."""
    server = _program("rabbitmq-server", "rabbitmq-server", ("/usr/lib/rabbitmq/bin",))
    user = _as_user("rabbitmq")

    def prepare() -> None:
        base.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ENABLED_PLUGINS, base / "enabled_plugins")
        (base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {host}:{port}\n"
            f"management.tcp.ip = {host}\nmanagement.tcp.port = {management_port}\n"
            f"prometheus.tcp.ip = {host}\nprometheus.tcp.port = {prometheus_port}\n"
        )
        _own(base, user)

    env = {
        "HOME": "/var/lib/rabbitmq" if user else str(base),
        "RABBITMQ_NODENAME": f"lab{port}@localhost",
        "RABBITMQ_NODE_PORT": str(port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "ERL_EPMD_PORT": str(epmd_port),
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
    }
    return ServerSpec(
        name="rabbitmq",
        argv=[server],
        ready=lambda: all(tcp_reachable(host, p) for p in (port, management_port, prometheus_port)),
        env=env,
        user=user,
        prepare=prepare,
    )


def stop_epmd(epmd_port: int) -> None:
    """Stop the epmd a private RabbitMQ node started on its own port (it outlives the node)."""
    epmd = shutil.which("epmd")
    if epmd and tcp_reachable("127.0.0.1", epmd_port):
        env = {**os.environ, "ERL_EPMD_PORT": str(epmd_port)}
        subprocess.run([epmd, "-kill"], env=env, capture_output=True, timeout=10, check=False)


# Prometheus


def prometheus(
    datadir: Path, port: int, targets: dict[str, list[str]], host: str = "127.0.0.1"
) -> ServerSpec:
    """Debian's Prometheus scraping the lab (labrun.scrape writes its config), its data in `datadir`."""
    server = _program("prometheus", "prometheus")
    config = datadir / "prometheus.yml"
    return ServerSpec(
        name="prometheus",
        argv=[
            server,
            f"--config.file={config}",
            f"--storage.tsdb.path={datadir / 'tsdb'}",
            "--storage.tsdb.retention.time=2d",
            f"--web.listen-address={host}:{port}",
            "--log.level=warn",
        ],
        ready=http_ready(f"http://{host}:{port}/-/ready"),
        prepare=lambda: write_scrape_config(config, targets),
    )


# The MongoDB wire protocol (SecantusDB) and the mail catcher


def secantus(port: int, storage: str, host: str = "127.0.0.1") -> ServerSpec:
    """A standalone server, as in the lab's containers: no replica set, so no oplog, which nothing of the
    lab reads (no change streams, no transactions) and which every write paid for (about a tenth of the
    store's CPU per event)."""
    argv = [_program("secantusd-py", "secantusdb (pip install secantusdb)")]
    argv += ["--host", host, "--port", str(port), "--storage-path", storage, "--log-level", "WARNING"]
    argv += ["--standalone"]
    return ServerSpec(name="mongodb", argv=argv, ready=lambda: tcp_reachable(host, port))


def mail_catcher(smtp_port: int, http_port: int, host: str = "127.0.0.1") -> ServerSpec:
    argv = [sys.executable, "-m", "mailcatcher", "--host", host]
    argv += ["--smtp-port", str(smtp_port), "--http-port", str(http_port)]
    return ServerSpec(
        name="mailcatcher",
        argv=argv,
        ready=lambda: tcp_reachable(host, smtp_port) and tcp_reachable(host, http_port),
        env={"PYTHONPATH": str(PROJECT)},
    )

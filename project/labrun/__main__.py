"""`python -m labrun` (`make run`): the whole lab on this machine, without Docker.

Backing servers come from the environment (or project/.env), else the ones already listening on the
contract's ports, else private ones under project/.run/. The lab's processes and the private servers
run under supervisord, which restarts a process that dies. Ctrl-C or SIGTERM stops all of it.
`python -m labrun reset` wipes the private servers' data. LABRUN_DIR moves project/.run elsewhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from labkit import amqp
from labkit.net import tcp_reachable
from labrun import backing
from labrun.procs import ServerSpec, free_port, wait_until
from labrun.scrape import write_scrape_config
from labrun.services import ORDER, Backing, Ports, scrape_targets, service_envs, service_spec
from labrun.supervisor import write_config

PROJECT = Path(__file__).resolve().parent.parent
RUN = Path(os.environ.get("LABRUN_DIR", PROJECT / ".run")).resolve()
DATA = RUN / "data"
LOCAL_PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PROMETHEUS_PORT = 9090
RABBITMQ_METRICS_PORT = 15692


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of project/.env; blank lines and # comments are skipped."""
    if not path.exists():
        return {}
    pairs = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            pairs[key.strip()] = value.strip().strip("'\"")
    return pairs


class Plan:
    """Which backing servers the lab uses, and the private ones it must start."""

    def __init__(self, env: dict[str, str], ports: Ports) -> None:
        self.env = env
        self.specs: list[ServerSpec] = []
        self.notes: list[str] = []
        self.pg_admin: str | None = None
        self.epmd_port: int | None = None
        self.dsn = self._postgres()
        self.amqp_url, self.rabbitmq_ui_url = self._rabbitmq()
        self.mongo_url = self._mongo()
        self.smtp_host, self.smtp_port, self.mail_ui_url = self._mail()
        self.prometheus_url = self._prometheus(ports)

    def _private(self, spec: ServerSpec, what: str) -> None:
        self.specs.append(spec)
        self.notes.append(f"{what}: private, data in {DATA}")

    def _postgres(self) -> str:
        if "DSN" in self.env:
            self.notes.append("PostgreSQL: DSN from the environment")
            return self.env["DSN"]
        if not backing.pg_reachable(LOCAL_PG_ADMIN):
            self._private(backing.postgres(DATA / "postgres", 5432), "PostgreSQL")
        else:
            self.notes.append("PostgreSQL: the one on 127.0.0.1:5432")
        self.pg_admin = LOCAL_PG_ADMIN
        return "postgresql://postgres@127.0.0.1:5432/users"

    def _rabbitmq(self) -> tuple[str, str]:
        if "AMQP_URL" in self.env:
            self.notes.append("RabbitMQ: AMQP_URL from the environment")
            return self.env["AMQP_URL"], ""
        ui = "http://127.0.0.1:15672" if tcp_reachable("127.0.0.1", 15672) else ""
        if tcp_reachable("127.0.0.1", 5672):
            self.notes.append("RabbitMQ: the one on 127.0.0.1:5672")
        else:
            self.epmd_port = free_port()
            spec = backing.rabbitmq(
                DATA / "rabbitmq",
                port=5672,
                management_port=15672,
                prometheus_port=RABBITMQ_METRICS_PORT,
                epmd_port=self.epmd_port,
                dist_port=25672,
            )
            self._private(spec, "RabbitMQ")
            ui = "http://127.0.0.1:15672"
        return amqp.DEFAULT_URL, ui

    def _prometheus(self, ports: Ports) -> str:
        """Prometheus: PROMETHEUS_URL as given, else the one on 9090 (whose scrape config is its owner's:
        labrun writes ours to .run/prometheus.yml to add), else Debian's, private, data under .run."""
        targets = scrape_targets(ports, f"{urlsplit(self.amqp_url).hostname}:{RABBITMQ_METRICS_PORT}")
        if "PROMETHEUS_URL" in self.env:
            self.notes.append("Prometheus: PROMETHEUS_URL from the environment")
            return self.env["PROMETHEUS_URL"]
        if tcp_reachable("127.0.0.1", PROMETHEUS_PORT):
            mine = RUN / "prometheus.yml"
            write_scrape_config(mine, targets)
            self.notes.append(f"Prometheus: the one on 127.0.0.1:{PROMETHEUS_PORT} (the lab's jobs: {mine})")
        else:
            self._private(backing.prometheus(DATA / "prometheus", PROMETHEUS_PORT, targets), "Prometheus")
        return f"http://127.0.0.1:{PROMETHEUS_PORT}"

    def _mongo(self) -> str:
        if "MONGO_URL" in self.env:
            self.notes.append("MongoDB: MONGO_URL from the environment")
            return self.env["MONGO_URL"]
        if tcp_reachable("127.0.0.1", 27017):
            self.notes.append("MongoDB: the one on 127.0.0.1:27017")
        else:
            (DATA / "mongodb").mkdir(parents=True, exist_ok=True)
            self._private(backing.secantus(27017, str(DATA / "mongodb")), "MongoDB (SecantusDB)")
        return "mongodb://127.0.0.1:27017"

    def _mail(self) -> tuple[str, int, str]:
        ui = self.env.get("MAIL_UI_URL", "http://127.0.0.1:8025")
        if "MAIL_HOST" in self.env:
            self.notes.append("SMTP: MAIL_HOST from the environment")
            return self.env["MAIL_HOST"], int(self.env.get("MAIL_PORT", "1025")), ui
        if tcp_reachable("127.0.0.1", 1025):
            self.notes.append("SMTP: the one on 127.0.0.1:1025")
        else:
            self.specs.append(backing.mail_catcher(1025, 8025))
            self.notes.append("SMTP: the lab's mail catcher")
        return "127.0.0.1", 1025, ui


def install_missing(error: backing.MissingProgram) -> bool:
    """Install the Debian package a missing server program comes in, when we are root with apt."""
    package = str(error).rpartition("apt-get install -y ")[2]
    if os.geteuid() != 0 or not shutil.which("apt-get") or not package:
        return False
    print(f"installing {package} ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=False, env=env)
    return subprocess.run(["apt-get", "install", "-y", "-q", package], check=False, env=env).returncode == 0


def make_plan(env: dict[str, str], ports: Ports) -> Plan:
    for _ in range(3):
        try:
            return Plan(env, ports)
        except backing.MissingProgram as error:
            if not install_missing(error):
                sys.exit(f"labrun: {error}")
    return Plan(env, ports)


def banner(ports: Ports, plan: Plan) -> str:
    rows = [
        ("test page", f"http://127.0.0.1:{ports.frontend}"),
        ("broker", f"http://127.0.0.1:{ports.broker}"),
        ("mail inbox", plan.mail_ui_url),
    ]
    if plan.rabbitmq_ui_url:
        rows.append(("RabbitMQ management", f"{plan.rabbitmq_ui_url} (guest/guest)"))
    rows.append(("Prometheus", plan.prometheus_url))
    lines = ["", "The lab is up:"] + [f"  {name:<20} {url}" for name, url in rows]
    lines += ["", *(f"  {note}" for note in plan.notes), "", "Ctrl-C stops everything.", ""]
    return "\n".join(lines)


class Supervisor:
    """supervisord in the foreground; a stop asked for before it started stops it as soon as it has."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.stopping = False

    def stop(self, *_: object) -> None:
        self.stopping = True
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def start(self, conf: Path) -> None:
        supervisord = str(Path(sys.executable).parent / "supervisord")
        self.process = subprocess.Popen([supervisord, "-n", "-c", str(conf)])
        if self.stopping:
            self.stop()

    def wait_until(self, check: Callable[[], bool], what: str) -> bool:
        """Wait for check() unless a stop comes first; False when stopping."""
        wait_until(lambda: self.stopping or check(), 120, what)
        return not self.stopping


def run() -> int:
    supervisor = Supervisor()
    signal.signal(signal.SIGINT, supervisor.stop)
    signal.signal(signal.SIGTERM, supervisor.stop)
    env = {**read_dotenv(PROJECT / ".env"), **os.environ}
    ports = Ports()
    busy = [str(port) for port in vars(ports).values() if tcp_reachable("127.0.0.1", port)]
    if busy:
        sys.exit(f"labrun: port(s) {', '.join(busy)} already in use: is the lab running already?")
    plan = make_plan(env, ports)
    lab = Backing(
        dsn=plan.dsn,
        mongo_url=plan.mongo_url,
        amqp_url=plan.amqp_url,
        smtp_host=plan.smtp_host,
        smtp_port=plan.smtp_port,
        mail_ui_url=plan.mail_ui_url,
        rabbitmq_ui_url=plan.rabbitmq_ui_url,
        prometheus_url=plan.prometheus_url,
    )
    envs = service_envs(ports, lab)
    services = [service_spec(name, envs[name]) for name in ORDER]
    for spec in plan.specs:
        if spec.prepare is not None:
            spec.prepare()
    supervisor.start(write_config(RUN, plan.specs, services))
    try:
        if supervisor.wait_until(lambda: all(spec.ready() for spec in plan.specs), "the backing servers"):
            if plan.pg_admin:
                backing.create_database(plan.pg_admin, "users")
            if supervisor.wait_until(lambda: all(spec.ready() for spec in services), "the lab's services"):
                print(banner(ports, plan), flush=True)
    except TimeoutError as exc:
        print(f"labrun: {exc}; see the log above", file=sys.stderr, flush=True)
        supervisor.stop()
    code = supervisor.process.wait() if supervisor.process else 1
    if plan.epmd_port:
        backing.stop_epmd(plan.epmd_port)
    return code


def reset() -> int:
    pidfile = RUN / "supervisord.pid"
    if pidfile.exists() and tcp_reachable("127.0.0.1", Ports().broker):
        sys.exit("labrun: the lab is running; stop it before a reset")
    shutil.rmtree(DATA, ignore_errors=True)
    print(f"wiped {DATA}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["reset"]:
        sys.exit(reset())
    sys.exit(run())

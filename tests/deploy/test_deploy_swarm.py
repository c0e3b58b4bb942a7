"""The lab scaled out on a real single-node Docker Swarm behind Caddy, run as a user runs it: `make
swarm-up IMAGES=local` (the images compose builds, deployed with project/swarm.yml), then only through
Caddy's port on 127.0.0.1: every transport, auth, mail and the test page; the listener scaled from 1 to 3
during a burst; a rolling update of the broker under a steady stream; `docker kill` of a logger and a
listener replica during a burst. Nothing accepted is lost, nothing is stored twice, no request fails.

The engine is the one that answers, or a private dockerd (docker_engine.py), shared with the Docker
test. The swarm is the engine's own when it has one, else a single-node swarm made here and left at the
end; the stack, its volumes and configs are removed. Marked `docker`; `pytest -m "not docker"` leaves it
out.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import count, cycle
from pathlib import Path

import pytest
import requests
import yaml
from chromium import BUTTONS, expect_each_transport_stored, press
from deploy_support import PROJECT, venv_tool
from docker_engine import docker_cli, make_in
from playwright.sync_api import Page, expect

from broker.config import TRANSPORTS
from labkit.events import LEVELS
from labkit.net import tcp_reachable
from labtest import eventually

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

STACK = "labtest-swarm"
PORT = 8000
ENTRY = f"http://127.0.0.1:{PORT}"
API = f"{ENTRY}/api"
PAGE = f"http://localhost:{PORT}"
INBOX_HOST = f"inbox.localhost:{PORT}"
STACK_LABEL = f"label=com.docker.stack.namespace={STACK}"
SWARM_FILE = PROJECT / "swarm.yml"
LAB_SERVICES = {"logger", "authentication", "mail", "listener", "broker", "front-end"}
SEED_USER = {"email": "admin@example.com", "password": "verysecret"}
# The broker's GET /logs shows the newest 1000 entries of a level: a check covers fewer of its own.
WINDOW = 1000


def file_replicas() -> dict[str, int]:
    """Each service's replicas, as swarm.yml sets them."""
    services = yaml.safe_load(SWARM_FILE.read_text())["services"]
    return {name: spec["deploy"]["replicas"] for name, spec in services.items()}


@dataclass
class Swarm:
    env: dict[str, str]
    log: Path
    outputs: dict[str, str] = field(default_factory=dict)

    def make(self, target: str, *variables: str, check: bool = True) -> str:
        """`make <target> IMAGES=local STACK=...` in project/, as a user types it; fails with its output."""
        return make_in(
            self.env, self.log, PROJECT, target, "IMAGES=local", f"STACK={STACK}", *variables, check=check
        )

    def docker(self, *args: str, timeout: float = 300) -> str:
        return docker_cli(self.env, *args, timeout=timeout)

    def listing(self, *args: str) -> list[str]:
        return self.docker(*args).split()

    def stack_objects(self) -> dict[str, list[str]]:
        """The stack's services, containers, networks, configs and volumes, by the stack's label."""
        return {
            "service": self.listing("service", "ls", "--quiet", "--filter", STACK_LABEL),
            "container": self.listing("ps", "--all", "--quiet", "--filter", STACK_LABEL),
            "network": self.listing("network", "ls", "--quiet", "--filter", STACK_LABEL),
            "config": self.listing("config", "ls", "--quiet", "--filter", STACK_LABEL),
            "volume": self.listing("volume", "ls", "--quiet", "--filter", STACK_LABEL),
        }

    def services(self) -> dict[str, dict]:
        """Each service's spec and running replicas, by its name in swarm.yml."""
        ids = self.listing("service", "ls", "--quiet", "--filter", STACK_LABEL)
        specs = json.loads(self.docker("service", "inspect", *ids))
        shape = "{{.Name}} {{.CurrentState}}"
        tasks = self.docker("service", "ps", *ids, "--filter", "desired-state=running", "--format", shape)
        running = Counter(
            line.split()[0].rsplit(".", 1)[0] for line in tasks.splitlines() if line.split()[1] == "Running"
        )
        return {
            spec["Spec"]["Name"].removeprefix(f"{STACK}_"): {**spec, "running": running[spec["Spec"]["Name"]]}
            for spec in specs
        }

    def running(self) -> dict[str, int]:
        return {name: spec["running"] for name, spec in self.services().items()}

    def containers(self, service: str) -> list[str]:
        """The running containers of one service's replicas."""
        return self.listing(
            "ps", "--quiet", "--filter", f"label=com.docker.swarm.service.name={STACK}_{service}"
        )

    def replica_logs(self, service: str, since: str) -> dict[str, str]:
        """What each replica (container, running or not) of a service logged since a time. Read per
        container: `docker service logs` can hang once a task of the service was removed."""
        label = f"label=com.docker.swarm.service.name={STACK}_{service}"
        return {
            container: self.docker("logs", "--since", since, container)
            for container in self.listing("ps", "--all", "--quiet", "--filter", label)
        }

    def stored_events(self, service: str, since: str) -> dict[str, set[str]]:
        """The event ids each replica of a service logged as stored since a time."""
        pattern = re.compile(r'"message": "stored event ([^"]+)"')
        logs = self.replica_logs(service, since)
        return {container: set(pattern.findall(text)) for container, text in logs.items()}


def swarm_state(swarm: Swarm) -> str:
    return swarm.docker("info", "--format", "{{.Swarm.LocalNodeState}}").strip()


@pytest.fixture(scope="module")
def swarm(artifacts: Path, engine_env: dict[str, str]) -> Iterator[Swarm]:
    env = {**engine_env, "DOCKER_COMPOSE": str(venv_tool("docker-compose"))}
    env.pop("IMAGES", None)
    if tcp_reachable("127.0.0.1", PORT):
        pytest.fail(f"127.0.0.1:{PORT} is taken: the swarm stack publishes Caddy there")
    lab = Swarm(env, artifacts / "docker" / "swarm.log")
    made_swarm = swarm_state(lab) != "active"
    networks_before = set(lab.listing("network", "ls", "--quiet"))
    if made_swarm:
        lab.outputs["no swarm"] = lab.make("swarm-ps", check=False)
        lab.make("swarm-init")
    try:
        lab.outputs["swarm-up"] = lab.make("swarm-up")
        yield lab
    finally:
        lab.make("swarm-down", check=False)
        eventually(lambda: lab.stack_objects()["container"], lambda found: not found, timeout=120)
        volumes = lab.stack_objects()["volume"]
        if volumes:
            lab.docker("volume", "rm", *volumes)
        leftovers = lab.stack_objects()
        if made_swarm:
            lab.make("swarm-leave")
    assert leftovers == {kind: [] for kind in leftovers}
    if made_swarm:
        assert swarm_state(lab) == "inactive"
        assert set(lab.listing("network", "ls", "--quiet")) == networks_before


def handle(body: dict, timeout: float = 20) -> requests.Response:
    return requests.post(f"{API}/handle", json=body, timeout=timeout)


def log_body(data: str, transport: str, level: str = "INFO") -> dict:
    return {
        "action": "log",
        "log": {"name": "swarm-test", "data": data, "level": level},
        "transport": transport,
    }


def stored(prefix: str, level: str = "INFO") -> list[dict]:
    """The stored entries of a level whose data starts with prefix, through Caddy and the broker."""
    reply = requests.get(f"{API}/logs", params={"limit": WINDOW, "level": level}, timeout=20)
    reply.raise_for_status()
    return [entry for entry in reply.json()["data"] if entry["data"].startswith(prefix)]


def expect_stored_once(run: str, accepted: dict[str, tuple[str, str]], timeout: float = 120) -> None:
    """Every accepted event (data -> (level, event_id)) is stored exactly once, nothing else of the run."""
    for level in LEVELS:
        mine = {data: event_id for data, (lvl, event_id) in accepted.items() if lvl == level}
        assert len(mine) < WINDOW, "a check covers fewer events of a level than GET /logs shows"
        wanted = len(mine)
        entries = eventually(
            lambda level=level: stored(run, level),
            lambda found, wanted=wanted: len(found) >= wanted,
            timeout=timeout,
        )
        assert sorted((e["data"], e["event_id"]) for e in entries) == sorted(mine.items()), level


@dataclass
class Load:
    """Log events sent through Caddy from a few threads, cycling over transports and levels, each
    request's answer kept: the event id of a 202, or what went wrong."""

    tag: str
    transports: tuple[str, ...] = TRANSPORTS
    workers: int = 4
    pause: float = 0.0
    accepted: dict[str, tuple[str, str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, i: int, transport: str) -> None:
        data, level = f"{self.tag} {i}", LEVELS[i % len(LEVELS)]
        event_id, failure = None, None
        try:
            reply = handle(log_body(data, transport, level))
            if reply.status_code == 202:
                event_id = reply.json()["data"]["event_id"]
            else:
                failure = f"{transport} {i}: {reply.status_code} {reply.text[:200]}"
        except (requests.RequestException, ValueError, KeyError) as exc:
            failure = f"{transport} {i}: {exc!r}"
        with self.lock:
            self.sent += 1
            if event_id:
                self.accepted[data] = (level, event_id)
            else:
                self.failures.append(failure or "")
        time.sleep(self.pause)

    def run(self, until: threading.Event | int) -> None:
        """Send until the event is set, or this many events, with at most `workers` requests in flight."""
        numbers = range(until) if isinstance(until, int) else count()
        slots = threading.Semaphore(self.workers)
        with ThreadPoolExecutor(self.workers) as pool:
            futures = []
            for i, transport in zip(numbers, cycle(self.transports)):
                if isinstance(until, threading.Event) and until.is_set():
                    break
                slots.acquire()
                futures.append(pool.submit(self.send, i, transport))
                futures[-1].add_done_callback(lambda _done: slots.release())
        for future in futures:
            future.result()

    def start(self, until: threading.Event | int) -> threading.Thread:
        sender = threading.Thread(target=self.run, args=(until,))
        sender.start()
        return sender

    def wait_sent(self, count: int, timeout: float = 120) -> None:
        eventually(lambda: self.sent, lambda sent: sent >= count, timeout=timeout)


def test_without_a_swarm_make_says_how_to_get_one(swarm: Swarm) -> None:
    if "no swarm" not in swarm.outputs:
        pytest.skip("the engine was a swarm manager already")
    assert "This Docker engine is not a swarm manager" in swarm.outputs["no swarm"]
    assert "make swarm-init" in swarm.outputs["no swarm"]


def test_every_service_runs_its_replicas_ready_with_dnsrr_and_caddy_alone_published(swarm: Swarm) -> None:
    wanted = file_replicas()
    assert all(wanted[name] >= 2 for name in LAB_SERVICES)
    services = swarm.services()
    assert {name: spec["running"] for name, spec in services.items()} == wanted
    for name, spec in services.items():
        assert spec["Spec"]["EndpointSpec"]["Mode"] == "dnsrr", name
        order = spec["Spec"]["UpdateConfig"]["Order"]
        assert order == ("start-first" if name in LAB_SERVICES else "stop-first"), name
        if name in LAB_SERVICES | {"caddy"}:
            assert spec["Spec"]["TaskTemplate"]["ContainerSpec"].get("Init") is True, name
    published = {
        name: [(p["PublishedPort"], p["PublishMode"]) for p in spec["Spec"]["EndpointSpec"].get("Ports", [])]
        for name, spec in services.items()
    }
    assert {name: ports for name, ports in published.items() if ports} == {"caddy": [(PORT, "host")]}
    if "no swarm" in swarm.outputs:
        (caddy,) = swarm.containers("caddy")
        bound = json.loads(swarm.docker("inspect", "--format", "{{json .NetworkSettings.Ports}}", caddy))
        assert {binding["HostIp"] for binding in bound["80/tcp"]} == {"127.0.0.1"}, "make swarm-init's bridge"


def test_every_transport_through_caddy_stores_exactly_one_document(swarm: Swarm) -> None:
    run = uuid.uuid4().hex
    accepted = {}
    for transport in TRANSPORTS:
        reply = handle(log_body(f"{run} {transport}", transport))
        assert reply.status_code == 202, reply.text
        assert reply.json()["message"] == f"logged via {transport}"
        accepted[f"{run} {transport}"] = ("INFO", reply.json()["data"]["event_id"])
    expect_stored_once(run, accepted, timeout=60)


def test_calls_spread_over_the_broker_replicas(swarm: Swarm) -> None:
    """Caddy sends requests round robin: each broker replica answers some (they log each request's id)."""
    since = swarm.docker("info", "--format", "{{.SystemTime}}").strip()
    run = uuid.uuid4().hex
    for i in range(20):
        reply = requests.post(f"{API}/", headers={"X-Request-ID": f"{run}-{i}"}, timeout=10)
        assert reply.json()["message"] == "Hit the broker"

    def replicas_that_answered() -> set[str]:
        logs = swarm.replica_logs("broker", since)
        return {container for container, text in logs.items() if run in text}

    eventually(replicas_that_answered, lambda tasks: len(tasks) >= 2, timeout=30)


def test_the_seed_user_logs_in_and_a_mail_reaches_the_inbox_through_caddy(swarm: Swarm) -> None:
    reply = handle({"action": "auth", "auth": SEED_USER})
    assert reply.status_code == 202, reply.text
    assert reply.json()["message"] == "Authenticated!"
    assert reply.json()["data"]["email"] == SEED_USER["email"]
    subject = f"swarm test {uuid.uuid4().hex}"
    mail = {"from": "me@example.com", "to": "you@example.com", "subject": subject, "message": "hello"}
    reply = handle({"action": "mail", "mail": mail})
    assert reply.status_code == 202, reply.text
    assert reply.json()["message"] == "Message sent to you@example.com"

    def subjects() -> list[str]:
        inbox = requests.get(f"{ENTRY}/api/v2/messages", headers={"Host": INBOX_HOST}, timeout=10)
        return [s for item in inbox.json()["items"] for s in item["Content"]["Headers"]["Subject"]]

    eventually(subjects, lambda found: subject in found)


def test_the_broker_s_cors_list_names_caddy_s_other_origin(swarm: Swarm) -> None:
    """The page shares the broker's origin behind Caddy; opened at 127.0.0.1 instead, CORS lets it call."""
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    allowed = requests.options(f"{API}/handle", headers={"Origin": ENTRY, **preflight}, timeout=10)
    assert allowed.headers.get("Access-Control-Allow-Origin") == ENTRY
    other = requests.options(
        f"{API}/handle", headers={"Origin": "http://example.com", **preflight}, timeout=10
    )
    assert "Access-Control-Allow-Origin" not in other.headers


def test_every_button_of_the_test_page_works_in_chromium_through_caddy(swarm: Swarm, page: Page) -> None:
    page.goto(PAGE)
    expect(page.get_by_test_id("logs-status")).to_have_attribute("data-state", "live")
    for button in BUTTONS:
        press(page, *button)
    expect_each_transport_stored(page)


def test_listener_scaled_from_1_to_3_during_a_burst_stores_each_event_once(swarm: Swarm) -> None:
    swarm.make("swarm-scale", "SERVICE=listener", "REPLICAS=1")
    since = swarm.docker("info", "--format", "{{.SystemTime}}").strip()
    load = Load(uuid.uuid4().hex, transports=("rabbitmq",), workers=4)
    sender = load.start(2000)
    try:
        load.wait_sent(200)
        swarm.make("swarm-scale", "SERVICE=listener", "REPLICAS=3")
    finally:
        sender.join()
    assert load.failures == []
    assert swarm.running()["listener"] == 3
    expect_stored_once(load.tag, load.accepted)
    ours = {event_id for _level, event_id in load.accepted.values()}
    by_replica = {task: ids & ours for task, ids in swarm.stored_events("listener", since).items()}
    assert set().union(*by_replica.values()) == ours, "each event is in one replica's log"
    assert sum(1 for ids in by_replica.values() if ids) > 1, {t: len(ids) for t, ids in by_replica.items()}
    swarm.make("swarm-scale", "SERVICE=listener", f"REPLICAS={file_replicas()['listener']}")


def test_a_rolling_update_of_the_broker_fails_no_request_of_a_steady_stream(swarm: Swarm) -> None:
    before = set(swarm.containers("broker"))
    load = Load(uuid.uuid4().hex, workers=4, pause=0.1)
    stop = threading.Event()
    sender = load.start(stop)
    try:
        load.wait_sent(40)
        swarm.docker("service", "update", "--force", "--detach=false", f"{STACK}_broker", timeout=600)
        sent = load.sent
        load.wait_sent(sent + 40)
    finally:
        stop.set()
        sender.join()
    assert load.failures == []
    after = set(swarm.containers("broker"))
    assert len(after) == file_replicas()["broker"] and not after & before, "every replica was replaced"
    expect_stored_once(load.tag, load.accepted)


def test_docker_kill_of_a_logger_and_a_listener_replica_loses_and_fails_nothing(swarm: Swarm) -> None:
    killed = {service: swarm.containers(service)[0] for service in ("logger", "listener")}
    load = Load(uuid.uuid4().hex, workers=4, pause=0.02)
    sender = load.start(1200)
    try:
        load.wait_sent(300)
        swarm.docker("kill", *killed.values())
    finally:
        sender.join()
    assert load.failures == []
    expect_stored_once(load.tag, load.accepted)

    def rescheduled() -> dict[str, list[str]]:
        return {service: swarm.containers(service) for service in killed}

    replicas = file_replicas()
    now = eventually(
        rescheduled,
        lambda found: (
            all(len(found[s]) == replicas[s] and killed[s] not in found[s] for s in killed)
            and swarm.running() == replicas
        ),
        timeout=180,
    )
    assert all(killed[s] not in now[s] for s in killed)

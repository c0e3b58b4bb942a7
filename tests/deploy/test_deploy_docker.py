"""The whole lab in containers on a real Docker engine, run as a user runs it: `make up-build IMAGES=local`
(every image built here, no registry needed), then every path through the ports compose publishes on
127.0.0.1, the test page in Chromium, a per-service rebuild, the restart policy, and data kept across
`make down` and `make up`. The engine is the one that answers, or a private dockerd (docker_engine.py).

Marked `docker`; `pytest -m "not docker"` leaves it out.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from chromium import BUTTONS, expect_each_transport_stored, press
from deploy_support import PROJECT, ROOT, venv_tool
from docker_engine import docker_cli, make_in
from playwright.sync_api import Page, expect

from broker.config import TRANSPORTS
from labkit.net import tcp_reachable
from labtest import eventually

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

COMPOSE_PROJECT = "labtest-docker"
BROKER = "http://127.0.0.1:8080"
TEST_PAGE = "http://127.0.0.1:8081"
INBOX = "http://127.0.0.1:8025"
SERVICES = {
    "postgres", "mongo", "rabbitmq", "mailhog", "prometheus",
    "logger", "authentication", "mail", "listener", "broker", "front-end",
}  # fmt: skip
PUBLISHED_PORTS = (8080, 8081, 8025, 15672)
SEED_USER = {"email": "admin@example.com", "password": "verysecret"}


@dataclass(frozen=True)
class Container:
    id: str
    started_at: str
    health: str
    restarts: int


@dataclass
class DockerLab:
    env: dict[str, str]
    log: Path
    outputs: list[str] = field(default_factory=list)

    def make(self, target: str, project: Path = PROJECT) -> str:
        """`make <target> IMAGES=local` in project/, as a user types it; fails with its output."""
        return make_in(self.env, self.log, project, target, "IMAGES=local")

    def docker(self, *args: str) -> str:
        return docker_cli(self.env, *args)

    def project_objects(self, kind: str) -> list[str]:
        """The names of this project's containers, networks or volumes, by compose's label."""
        label = f"label=com.docker.compose.project={COMPOSE_PROJECT}"
        listing = ["ps", "--all"] if kind == "container" else [kind, "ls"]
        return self.docker(
            *listing, "--filter", label, "--format", "{{.Names}}" if kind != "volume" else "{{.Name}}"
        ).split()

    def containers(self) -> dict[str, Container]:
        ids = self.docker(
            "ps", "--all", "--quiet", "--filter", f"label=com.docker.compose.project={COMPOSE_PROJECT}"
        )
        found = {}
        for item in json.loads(self.docker("inspect", *ids.split())) if ids.split() else []:
            state = item["State"]
            found[item["Config"]["Labels"]["com.docker.compose.service"]] = Container(
                id=item["Id"],
                started_at=state["StartedAt"],
                health=state.get("Health", {}).get("Status", "none") if state["Running"] else "stopped",
                restarts=item["RestartCount"],
            )
        return found


@pytest.fixture(scope="module")
def docker_lab(artifacts: Path, engine_env: dict[str, str]) -> Iterator[DockerLab]:
    log_dir = artifacts / "docker"
    env = {
        **engine_env,
        "COMPOSE_PROJECT_NAME": COMPOSE_PROJECT,
        "DOCKER_COMPOSE": str(venv_tool("docker-compose")),
    }
    env.pop("IMAGES", None)
    taken = [port for port in PUBLISHED_PORTS if tcp_reachable("127.0.0.1", port)]
    if taken:
        pytest.fail(f"127.0.0.1 ports {taken} are taken (a native lab?): compose publishes the lab there")
    lab = DockerLab(env, log_dir / "make.log")
    try:
        lab.outputs.append(lab.make("up-build"))
        yield lab
    finally:
        compose = [
            str(venv_tool("docker-compose")),
            *("--project-directory", str(PROJECT), "--file", str(PROJECT / "docker-compose.yml")),
            *("--file", str(PROJECT / "docker-compose.local.yml")),
        ]
        down = subprocess.run(
            [*compose, "down", "--volumes", "--timeout", "20"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        leftovers = {kind: lab.project_objects(kind) for kind in ("container", "network", "volume")}
    assert down.returncode == 0, down.stderr
    assert leftovers == {"container": [], "network": [], "volume": []}


def handle(body: dict) -> requests.Response:
    return requests.post(f"{BROKER}/handle", json=body, timeout=15)


def stored(prefix: str) -> list[dict]:
    """The stored log entries whose data starts with prefix, as the broker's GET /logs shows them."""
    reply = requests.get(f"{BROKER}/logs", params={"limit": 1000}, timeout=15)
    reply.raise_for_status()
    return [entry for entry in reply.json()["data"] if entry["data"].startswith(prefix)]


def log_event(data: str, transport: str) -> str:
    reply = handle({"action": "log", "log": {"name": "docker-test", "data": data}, "transport": transport})
    assert reply.status_code == 202, reply.text
    assert reply.json()["message"] == f"logged via {transport}"
    return reply.json()["data"]["event_id"]


def test_up_build_says_it_uses_local_images_and_every_container_is_healthy(docker_lab: DockerLab) -> None:
    assert "Images: local (IMAGES=local)" in docker_lab.outputs[0]
    containers = docker_lab.containers()
    assert set(containers) == SERVICES
    assert {name: c.health for name, c in containers.items()} == dict.fromkeys(SERVICES, "healthy")


def test_every_transport_stores_exactly_one_document(docker_lab: DockerLab) -> None:
    run = uuid.uuid4().hex
    sent = {transport: log_event(f"{run} {transport}", transport) for transport in TRANSPORTS}
    entries = eventually(lambda: stored(run), lambda found: len(found) >= len(TRANSPORTS), timeout=30)
    assert sorted((e["data"], e["transport"], e["event_id"]) for e in entries) == sorted(
        (f"{run} {transport}", transport, event_id) for transport, event_id in sent.items()
    )


def test_compose_s_prometheus_scrapes_the_lab_and_the_live_panel_reads_it(docker_lab: DockerLab) -> None:
    """The broker's GET /metrics/live answers from compose's Prometheus: after a burst over every
    transport, the stored rate of each shows there."""
    run = uuid.uuid4().hex
    for i in range(20):
        for transport in TRANSPORTS:
            log_event(f"{run} live {i}", transport)

    def storing() -> set[str]:
        """The transports whose stored rate Prometheus has seen above zero."""
        reply = requests.get(f"{BROKER}/metrics/live", timeout=15)
        series = reply.json()["data"]["series"]["stored"] if reply.ok else []
        return {item["transport"] for item in series if any(value for _t, value in item["points"])}

    eventually(storing, lambda transports: transports == set(TRANSPORTS), timeout=60)


def test_the_seed_user_logs_in(docker_lab: DockerLab) -> None:
    reply = handle({"action": "auth", "auth": SEED_USER})
    assert reply.status_code == 202, reply.text
    assert reply.json()["message"] == "Authenticated!"
    assert reply.json()["data"]["email"] == SEED_USER["email"]


def test_a_mail_reaches_the_catchers_api(docker_lab: DockerLab) -> None:
    subject = f"docker test {uuid.uuid4().hex}"
    mail = {"from": "me@example.com", "to": "you@example.com", "subject": subject, "message": "hello"}
    reply = handle({"action": "mail", "mail": mail})
    assert reply.status_code == 202, reply.text
    assert reply.json()["message"] == "Message sent to you@example.com"

    def subjects() -> list[str]:
        items = requests.get(f"{INBOX}/api/v2/messages", timeout=10).json()["items"]
        return [s for item in items for s in item["Content"]["Headers"]["Subject"]]

    eventually(subjects, lambda found: subject in found)


def test_every_button_of_the_test_page_works_in_chromium(docker_lab: DockerLab, page: Page) -> None:
    page.goto(TEST_PAGE)
    expect(page.get_by_test_id("logs-status")).to_have_attribute("data-state", "live")
    for button in BUTTONS:
        press(page, *button)
    expect_each_transport_stored(page)


def test_build_broker_recreates_the_broker_alone_and_serves_the_change(
    docker_lab: DockerLab, tmp_path: Path
) -> None:
    """The change is made in a copy of the repository, so the working tree is never touched."""
    copy = tmp_path / "repository"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", ".docker", "test-artifacts", "__pycache__", ".*_cache"
        ),
    )
    source = copy / "broker-service" / "broker" / "routes.py"
    assert '"Hit the broker"' in source.read_text()
    source.write_text(source.read_text().replace('"Hit the broker"', '"Hit the rebuilt broker"'))
    before = docker_lab.containers()
    try:
        docker_lab.make("build-broker", project=copy / "project")
        after = docker_lab.containers()
        assert after["broker"].id != before["broker"].id
        others = SERVICES - {"broker"}
        assert {s: after[s] for s in others} == {s: before[s] for s in others}, "no other container restarted"

        def hit() -> str:
            try:
                return requests.post(f"{BROKER}/", timeout=5).json()["message"]
            except requests.RequestException as exc:
                return repr(exc)

        try:
            eventually(hit, lambda message: message == "Hit the rebuilt broker", timeout=60)
        except AssertionError as exc:
            logs = docker_lab.docker("logs", "--tail", "40", docker_lab.containers()["broker"].id)
            raise AssertionError(f"{exc}\nthe broker's last log lines:\n{logs}") from None
    finally:
        docker_lab.make("build-broker")
    eventually(
        lambda: docker_lab.containers()["broker"].health, lambda health: health == "healthy", timeout=90
    )


def test_a_killed_logger_comes_back_and_every_accepted_event_is_stored_once(docker_lab: DockerLab) -> None:
    """The logger's process is killed (SIGKILL from the host) during a burst, as a crash would end it:
    `docker kill` would not do, since Docker counts it as a manual stop, which no restart policy undoes."""
    run, count = uuid.uuid4().hex, 150
    logger = docker_lab.containers()["logger"]
    accepted = {}
    for i in range(count):
        if i == count // 3:
            pid = int(docker_lab.docker("inspect", "--format", "{{.State.Pid}}", logger.id))
            os.kill(pid, signal.SIGKILL)
        accepted[f"{run} {i}"] = log_event(f"{run} {i}", "rabbitmq")
    back = eventually(
        lambda: docker_lab.containers()["logger"],
        lambda c: c.health == "healthy" and c.restarts > logger.restarts,
        timeout=120,
    )
    assert back.id == logger.id, "the same container, restarted by its restart policy"
    entries = eventually(lambda: stored(run), lambda found: len(found) >= count, timeout=120)
    assert sorted((e["data"], e["event_id"]) for e in entries) == sorted(accepted.items())


def test_down_then_up_keeps_the_stored_events_and_the_seed_user(docker_lab: DockerLab) -> None:
    marker = f"kept {uuid.uuid4().hex}"
    event_id = log_event(marker, "http")
    user = handle({"action": "auth", "auth": SEED_USER}).json()["data"]
    docker_lab.make("down")
    assert docker_lab.project_objects("container") == []
    assert "Images: local (IMAGES=local)" in docker_lab.make("up")
    assert [e["event_id"] for e in stored(marker)] == [event_id]
    again = handle({"action": "auth", "auth": SEED_USER})
    assert again.status_code == 202, again.text
    assert again.json()["data"] == {**user, "updated_at": again.json()["data"]["updated_at"]}

"""project/docker-compose.yml, checked offline with the Compose binary's own `config` (no Docker engine):
health everywhere, start order by health, only the user-facing ports published, credentials from .env,
and each service's environment exactly what its code reads."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from deploy_support import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    PROJECT,
    compose_config,
    compose_service_of,
    env_vars_read,
    lab_services,
    run,
    venv_tool,
)

from labrun.backing import ENABLED_PLUGINS
from labrun.scrape import RABBITMQ_JOB, scrape_config
from labrun.services import FOLDERS

SERVICES = lab_services()
BACKING = {"postgres", "mongo", "rabbitmq", "mailhog", "prometheus"}
USER_PORTS = {"8080", "8081", "8025", "15672"}
CREDENTIAL_URL = re.compile(r"://[^/@\s]+:[^/@\s]+@")


def services() -> dict:
    return compose_config()["services"]


def test_compose_config_accepts_the_file_with_the_example_env():
    assert set(services()) == BACKING | {compose_service_of(s) for s in SERVICES}


def test_compose_without_credentials_stops_and_says_where_to_set_them(tmp_path):
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = run(
        [
            venv_tool("docker-compose"),
            *("--project-directory", PROJECT, "--file", COMPOSE_FILE, "--env-file", empty),
            *("config", "--quiet"),
        ],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr and "project/.env" in result.stderr


def test_every_service_has_a_healthcheck_and_restarts():
    for name, spec in services().items():
        check = spec.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert spec.get("restart") == "unless-stopped", name


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.folder)
def test_lab_service_healthcheck_asks_its_own_port(service):
    spec = services()[compose_service_of(service)]
    command = " ".join(spec["healthcheck"]["test"])
    assert f"http://127.0.0.1:{spec['environment']['PORT']}/readyz" in command


def test_services_start_once_what_they_need_is_healthy():
    for name, spec in services().items():
        for dependency, condition in spec.get("depends_on", {}).items():
            assert condition["condition"] == "service_healthy", f"{name} -> {dependency}"


def test_only_the_ports_a_user_opens_are_published_on_localhost():
    published = {
        port["published"]: (name, port.get("host_ip"))
        for name, spec in services().items()
        for port in spec.get("ports", [])
    }
    assert set(published) == USER_PORTS
    assert {name for name, _ in published.values()} == {"broker", "front-end", "mailhog", "rabbitmq"}
    assert all(host == "127.0.0.1" for _, host in published.values())


def test_data_stores_keep_their_data_in_named_volumes():
    config = compose_config()
    for name, path in (
        ("postgres", "/var/lib/postgresql/data"),
        ("mongo", "/data/db"),
        ("rabbitmq", "/var/lib/rabbitmq"),
    ):
        mounts = {(m["type"], m["target"]): m["source"] for m in services()[name].get("volumes", [])}
        assert ("volume", path) in mounts, f"{name} keeps {path} in a named volume"
        assert mounts[("volume", path)] in config["volumes"]


def test_images_are_pinned_and_lab_images_are_built_from_the_repository_root():
    for name, spec in services().items():
        tag = spec["image"].rpartition(":")[2]
        if name in BACKING:
            assert re.search(r"\d", tag) and tag != "latest", f"{name} pins its image by version tag"
        else:
            assert spec["image"] == f"microservices-lab/{name}:latest"
            assert spec["build"]["context"] == str(PROJECT.parent)


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.folder)
def test_environment_is_exactly_what_the_service_reads(service):
    name = compose_service_of(service)
    read, given = env_vars_read(service), set(services()[name].get("environment", {}))
    assert not read - given, f"{name} reads but compose does not set: {sorted(read - given)}"
    assert not given - read, f"compose sets but {name} never reads: {sorted(given - read)}"


def test_addresses_name_compose_services_on_their_ports():
    specs = services()
    ports = {
        name: {v for k, v in spec.get("environment", {}).items() if k.endswith("PORT")}
        for name, spec in specs.items()
    }
    ports |= {
        "postgres": {"5432"},
        "mongo": {"27017"},
        "rabbitmq": {"5672"},
        "mailhog": {"1025"},
        "prometheus": {"9090"},
    }
    for name, spec in specs.items():
        for key, value in spec.get("environment", {}).items():
            parts = urlsplit(value if "://" in value else f"//{value}")
            if parts.hostname in specs and ("://" in value or parts.port):
                assert str(parts.port) in ports[parts.hostname], f"{name}.{key}={value}"
    assert specs["mail"]["environment"]["MAIL_HOST"] == "mailhog"


def test_credentials_come_from_the_env_file():
    text = COMPOSE_FILE.read_text()
    for line in text.splitlines():
        if CREDENTIAL_URL.search(line) or re.search(r"(PASSWORD|PASS):", line):
            assert "${" in line, f"a credential written into docker-compose.yml: {line.strip()}"
    used = set(re.findall(r"\$\{(\w+)", text))
    example = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert used == example, "every variable compose uses is documented in .env.example, and nothing else"


def bind_mounts(name: str) -> dict[str, dict]:
    """A compose service's files from the project, by where they appear in the container."""
    return {m["target"]: m for m in services()[name].get("volumes", []) if m["type"] == "bind"}


def test_rabbitmq_runs_the_labs_plugins_rabbitmq_prometheus_among_them():
    mount = bind_mounts("rabbitmq")["/etc/rabbitmq/enabled_plugins"]
    assert mount["source"] == str(ENABLED_PLUGINS) and mount.get("read_only"), mount
    plugins = ENABLED_PLUGINS.read_text().strip().removeprefix("[").removesuffix("].").split(",")
    assert set(plugins) == {"rabbitmq_management", "rabbitmq_prometheus"}


def by_job(config: dict) -> dict:
    """A Prometheus config with its scrape jobs by name (their order means nothing)."""
    return {**config, "scrape_configs": {job["job_name"]: job for job in config["scrape_configs"]}}


def test_prometheus_scrapes_every_service_and_rabbitmq_as_the_native_lab_does():
    specs = services()
    mount = bind_mounts("prometheus")["/etc/prometheus/prometheus.yml"]
    compose_name = {service.folder: compose_service_of(service) for service in SERVICES}
    targets = {
        job: [f"{compose_name[folder]}:{specs[compose_name[folder]]['environment']['PORT']}"]
        for job, folder in FOLDERS.items()
    }
    expected = scrape_config({**targets, RABBITMQ_JOB: ["rabbitmq:15692"]})
    assert by_job(yaml.safe_load(Path(mount["source"]).read_text())) == by_job(expected)

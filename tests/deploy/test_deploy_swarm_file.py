"""project/swarm.yml, checked offline with the Docker CLI's own `docker stack config` (no engine): what
makes it work on any swarm (dnsrr everywhere, Caddy alone published, in mode host), replicas, health,
init, update order, limits, the same images and environment as compose, and the Prometheus jobs that
find every replica. The stack itself runs in test_deploy_swarm.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml
from deploy_support import ENV_EXAMPLE, PROJECT, compose_config, run

from labrun.scrape import scrape_config

SWARM_FILE = PROJECT / "swarm.yml"
SWARM_LOCAL_FILE = PROJECT / "swarm.local.yml"
COMPOSE_LOCAL_FILE = PROJECT / "docker-compose.local.yml"
LAB = {"logger", "authentication", "mail", "listener", "broker", "front-end"}
BACKING = {"postgres", "mongo", "rabbitmq", "mailhog", "prometheus"}
# What differs from compose, and why: the browser reaches everything through Caddy's one origin
# (http://localhost:8000, the broker under /api/), and a replica that stops drains first.
SWARM_ONLY = {"CORS_ORIGINS", "BROKER_URL", "MAIL_UI_URL", "RABBITMQ_UI_URL", "DRAIN_SECONDS"}
DIGESTS = ("CADDYFILE_DIGEST", "PROMETHEUS_DIGEST", "RABBITMQ_PLUGINS_DIGEST")
DIGEST = "0123456789ab"


def env_example() -> dict[str, str]:
    lines = ENV_EXAMPLE.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def stack_config(*files: Path) -> dict:
    """`docker stack config` of the files with .env.example's values, as make swarm-up passes them."""
    docker = shutil.which("docker")
    assert docker, "the Docker CLI is missing: sudo apt-get install -y docker.io"
    digests = dict.fromkeys(DIGESTS, DIGEST)
    result = run(
        [docker, "stack", "config", *(arg for f in files for arg in ("--compose-file", f))],
        cwd=PROJECT,
        env={"PATH": os.environ["PATH"], "HOME": str(PROJECT), **env_example(), **digests},
    )
    assert result.returncode == 0, f"docker stack config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def services() -> dict:
    return stack_config(SWARM_FILE)["services"]


def test_the_stack_runs_caddy_the_backing_services_and_every_lab_service():
    assert set(services()) == LAB | BACKING | {"caddy"}


def test_every_service_is_found_by_dns_round_robin_and_only_caddy_publishes_in_mode_host():
    for name, spec in services().items():
        assert spec["deploy"]["endpoint_mode"] == "dnsrr", name
        if name != "caddy":
            assert "ports" not in spec, name
    (port,) = services()["caddy"]["ports"]
    assert port == {"mode": "host", "target": 80, "published": 8000, "protocol": "tcp"}


def test_lab_services_run_replicas_start_first_and_backing_services_one_stop_first():
    for name, spec in services().items():
        deploy = spec["deploy"]
        replicated = name in LAB
        assert (deploy["replicas"] >= 2) if replicated else (deploy["replicas"] == 1), name
        assert deploy["update_config"]["order"] == ("start-first" if replicated else "stop-first"), name
        assert deploy["restart_policy"]["condition"] == "any", name
        assert {"cpus", "memory"} <= set(deploy["resources"]["limits"]), name


def test_every_service_has_a_healthcheck_and_python_runs_behind_an_init():
    for name, spec in services().items():
        assert spec["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        if name in LAB | {"caddy"}:
            assert spec.get("init") is True, name


def test_lab_services_are_checked_for_liveness_not_readiness_and_drain_before_stopping():
    """Swarm replaces a replica whose check fails: a dependency that is down must not get it replaced."""
    for name in LAB:
        spec = services()[name]
        assert f":{spec['environment']['PORT']}/healthz" in " ".join(spec["healthcheck"]["test"]), name
        if name != "listener":
            assert int(spec["environment"]["DRAIN_SECONDS"]) > 0, name


def test_images_and_environment_are_compose_s_but_for_the_single_origin_behind_caddy():
    compose = compose_config()["services"]
    for name, spec in services().items():
        if name == "caddy":
            continue
        assert spec["image"] == compose[name]["image"], name
        mine, theirs = spec.get("environment", {}), compose[name].get("environment", {})
        assert set(mine) - SWARM_ONLY == set(theirs) - SWARM_ONLY, name
        assert {k: v for k, v in mine.items() if k not in SWARM_ONLY} == {
            k: v for k, v in theirs.items() if k not in SWARM_ONLY
        }, name
    front = services()["front-end"]["environment"]
    assert front["BROKER_URL"] == "http://localhost:8000/api"
    assert set(services()["broker"]["environment"]["CORS_ORIGINS"].split(",")) == {
        "http://localhost:8000",
        "http://127.0.0.1:8000",
    }


def test_local_images_are_the_ones_compose_builds_with_images_local():
    local = stack_config(SWARM_FILE, SWARM_LOCAL_FILE)["services"]
    compose_local = yaml.safe_load(COMPOSE_LOCAL_FILE.read_text())["services"]
    for name in BACKING:
        assert local[name]["image"] == compose_local[name]["image"], name
    assert local["caddy"]["image"] == "microservices-lab/caddy:local"


@pytest.mark.parametrize("config", ["caddyfile", "prometheus", "rabbitmq-plugins"])
def test_configs_are_named_after_their_content(config):
    """A swarm config cannot change once made: make swarm-up names each after a digest of its file."""
    spec = yaml.safe_load(SWARM_FILE.read_text())["configs"][config]
    variable = spec["name"].split("${")[1].split(":")[0]
    assert variable in DIGESTS
    swarm_mk = (PROJECT / "swarm.mk").read_text()
    assert f"{variable}=$(call digest,{spec['file'].removeprefix('./')})" in swarm_mk
    assert stack_config(SWARM_FILE)["configs"][config]["name"] == f"{config}-{DIGEST}"


def test_prometheus_finds_every_replica_of_the_jobs_compose_scrapes():
    compose = yaml.safe_load((PROJECT / "prometheus" / "prometheus.yml").read_text())
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in compose["scrape_configs"]}
    swarm = yaml.safe_load((PROJECT / "prometheus" / "swarm.yml").read_text())
    assert swarm == scrape_config(targets, replicas=True)


def test_swarm_targets_without_an_engine_say_so(tmp_path):
    for target in ("swarm-up", "swarm-ps", "swarm-down"):
        result = run(
            ["make", "--no-print-directory", "-C", PROJECT, target],
            env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"},
        )
        assert result.returncode != 0
        assert "No Docker engine is reachable" in result.stderr, target

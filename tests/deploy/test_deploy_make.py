"""project/docker.mk: every target listed by `make help`, one rebuild target per lab service, and a clear
message (not a Docker stack trace) when no Docker engine answers."""

from __future__ import annotations

import os
import re

from deploy_support import PROJECT, compose_service_of, lab_services, run

DOCKER_MK = PROJECT / "docker.mk"


def targets() -> dict[str, str]:
    """target -> its line, for every rule in docker.mk."""
    rules = re.findall(r"^([A-Za-z0-9_-]+):(?!=)(.*)$", DOCKER_MK.read_text(), flags=re.MULTILINE)
    return {name: rest for name, rest in rules}


def phony() -> set[str]:
    text = DOCKER_MK.read_text().replace("\\\n", " ")
    return {name for line in re.findall(r"^\.PHONY:(.*)$", text, flags=re.MULTILINE) for name in line.split()}


def make(*args: str, **env: str):
    return run(
        ["make", "--no-print-directory", "-f", DOCKER_MK, *args], cwd=PROJECT, env={**os.environ, **env}
    )


def test_every_target_is_phony_and_described_for_make_help():
    for name, rest in targets().items():
        assert name in phony(), f"{name} is not .PHONY"
        assert re.search(r"## \S", rest), f"{name} has no `## description` for make help"


def test_the_course_targets_and_one_rebuild_per_service_exist():
    names = set(targets())
    assert {"up", "up-build", "up_build", "down", "logs", "ps"} <= names
    for service in lab_services():
        name = compose_service_of(service)
        assert {f"build-{name}", f"build_{name.replace('-', '_')}"} <= names
        dry_run = make("--dry-run", f"build-{name}")
        assert dry_run.returncode == 0, dry_run.stderr
        assert f"up --detach --no-deps --build {name}" in dry_run.stdout


def test_up_without_a_docker_engine_says_so_and_points_to_the_native_run(tmp_path):
    result = make("up", DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock")
    assert result.returncode != 0
    assert "No Docker engine is reachable" in result.stderr
    assert "make run" in result.stderr

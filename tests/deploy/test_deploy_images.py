"""The Dockerfiles and .dockerignore, checked offline: hadolint, the image's shape, and that the files the
image holds are enough to import the service the way `python -m <package>` will in the container."""

from __future__ import annotations

import json
import re
import shutil
import sys

import pytest
from deploy_support import ROOT, LabService, lab_services, run, venv_tool

SERVICES = lab_services()
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")
BASE_IMAGE = re.compile(r"python:3\.11(\.\d+)?-slim-bookworm")


def instructions(service: LabService) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", service.dockerfile.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage(service: LabService) -> list[tuple[str, str]]:
    steps = instructions(service)
    start = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[start:]


def test_every_service_folder_has_a_dockerfile():
    assert [s.folder for s in SERVICES] == [
        "authentication-service",
        "broker-service",
        "front-end",
        "listener-service",
        "logger-service",
        "mail-service",
    ]
    for service in SERVICES:
        assert service.dockerfile.is_file(), f"{service.folder} has no Dockerfile"
        assert (service.path / service.package / "__main__.py").is_file()


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.folder)
def test_hadolint_finds_nothing(service):
    result = run([venv_tool("hadolint"), "--no-color", service.dockerfile], cwd=ROOT)
    assert result.returncode == 0, f"hadolint on {service.folder}/Dockerfile:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize(
    "dockerfile", sorted((ROOT / "project" / "images").glob("*/Dockerfile")), ids=lambda p: p.parent.name
)
def test_hadolint_finds_nothing_in_the_local_images(dockerfile):
    result = run([venv_tool("hadolint"), "--no-color", dockerfile], cwd=ROOT)
    assert result.returncode == 0, f"hadolint on {dockerfile}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.folder)
def test_image_is_multi_stage_slim_pinned_non_root_and_started_with_python_m(service):
    steps = instructions(service)
    bases = [args.split()[0] for op, args in steps if op == "FROM"]
    assert len(bases) >= 2, "a build stage and a runtime stage"
    assert set(bases) == {"${PYTHON_IMAGE}"}, "every stage starts from the PYTHON_IMAGE argument"
    assert steps[0][0] == "ARG" and steps[0][1].startswith("PYTHON_IMAGE="), "declared before the first FROM"
    assert BASE_IMAGE.fullmatch(steps[0][1].removeprefix("PYTHON_IMAGE=")), "its default is the pinned image"
    final = final_stage(service)
    users = [args for op, args in final if op == "USER"]
    assert users, "the runtime stage sets a USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) > 0, "a numeric non-root user, so Kubernetes' runAsNonRoot can check it"
    (entrypoint,) = [args for op, args in final if op == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["python", "-m", service.package]
    (healthcheck,) = [args for op, args in final if op == "HEALTHCHECK"]
    command = json.loads(healthcheck[healthcheck.index("CMD") + 3 :])
    assert command[:2] == ["python", "-c"] and "urllib" in command[2] and "/healthz" in command[2]


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.folder)
def test_image_installs_the_locked_requirements_with_their_hashes(service):
    steps = instructions(service)
    assert ("COPY", f"{service.folder}/requirements.lock /tmp/requirements.lock") in steps
    assert any(
        op == "RUN" and "pip install" in args and "--require-hashes -r /tmp/requirements.lock" in args
        for op, args in steps
    )


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.folder)
def test_image_layout_imports_the_service(service, tmp_path):
    """Lay out what the runtime stage copies from the repository, with the stage's PYTHONPATH, and import
    every module of the package there: nothing outside the image (another service, tests) is needed."""
    final = final_stage(service)
    for op, args in final:
        if op == "COPY" and not args.startswith("--from"):
            source, target = args.split()
            shutil.copytree(ROOT / source, tmp_path / target.lstrip("/"), ignore=IGNORED)
    env_line = next(args for op, args in final if op == "ENV" and "PYTHONPATH=" in args)
    pythonpath = [
        str(tmp_path) + entry for entry in re.search(r"PYTHONPATH=(\S+)", env_line).group(1).split(":")
    ]
    modules = sorted(
        ".".join(p.relative_to(ROOT / service.folder).with_suffix("").parts).removesuffix(".__init__")
        for p in (service.path / service.package).rglob("*.py")
        if p.name != "__main__.py"
    )
    result = run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path[:0] = {pythonpath!r}\nfor name in {modules!r}: __import__(name)",
        ],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr


def test_broker_image_regenerates_the_stubs_from_the_one_proto():
    broker = next(s for s in SERVICES if s.package == "broker")
    steps = instructions(broker)
    assert ("COPY", "logger-service/logger/logs.proto logger-service/logger/logs.proto") in steps
    assert ("COPY", "project/genproto.py project/genproto.py") in steps
    assert any(op == "RUN" and "project/genproto.py" in args for op, args in steps)
    copied = [args for op, args in final_stage(broker) if op == "COPY" and args.startswith("--from=stubs")]
    assert copied and "logs_pb2.py" in copied[0] and "logs_pb2_grpc.py" in copied[0]
    pins = re.findall(r"grpcio-tools==[\w.]+", broker.dockerfile.read_text())
    test_pins = re.findall(r"grpcio-tools==[\w.]+", (ROOT / "tests" / "requirements.txt").read_text())
    assert pins and pins == test_pins, "the image generates with the grpcio-tools `make proto` uses"


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    entries = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    for required in (
        ".git",
        ".venv",
        "**/__pycache__",
        "tests",
        "test-artifacts",
        "project/.run",
        "project/.docker",
        "project/.env",
    ):
        assert required in entries, f".dockerignore should exclude {required}"
    for service in SERVICES:
        for op, args in instructions(service):
            if op == "COPY" and not args.startswith("--from"):
                source = args.split()[0]
                assert (ROOT / source).exists(), f"{service.folder}/Dockerfile copies missing {source}"
                assert source.split("/")[0] not in entries and source not in entries

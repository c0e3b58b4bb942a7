"""What the deployment tests share: the repository's layout, the tools in the venv, the services'
environment as their code reads it, and the rendered compose file and Kubernetes manifests."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "project"
COMPOSE_FILE = PROJECT / "docker-compose.yml"
ENV_EXAMPLE = PROJECT / ".env.example"
K8S = PROJECT / "k8s"

# The labkit.config functions that read one environment variable, named by their first argument.
ENV_READERS = frozenset({"env_str", "env_int", "env_port", "env_url", "env_addr", "env_choice", "env_list"})


def venv_tool(name: str) -> Path:
    """A command-line tool installed in the venv running the tests (tests/requirements.txt pins it)."""
    path = Path(sys.executable).parent / name
    assert path.exists(), f"{name} is not installed in {path.parent}: run `make venv` in project/"
    return path


def run(args: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], check=False, capture_output=True, text=True, timeout=120, **kwargs
    )


@dataclass(frozen=True)
class LabService:
    folder: str
    package: str

    @property
    def path(self) -> Path:
        return ROOT / self.folder

    @property
    def dockerfile(self) -> Path:
        return self.path / "Dockerfile"


def lab_services() -> list[LabService]:
    """Every service folder (`*-service`, `front-end`) and the package named after it."""
    folders = sorted(
        p for p in ROOT.iterdir() if p.is_dir() and (p.name.endswith("-service") or p.name == "front-end")
    )
    services = []
    for folder in folders:
        packages = [p.parent.name for p in folder.glob("*/config.py") if (p.parent / "__init__.py").exists()]
        assert len(packages) == 1, f"{folder.name} should hold one package with a config.py, found {packages}"
        services.append(LabService(folder.name, packages[0]))
    return services


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _first_argument(call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "name"), None)


def _wrappers(tree: ast.Module) -> tuple[set[str], set[ast.Call]]:
    """Functions that pass their first parameter on as the variable's name (e.g. `browser_url(name, ...)`),
    and those pass-on calls."""
    names: set[str] = set()
    calls: set[ast.Call] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef) and fn.args.args:
            param = fn.args.args[0].arg
            for call in ast.walk(fn):
                if not isinstance(call, ast.Call) or _called_name(call) not in ENV_READERS:
                    continue
                arg = _first_argument(call)
                if isinstance(arg, ast.Name) and arg.id == param:
                    names.add(fn.name)
                    calls.add(call)
    return names, calls


def env_vars_read(service: LabService) -> set[str]:
    """The environment variables a service's code reads: the first argument (a string, or a module
    constant naming one) of every call to labkit.config's env_* functions (or to a function of its own
    passing a name on) in its package, and, when it is served by labkit.serve.run_service, the ones
    run_service reads for every service (labkit.drain's)."""
    sources = {path: path.read_text() for path in sorted((service.path / service.package).rglob("*.py"))}
    if any("run_service(" in source for source in sources.values()):
        drain = PROJECT / "labkit" / "drain.py"
        sources[drain] = drain.read_text()
    return set().union(*(_names_read(module, source) for module, source in sources.items()))


def _names_read(module: Path, source: str) -> set[str]:
    tree = ast.parse(source, filename=str(module))
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }
    wrappers, pass_on = _wrappers(tree)
    names: set[str] = set()
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call) or call in pass_on:
            continue
        if _called_name(call) not in ENV_READERS | wrappers:
            continue
        arg = _first_argument(call)
        if isinstance(arg, ast.Name) and arg.id in constants:
            names.add(constants[arg.id])
            continue
        assert isinstance(arg, ast.Constant) and isinstance(arg.value, str), (
            f"{module.relative_to(ROOT)}:{call.lineno}: cannot tell which variable this reads; "
            "name it with a string literal"
        )
        names.add(arg.value)
    return names


@cache
def compose_config() -> dict[str, Any]:
    """`docker-compose config` of project/docker-compose.yml with .env.example's values, as JSON."""
    result = run(
        [
            venv_tool("docker-compose"),
            "--project-directory",
            PROJECT,
            "--file",
            COMPOSE_FILE,
            "--env-file",
            ENV_EXAMPLE,
            "config",
            "--format",
            "json",
        ],
        env={"PATH": "/usr/bin:/bin", "HOME": str(PROJECT)},
    )
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return json.loads(result.stdout)


def compose_service_of(service: LabService) -> str:
    """The compose service that builds a lab service's Dockerfile."""
    names = [
        name
        for name, spec in compose_config()["services"].items()
        if spec.get("build", {}).get("dockerfile") == f"{service.folder}/Dockerfile"
    ]
    assert len(names) == 1, f"one compose service should build {service.folder}/Dockerfile, found {names}"
    return names[0]


def manifest_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


@cache
def manifests() -> tuple[dict[str, Any], ...]:
    docs: list[dict[str, Any]] = []
    for path in manifest_files():
        docs.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return tuple(docs)


def k8s_objects(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in manifests() if doc["kind"] == kind}


def k8s_container_env(deployment: dict[str, Any]) -> dict[str, str]:
    """The environment a Deployment's one container gets from its ConfigMaps, Secrets and env entries."""
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    config_maps, secrets = k8s_objects("ConfigMap"), k8s_objects("Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(config_maps[source["configMapRef"]["name"]]["data"])
        if "secretRef" in source:
            env.update(secrets[source["secretRef"]["name"]]["stringData"])
    for item in container.get("env", []):
        env[item["name"]] = item.get("value", "")
    return env

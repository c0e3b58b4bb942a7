"""A Docker engine for the whole-lab Docker test.

The engine at DOCKER_HOST (or the default socket) is used when one answers. Otherwise, as root on Debian,
Debian's docker.io is installed when missing and a private dockerd is started with its data under
project/.docker/engine (gitignored). Stopping it removes that folder and undoes what dockerd did to the
host's network: its iptables chains and rules, its bridges and veth links, and IP forwarding.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploy_support import PROJECT

ENGINE_DIR = PROJECT / ".docker" / "engine"
FORWARDING = (Path("/proc/sys/net/ipv4/ip_forward"), Path("/proc/sys/net/ipv6/conf/all/forwarding"))
IPTABLES = ("iptables", "ip6tables")
TABLES = ("filter", "nat")
DOCKER_LINKS = ("docker0", "docker_gwbridge", "br-", "veth")


def engine_answers(env: dict[str, str]) -> bool:
    if not shutil.which("docker"):
        return False
    probe = subprocess.run(["docker", "version"], env=env, capture_output=True, timeout=30, check=False)
    return probe.returncode == 0


def _run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout


@dataclass(frozen=True)
class HostNetwork:
    """What a dockerd changes on the host: forwarding, iptables rules, chains and the policies of the
    built-in chains (a missing one counts as ACCEPT, as a table not made yet has them), network links."""

    forwarding: tuple[str, ...]
    rules: frozenset[tuple[str, str, str]]
    chains: frozenset[tuple[str, str, str, str]]
    links: frozenset[str]

    @classmethod
    def read(cls) -> HostNetwork:
        rules, chains = set(), set()
        for command in IPTABLES:
            for table in TABLES:
                for line in _run(f"{command}-save", "-t", table).splitlines():
                    if line.startswith("-A "):
                        rules.add((command, table, line[3:]))
                    elif line.startswith(":") and line.split()[1] != "ACCEPT":
                        name, policy = line[1:].split()[:2]
                        chains.add((command, table, name, policy))
        links = {line.split(":")[1].strip().split("@")[0] for line in _run("ip", "-o", "link").splitlines()}
        return cls(
            forwarding=tuple(path.read_text().strip() for path in FORWARDING),
            rules=frozenset(rules),
            chains=frozenset(chains),
            links=frozenset(links),
        )

    def restore(self) -> None:
        """Undo every change made since `self` was read: new rules, chains and policies, docker links."""
        now = HostNetwork.read()
        self._restore_iptables(now)
        for link in sorted(now.links - self.links):
            if link.startswith(DOCKER_LINKS):
                _run("ip", "link", "delete", link)
        for path, value in zip(FORWARDING, self.forwarding, strict=True):
            if path.read_text().strip() != value:
                path.write_text(value)

    def _restore_iptables(self, now: HostNetwork) -> None:
        new_chains = sorted(now.chains - self.chains)
        flushed = {(command, table, chain) for command, table, chain, policy in new_chains if policy == "-"}
        for command, table, rule in sorted(now.rules - self.rules):
            chain, _, spec = rule.partition(" ")
            if (command, table, chain) not in flushed:
                _run(command, "-t", table, "-D", chain, *shlex.split(spec))
        for command, table, chain in sorted(flushed):
            _run(command, "-t", table, "-F", chain)
        for command, table, chain, policy in new_chains:
            _run(command, "-t", table, *(("-X", chain) if policy == "-" else ("-P", chain, "ACCEPT")))
        for command, table, chain, policy in sorted(self.chains - now.chains):
            if policy != "-":
                _run(command, "-t", table, "-P", chain, policy)


def _unmount_under(folder: Path) -> None:
    """Unmount what a dockerd that did not stop cleanly left mounted under its folders."""
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(f"{folder}/")), reverse=True):
        subprocess.run(["umount", "--lazy", mount], check=False, timeout=30)


def _mtu() -> str:
    """The MTU of the host's default route, so containers' packets fit the host's own network."""
    device = _run("ip", "route", "show", "default").split(" dev ")[1].split()[0]
    return (Path("/sys/class/net") / device / "mtu").read_text().strip()


def _install_docker() -> None:
    if shutil.which("dockerd") and shutil.which("docker"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.fail(
            "No Docker engine answers (DOCKER_HOST or the default socket), and this is not root on Debian, "
            "where the test would install docker.io: start Docker or set DOCKER_HOST"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "docker.io"]):
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"


@contextmanager
def private_dockerd(log: Path) -> Iterator[dict[str, str]]:
    """Debian's dockerd with its data and its exec root under project/.docker/engine, stopped by PID."""
    _install_docker()
    shutil.rmtree(ENGINE_DIR, ignore_errors=True)
    ENGINE_DIR.mkdir(parents=True)
    env = {**os.environ, "DOCKER_HOST": f"unix://{ENGINE_DIR}/docker.sock"}
    before = HostNetwork.read()
    args = [
        "dockerd",
        *("--data-root", str(ENGINE_DIR / "data"), "--exec-root", str(ENGINE_DIR / "exec")),
        *("--pidfile", str(ENGINE_DIR / "dockerd.pid"), "--host", env["DOCKER_HOST"]),
        *("--mtu", _mtu(), "--log-level", "warn"),
    ]
    with log.open("ab") as out:
        dockerd = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not engine_answers(env):
            assert dockerd.poll() is None, f"dockerd exited with {dockerd.returncode}; see {log}"
            assert time.monotonic() < deadline, f"dockerd did not answer within 60 s; see {log}"
            time.sleep(0.5)
        yield env
    finally:
        dockerd.send_signal(signal.SIGTERM)
        try:
            dockerd.wait(timeout=60)
        except subprocess.TimeoutExpired:
            dockerd.kill()
            dockerd.wait()
        before.restore()
        _unmount_under(ENGINE_DIR)
        shutil.rmtree(ENGINE_DIR)
    assert HostNetwork.read() == before, "the host's network is as it was before dockerd started"


@contextmanager
def docker_engine(log: Path) -> Iterator[dict[str, str]]:
    """The environment that reaches a Docker engine: a running one, or a private dockerd."""
    if engine_answers(dict(os.environ)):
        yield dict(os.environ)
        return
    with private_dockerd(log) as env:
        yield env


def make_in(env: dict[str, str], log: Path, project: Path, *args: str, check: bool = True) -> str:
    """`make <args>` in a project/ folder, as a user types it, with the engine's environment; its output is
    appended to the log, and a failure fails the test with the output's end unless check is False."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(project), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    output = done.stdout + done.stderr
    with log.open("a") as out:
        out.write(f"$ make {' '.join(args)}\n{output}\n")
    assert done.returncode == 0 or not check, f"make {' '.join(args)} failed:\n{output[-4000:]}"
    return output


def docker_cli(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """What a docker command prints; a failure fails the test with its error."""
    done = subprocess.run(
        ["docker", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"docker {' '.join(args)}: {done.stderr}"
    return done.stdout

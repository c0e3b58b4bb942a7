"""Processes this package starts: started in their own session, logged to a file, stopped by PID."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Above every port the lab itself uses natively (RabbitMQ's 25672, MongoDB's 27017), below the kernel's range.
FIRST_FREE_PORT = 28000


# Every port free_port() has handed out in this process. A port stays free until its server binds it, so
# without this two calls in a row (a service's xmlrpc and gRPC ports) could both be given the same one.
_handed_out: set[int] = set()


def free_port() -> int:
    """A free port below the kernel's range for outgoing connections' local ports, never one this process
    was given before. A server on such a port can be stopped and started again on it: while it is down,
    no client retrying to connect can be given that very port as its local end (which would keep the
    server from binding it again)."""
    ephemeral_start = int(EPHEMERAL_RANGE.read_text().split()[0]) if EPHEMERAL_RANGE.exists() else 32768
    for _ in range(200):
        port = random.randrange(FIRST_FREE_PORT, ephemeral_start)  # noqa: S311 (not a secret)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port from {FIRST_FREE_PORT} to {ephemeral_start}")


def http_ready(url: str) -> Callable[[], bool]:
    """A readiness check: GET url answers 200."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (our own http URL)
                return response.status == 200
        except OSError:
            return False

    return check


def wait_until(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} was not ready within {timeout:.0f}s")


@dataclass(frozen=True)
class ServerSpec:
    """How one of the lab's processes runs in the foreground: tests run it as a Proc, `make run` under
    supervisord. `prepare` runs once before the first start (e.g. initdb)."""

    name: str
    argv: Sequence[str]
    ready: Callable[[], bool]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    prepare: Callable[[], None] | None = None


class Proc:
    """A child process with its output in a log file. stop() sends its stop signal, then SIGKILL."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self.user = user
        self.stop_signal = stop_signal
        self.popen: subprocess.Popen[bytes] | None = None

    @classmethod
    def start_spec(cls, spec: ServerSpec, log_dir: Path, timeout: float = 60.0) -> Proc:
        """Prepare, start and wait for a ServerSpec; its output goes to log_dir/<name>.log."""
        if spec.prepare is not None:
            spec.prepare()
        env = {**os.environ, **spec.env}
        proc = cls(
            spec.name,
            spec.argv,
            log_dir / f"{spec.name}.log",
            env=env,
            cwd=spec.cwd,
            user=spec.user,
            stop_signal=spec.stop_signal,
        )
        proc.start()
        try:
            return proc.wait_ready(spec.ready, timeout)
        except BaseException:
            proc.stop()
            raise

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.popen.pid

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                user=self.user,
                group=self.user,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, check: Callable[[], bool], timeout: float = 30.0) -> Proc:
        def ready() -> bool:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited at start:\n{self.log_tail()}")
            return check()

        try:
            wait_until(ready, timeout, self.name)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}\n{self.log_tail()}") from None
        return self

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def stop(self, grace: float = 15.0) -> int | None:
        """The stop signal, up to `grace` seconds to exit, then SIGKILL. Returns the exit code."""
        if self.popen is None:
            return None
        if self.alive():
            self.signal(self.stop_signal)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(5)
        return self.popen.returncode

    def kill(self) -> None:
        if self.alive():
            self.signal(signal.SIGKILL)
            self.popen.wait(5)

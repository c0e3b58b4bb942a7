"""Helpers the tests share: ports, polling, and the whole lab started as real processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from labrun.procs import Proc, free_port, wait_until
from labrun.services import ORDER, Backing, Ports, service_envs, service_spec

__all__ = ["Lab", "eventually", "free_port", "wait_until"]

T = TypeVar("T")


def eventually(fetch: Callable[[], T], accept: Callable[[T], bool], timeout: float = 15.0) -> T:
    """Poll fetch() until accept(value) holds; return the value, or fail with the last one seen."""
    deadline = time.monotonic() + timeout
    value = fetch()
    while not accept(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {value!r}")
        time.sleep(0.1)
        value = fetch()
    return value


@dataclass
class Lab:
    """The lab's services as real processes on free ports, over the given backing servers; extra_env adds
    variables per service on top of the contract's."""

    backing: Backing
    log_dir: Path
    ports: Ports = field(default_factory=Ports.free)
    procs: dict[str, Proc] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{getattr(self.ports, service)}"

    @property
    def broker(self) -> str:
        return self.url("broker")

    def start(self, name: str) -> Proc:
        env = {**service_envs(self.ports, self.backing)[name], **self.extra_env.get(name, {})}
        spec = service_spec(name, env)
        self.procs[name] = Proc.start_spec(spec, self.log_dir)
        return self.procs[name]

    def start_all(self) -> Lab:
        for name in ORDER:
            self.start(name)
        return self

    def stop(self, name: str) -> int | None:
        return self.procs[name].stop()

    def stop_all(self) -> dict[str, int | None]:
        return {name: self.procs[name].stop() for name in reversed(list(self.procs))}

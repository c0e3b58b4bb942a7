"""CPU time and memory of the lab's processes, read from /proc (Linux) and grouped by role, so the
benchmark can say what each stored event cost every part of the lab, not only how fast it went.

The lab is every descendant of the broker's supervisor: the native runner's supervisord, or else the
process that started the broker. In a container the broker sees only its own processes.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
SERVICES = ("broker", "logger", "listener", "authentication", "mail", "frontend")
# Roles by what a process runs, checked in this order (a runner's printer names its service too).
RUNNER = "runner (supervisord, log printers)"
ROLE_MARKERS: tuple[tuple[str, str], ...] = (
    ("labrun.prefix", RUNNER),
    ("supervisord", RUNNER),
    ("broker.bench", "load generator"),
    ("secantusd", "store (MongoDB wire)"),
    ("mongod", "store (MongoDB wire)"),
    ("beam.smp", "rabbitmq"),
    ("erl_child_setup", "rabbitmq"),
    ("epmd", "rabbitmq"),
    ("inet_gethost", "rabbitmq"),
    ("mailcatcher", "mail catcher"),
    ("postgres", "postgresql"),
)


@dataclass(frozen=True)
class Usage:
    cpu_s: float
    memory_bytes: int


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _parent(pid: int) -> int | None:
    stat = _read(PROC / str(pid) / "stat")
    return int(stat.rsplit(")", 1)[1].split()[1]) if stat else None


def _argv(pid: int) -> list[str]:
    raw = _read(PROC / str(pid) / "cmdline")
    return raw.split("\0")[:-1] if raw else []


def role_of(argv: list[str]) -> str:
    """What a process is to the lab, from its command line."""
    line = " ".join(argv)
    for marker, role in ROLE_MARKERS:
        if marker in line:
            return role
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m" and argv[i + 1] in SERVICES:
            return argv[i + 1]
    return "other"


def lab_root(start: int) -> int:
    """The supervisord above `start`, or else the parent of the first ancestor that is not the broker."""
    pid: int | None = start
    fallback = None
    while pid and pid > 1:
        argv = _argv(pid)
        if any("supervisord" in arg for arg in argv[:2]):
            return pid
        if fallback is None and role_of(argv) != "broker":
            fallback = pid
        pid = _parent(pid)
    return fallback or start


def _descendants(root: int) -> Iterator[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (parent := _parent(int(entry.name))) is not None:
            children[parent].append(int(entry.name))
    pending = [root]
    while pending:
        pid = pending.pop()
        yield pid
        pending.extend(children.get(pid, ()))


def _cpu_s(pid: int) -> float:
    stat = _read(PROC / str(pid) / "stat")
    if not stat:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _memory_bytes(pid: int) -> int:
    """Proportional set size: pages shared between processes (gunicorn's forked workers) count once."""
    rollup = _read(PROC / str(pid) / "smaps_rollup")
    for line in (rollup or "").splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    statm = _read(PROC / str(pid) / "statm")
    return int(statm.split()[1]) * PAGE_BYTES if statm else 0


def usage(root: int) -> dict[str, Usage]:
    """CPU seconds used so far and memory now, summed by role, over `root` and its descendants."""
    cpu: dict[str, float] = defaultdict(float)
    memory: dict[str, int] = defaultdict(int)
    for pid in _descendants(root):
        role = role_of(_argv(pid))
        cpu[role] += _cpu_s(pid)
        memory[role] += _memory_bytes(pid)
    return {role: Usage(round(cpu[role], 3), memory[role]) for role in cpu}


def cpu_ms_per_event(before: dict[str, Usage], after: dict[str, Usage], events: int) -> dict[str, float]:
    """Each role's CPU milliseconds per event between two samples, and the lab's total (the load
    generator's own is shown but not counted in it)."""
    per_event = {
        role: round((after[role].cpu_s - before.get(role, Usage(0.0, 0)).cpu_s) * 1000 / events, 3)
        for role in sorted(after)
        if events > 0
    }
    per_event["total"] = round(sum(ms for role, ms in per_event.items() if role != "load generator"), 3)
    return per_event

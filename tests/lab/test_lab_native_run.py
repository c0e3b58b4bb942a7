"""`make run` itself: the native runner brings the whole lab up on the contract's ports, restarts a
process that dies, stops everything on SIGTERM leaving no process behind, and runs again right after
with its data kept."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import requests

from labrun.procs import Proc, wait_until
from labtest import eventually

PROJECT = Path(__file__).resolve().parents[2] / "project"
BROKER = "http://127.0.0.1:8080"


def parents() -> dict[int, int]:
    """Each process's parent, read from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            found[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    return found


def parent(pid: int) -> int | None:
    return parents().get(pid)


def children(pid: int) -> set[int]:
    """Every live descendant of pid."""
    tree = parents()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in tree.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def start_runner(run_dir: Path, log_path: Path) -> Proc:
    """`make run`, as the README says."""
    env = {**os.environ, "LABRUN_DIR": str(run_dir)}
    for name in ("DSN", "AMQP_URL", "MONGO_URL", "MAIL_HOST", "MAKEFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    proc = Proc("labrun", ["make", "--no-print-directory", "run"], log_path, env=env, cwd=PROJECT)
    proc.start()
    return proc.wait_ready(lambda: "The lab is up" in proc.log_path.read_text(), timeout=120)


def stop_and_check_nothing_is_left(proc: Proc) -> None:
    started = children(proc.pid)
    # make passes the SIGTERM on to the runner, waits for it to stop the lab, then ends by the signal.
    assert proc.stop(grace=60) == -signal.SIGTERM
    time.sleep(0.5)
    left = {pid: cmdline(pid) for pid in started if alive(pid)}
    assert left == {}, f"processes left behind: {left}"


def log_event(data: str) -> requests.Response:
    body = {"action": "log", "log": {"name": "native", "data": data}, "transport": "rpc"}
    return requests.post(f"{BROKER}/handle", json=body, timeout=10)


def test_make_run_brings_the_lab_up_restarts_and_stops_cleanly(tmp_path: Path, artifacts: Path) -> None:
    log_dir = artifacts / "native-run"
    runner = start_runner(tmp_path / "run", log_dir / "first.log")
    try:
        banner = runner.log_path.read_text()
        for url in ("http://127.0.0.1:8081", BROKER, "http://127.0.0.1:8025"):
            assert url in banner
        assert requests.post(BROKER, timeout=5).json() == {"error": False, "message": "Hit the broker"}
        data = uuid.uuid4().hex
        assert log_event(data).status_code == 202

        supervisord = [pid for pid in children(runner.pid) if "supervisord" in cmdline(pid)]
        supervised = [pid for pid in children(supervisord[0]) if cmdline(pid).endswith(" -m broker ")]
        supervised = [pid for pid in supervised if parent(pid) == supervisord[0]]
        assert len(supervised) == 1
        os.kill(supervised[0], 9)
        wait_until(lambda: not alive(supervised[0]), 10, "the killed broker")
        eventually(lambda: log_event(uuid.uuid4().hex).status_code, lambda status: status == 202, timeout=30)
        lines = [line for line in runner.log_path.read_text().splitlines() if line.startswith("broker ")]
        assert any("POST /handle 202" in line for line in lines), "log lines are prefixed by the process"
    finally:
        stop_and_check_nothing_is_left(runner)

    again = start_runner(tmp_path / "run", log_dir / "second.log")
    try:
        stored = requests.get(f"{BROKER}/logs", params={"limit": 50}, timeout=5).json()["data"]
        assert data in [entry["data"] for entry in stored], "the private store kept its data across runs"
    finally:
        stop_and_check_nothing_is_left(again)

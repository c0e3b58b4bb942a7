"""A supervisord configuration for the lab's processes: restarted when they die, stopped in order."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from labrun.procs import ServerSpec

PROJECT = Path(__file__).resolve().parent.parent


def _quote(value: str) -> str:
    """A value for supervisord's environment= line: double-quoted, % doubled (its expansion marker)."""
    return '"' + value.replace("%", "%%").replace('"', '\\"') + '"'


def _program(spec: ServerSpec, priority: int) -> str:
    command = [sys.executable, "-m", "labrun.prefix", spec.name, "--", *spec.argv]
    env = {"PYTHONPATH": str(PROJECT), **spec.env}
    if "PYTHONPATH" in spec.env:
        env["PYTHONPATH"] = os.pathsep.join([spec.env["PYTHONPATH"], str(PROJECT)])
    lines = [
        f"[program:{spec.name}]",
        "command=" + " ".join(arg.replace("%", "%%") for arg in command),
        "environment=" + ",".join(f"{key}={_quote(value)}" for key, value in env.items()),
        f"directory={spec.cwd or PROJECT}",
        f"priority={priority}",
        "autostart=true",
        "autorestart=true",
        "startsecs=2",
        "startretries=100",
        f"stopsignal={signal.Signals(spec.stop_signal).name.removeprefix('SIG')}",
        "stopwaitsecs=20",
        "stopasgroup=true",
        "killasgroup=true",
        "redirect_stderr=true",
        "stdout_logfile=/dev/stdout",
        "stdout_logfile_maxbytes=0",
    ]
    if spec.user:
        lines.append(f"user={spec.user}")
    return "\n".join(lines)


def write_config(run_dir: Path, backing: Sequence[ServerSpec], services: Sequence[ServerSpec]) -> Path:
    """Backing servers start first and stop last; the lab's services follow in their dependency order."""
    run_dir.mkdir(parents=True, exist_ok=True)
    header = [
        "[supervisord]",
        "nodaemon=true",
        f"logfile={run_dir / 'supervisord.log'}",
        f"pidfile={run_dir / 'supervisord.pid'}",
        "loglevel=warn",
    ]
    if os.geteuid() == 0:
        header.append("user=root")
    programs = [_program(spec, 100 + i) for i, spec in enumerate(backing)]
    programs += [_program(spec, 200 + 10 * i) for i, spec in enumerate(services)]
    path = run_dir / "supervisord.conf"
    path.write_text("\n\n".join(["\n".join(header), *programs]) + "\n")
    return path

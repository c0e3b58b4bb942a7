"""Every service reads only the environment and stops at start, naming the variable, when a value is bad."""

from __future__ import annotations

import json
import subprocess

import pytest

from labrun.services import ORDER, service_spec


@pytest.mark.parametrize("service", ORDER)
def test_a_malformed_port_stops_the_service_naming_the_variable(service: str) -> None:
    spec = service_spec(service, {"PORT": "eighty"})
    done = subprocess.run(
        spec.argv, env=dict(spec.env), cwd=spec.cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert events[-1]["level"] == "ERROR"
    assert events[-1]["message"] == "PORT must be an integer, got 'eighty'"
    assert "Traceback" not in done.stdout + done.stderr

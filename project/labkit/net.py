"""Readiness: quick reachability probes, and the one rule that turns a service's checks into ready or not."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from typing import Any

# A readiness check: a name per dependency, True when it answers. Other values (e.g. a relay's lag)
# are shown in /readyz's data but do not decide readiness.
ReadyCheck = Callable[[], Mapping[str, Any]]

# How long the lab's HTTP servers keep an idle connection open (gunicorn's keepalive, labkit.serve). Clients
# of the lab's services stop reusing a connection well before (labkit.httpclient): a request sent on one
# the server is closing at that moment fails, and a POST that may have been processed is not repeated.
SERVER_KEEPALIVE_S = 5
CLIENT_IDLE_S = 3.0

# The check a service adds while it drains before stopping (labkit.drain): true means not ready.
DRAINING = "draining"


def is_ready(checks: Mapping[str, Any]) -> bool:
    """Ready when every boolean check holds and the service is not draining; other values are
    information."""
    if checks.get(DRAINING) is True:
        return False
    return all(value for value in checks.values() if isinstance(value, bool))


def split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def tcp_reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False

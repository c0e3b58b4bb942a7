"""Draining: the time between SIGTERM and the stop of a gunicorn service, in which it still serves but says
it is not ready, so a proxy's health check and the orchestrator send new requests elsewhere before its
listening socket closes.

gunicorn's master (labkit.serve) begins the drain; its workers, other processes, learn of it from a marker
file in the service's own PROMETHEUS_MULTIPROC_DIR, which labkit.serve empties at start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from labkit.config import env_int
from labkit.metrics import MULTIPROC_DIR

DRAIN_SECONDS = "DRAIN_SECONDS"
_MARKER = "draining"


def drain_seconds(environ: Mapping[str, str] | None = None) -> int:
    """How long a service keeps serving after SIGTERM while it drains (0: it stops at once)."""
    return env_int(DRAIN_SECONDS, 0, environ)


def _marker() -> Path | None:
    directory = os.environ.get(MULTIPROC_DIR)
    return Path(directory) / _MARKER if directory else None


def begin() -> None:
    """Mark this service as draining (gunicorn's master, on SIGTERM)."""
    marker = _marker()
    if marker is not None:
        marker.touch()


def clear() -> None:
    """Forget a drain a previous run of the service left behind (at start)."""
    marker = _marker()
    if marker is not None:
        marker.unlink(missing_ok=True)


def draining() -> bool:
    """Whether this service is draining: any of its processes may ask, at any time."""
    marker = _marker()
    return marker is not None and marker.exists()

"""What the deployment tests share: the browser fixtures of tests/lab (Debian's Chromium driven by
Playwright), and one Docker engine for the Docker and the Swarm tests, so the images the first builds
serve the second."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_engine import docker_engine
from lab.conftest import browser, page

__all__ = ["browser", "engine_env", "page"]


@pytest.fixture(scope="session")
def engine_env(artifacts: Path) -> Iterator[dict[str, str]]:
    """The environment that reaches a Docker engine: the one answering, else a private dockerd, stopped
    and cleaned up after the last test that needs it."""
    log_dir = artifacts / "docker"
    log_dir.mkdir(exist_ok=True)
    with docker_engine(log_dir / "dockerd.log") as env:
        yield env

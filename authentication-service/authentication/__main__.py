"""`python -m authentication`: serve the authentication service with gunicorn, configured from the
environment."""

from __future__ import annotations

from typing import Any

from authentication import create_app
from authentication.config import Config
from labkit.serve import run_service


def stop_relay(_arbiter: Any, worker: Any) -> None:
    """gunicorn's worker_exit hook: the worker's outbox relay ends its batch and stops before the exit."""
    worker.wsgi.extensions["authenticator"].close()


def main() -> None:
    run_service(
        "authentication", Config.from_env, create_app, settings=lambda _config: {"worker_exit": stop_relay}
    )


if __name__ == "__main__":
    main()

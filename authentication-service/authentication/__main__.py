"""`python -m authentication`: serve the authentication service with gunicorn, configured from the
environment."""

from __future__ import annotations

from typing import Any

from authentication import create_app
from authentication.config import Config
from labkit.config import load_or_exit
from labkit.serve import serve


def stop_relay(_arbiter: Any, worker: Any) -> None:
    """gunicorn's worker_exit hook: the worker's outbox relay ends its batch and stops before the exit."""
    worker.wsgi.extensions["authenticator"].close()


def main() -> None:
    config = load_or_exit(Config.from_env, "authentication")
    serve(
        lambda: create_app(config),
        service="authentication",
        host=config.host,
        port=config.port,
        workers=2,
        threads=8,
        worker_exit=stop_relay,
    )


if __name__ == "__main__":
    main()

"""`python -m broker`: serve the broker with gunicorn, configured from the environment."""

from __future__ import annotations

from broker import create_app
from broker.config import Config
from labkit.serve import run_service


def main() -> None:
    run_service("broker", Config.from_env, create_app, threads=16)


if __name__ == "__main__":
    main()

"""`python -m frontend`: serve the test page with gunicorn, configured from the environment."""

from __future__ import annotations

from frontend import create_app
from frontend.config import Config
from labkit.serve import run_service


def main() -> None:
    run_service("frontend", Config.from_env, create_app)


if __name__ == "__main__":
    main()

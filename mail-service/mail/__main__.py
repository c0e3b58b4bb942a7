"""`python -m mail`: serve the mail service with gunicorn, configured from the environment."""

from __future__ import annotations

from labkit.serve import run_service
from mail import create_app
from mail.config import Config


def main() -> None:
    run_service("mail", Config.from_env, create_app)


if __name__ == "__main__":
    main()

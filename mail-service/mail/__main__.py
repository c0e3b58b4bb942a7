"""`python -m mail`: serve the mail service with gunicorn, configured from the environment."""

from __future__ import annotations

from labkit.config import load_or_exit
from labkit.serve import serve
from mail import create_app
from mail.config import Config


def main() -> None:
    config = load_or_exit(Config.from_env, "mail")
    serve(
        lambda: create_app(config), service="mail", host=config.host, port=config.port, workers=2, threads=8
    )


if __name__ == "__main__":
    main()

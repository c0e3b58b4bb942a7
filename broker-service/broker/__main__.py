"""`python -m broker`: serve the broker with gunicorn, configured from the environment."""

from __future__ import annotations

from broker import create_app
from broker.config import Config
from labkit.config import load_or_exit
from labkit.serve import serve


def main() -> None:
    config = load_or_exit(Config.from_env, "broker")
    serve(
        lambda: create_app(config),
        service="broker",
        host=config.host,
        port=config.port,
        workers=2,
        threads=16,
    )


if __name__ == "__main__":
    main()

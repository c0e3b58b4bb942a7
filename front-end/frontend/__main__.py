"""`python -m frontend`: serve the test page with gunicorn, configured from the environment."""

from __future__ import annotations

from frontend import create_app
from frontend.config import Config
from labkit.config import load_or_exit
from labkit.serve import serve


def main() -> None:
    config = load_or_exit(Config.from_env, "frontend")
    serve(
        lambda: create_app(config),
        service="frontend",
        host=config.host,
        port=config.port,
        workers=2,
        threads=8,
    )


if __name__ == "__main__":
    main()

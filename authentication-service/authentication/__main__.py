"""Start the authentication service: `python -m authentication`."""

from authentication import create_app
from authentication.config import Config
from labkit.config import load_or_exit
from labkit.serve import serve

config = load_or_exit(Config.from_env, "authentication")
serve(
    lambda: create_app(config),
    service="authentication",
    host=config.host,
    port=config.port,
    workers=2,
    threads=8,
)

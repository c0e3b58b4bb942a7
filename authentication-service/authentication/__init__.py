"""The lab's authentication service: checks users' credentials against PostgreSQL and publishes each login's
event through a transactional outbox."""

from __future__ import annotations

import logging

from flask import Flask

from authentication import routes
from authentication.config import Config
from authentication.db import DatabaseUnavailable
from authentication.metrics import OutboxLag
from authentication.routes import blueprint
from authentication.service import Authenticator
from labkit.web import init_app, publish_openapi

log = logging.getLogger(__name__)


def create_app(config: Config | None = None) -> Flask:
    """The Flask app with its own connection pool and outbox relay thread; call it once per process,
    after any fork, and close its authenticator (app.extensions["authenticator"].close()) to stop it."""
    config = config or Config.from_env()
    authenticator = Authenticator(config)
    try:
        authenticator.users.migrate()
    except DatabaseUnavailable:
        log.warning("users table not migrated at start; retrying before the first query")
    app = Flask(__name__, static_folder=None)
    app.extensions["authenticator"] = authenticator
    init_app(app, authenticator.ready, scrape_collectors=lambda: [OutboxLag(authenticator.relay)])
    app.register_blueprint(blueprint(authenticator))
    publish_openapi(app, routes.TITLE, routes.DESCRIPTION)
    authenticator.relay.start()
    return app

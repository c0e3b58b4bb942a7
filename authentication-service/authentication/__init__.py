"""The lab's authentication service: checks users' credentials against PostgreSQL."""

from __future__ import annotations

import logging

from flask import Flask

from authentication.config import Config
from authentication.db import DatabaseUnavailable
from authentication.routes import bp
from authentication.service import Authenticator
from labkit.web import init_app

log = logging.getLogger(__name__)


def create_app(config: Config | None = None) -> Flask:
    """The Flask app with its own connection pool; call it once per process, after any fork."""
    config = config or Config.from_env()
    authenticator = Authenticator(config)
    try:
        authenticator.users.migrate()
    except DatabaseUnavailable:
        log.warning("users table not migrated at start; retrying before the first query")
    app = Flask(__name__)
    app.extensions["authenticator"] = authenticator
    init_app(app, authenticator.ready)
    app.register_blueprint(bp)
    return app

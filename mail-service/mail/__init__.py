"""The mail service: POST /send turns a message into a plain + HTML email and hands it to an SMTP server."""

from __future__ import annotations

import ssl

from flask import Flask

from labkit.web import init_app, publish_openapi
from mail import routes
from mail.config import Config
from mail.routes import blueprint
from mail.smtp import Mailer


def create_app(config: Config | None = None, *, ssl_context: ssl.SSLContext | None = None) -> Flask:
    """`ssl_context` is for STARTTLS and SMTPS; by default the system's trust store with full verification."""
    config = config or Config.from_env()
    mailer = Mailer(config, ssl_context or ssl.create_default_context())
    app = Flask(__name__, static_folder=None)
    init_app(app, lambda: {"smtp": mailer.reachable()})
    app.register_blueprint(blueprint(config, mailer))
    publish_openapi(app, routes.TITLE, routes.DESCRIPTION)
    return app

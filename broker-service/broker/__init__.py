"""The broker: the lab's single entry point, sending each action to the service that handles it."""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from broker import api, bench, live, routes
from broker.config import Config
from broker.dependencies import Dependencies, readiness
from broker.transports import RETRY_AFTER
from labkit.logs import REQUEST_ID_HEADER
from labkit.openapi import describe_endpoint
from labkit.web import init_app, publish_openapi


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__, static_folder=None)
    runner = bench.Runner(config)
    app.extensions["broker.bench"] = runner
    init_app(app, lambda: readiness(config))
    CORS(
        app,
        origins=list(config.cors_origins),
        methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", REQUEST_ID_HEADER],
        expose_headers=[REQUEST_ID_HEADER, RETRY_AFTER],
        max_age=600,
    )
    app.register_blueprint(routes.blueprint(config, Dependencies.connect(config)))
    app.register_blueprint(bench.blueprint(runner))
    app.register_blueprint(live.blueprint(config))
    describe_endpoint(app, "bench.bench", api.BENCH)
    publish_openapi(app, api.TITLE, api.DESCRIPTION, api.SCHEMAS)
    return app

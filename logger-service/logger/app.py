"""The logger's Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask

from labkit.web import init_app, publish_openapi
from logger import routes
from logger.config import Config
from logger.routes import blueprint
from logger.store import LogStore

_STORE = "logger.store"

log = logging.getLogger(__name__)


def create_app(config: Config | None = None) -> Flask:
    """The HTTP API over a new LogStore (one MongoClient) for this process; indexes are made now if the
    store answers, otherwise on the first write."""
    config = config or Config.from_env()
    store = LogStore(config.mongo_url, config.mongo_db)
    if not store.ready():
        log.warning("log store is not reachable yet; its indexes will be made on the first write")
    app = Flask("logger", static_folder=None)
    app.extensions[_STORE] = store
    app.register_blueprint(blueprint(store))
    init_app(app, lambda: {"mongo": store.ready()})
    publish_openapi(app, routes.TITLE, routes.DESCRIPTION, routes.SCHEMAS)
    return app


def store_of(app: Flask) -> LogStore:
    """The app's LogStore, shared with the xmlrpc and gRPC servers of the same process."""
    return app.extensions[_STORE]

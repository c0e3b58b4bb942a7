"""The broker: the lab's single entry point, sending each action to the service that handles it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask
from flask_cors import CORS

from broker.bench import Runner
from broker.bench import bp as bench_bp
from broker.config import Config
from broker.routes import bp
from broker.transports import RETRY_AFTER, Sender, log_senders
from labkit.httpclient import Downstream
from labkit.logs import REQUEST_ID_HEADER
from labkit.net import split_addr, tcp_reachable
from labkit.web import init_app


@dataclass(frozen=True)
class Dependencies:
    auth: Downstream
    mail: Downstream
    logger: Downstream
    senders: dict[str, Sender]

    @classmethod
    def connect(cls, config: Config) -> Dependencies:
        logger = Downstream("logger", config.logger_url, read_timeout=5.0)
        return cls(
            auth=Downstream("authentication", config.auth_url),
            mail=Downstream("mail", config.mail_url),
            logger=logger,
            senders=log_senders(config, logger),
        )


def _url_addr(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or default_port


def readiness(config: Config) -> dict[str, bool]:
    """Whether each service and server the broker calls accepts connections."""
    targets = {
        "authentication": _url_addr(config.auth_url, 80),
        "mail": _url_addr(config.mail_url, 80),
        "logger": _url_addr(config.logger_url, 80),
        "logger_rpc": split_addr(config.logger_rpc_addr),
        "logger_grpc": split_addr(config.logger_grpc_addr),
        "rabbitmq": _url_addr(config.amqp_url, 5672),
    }
    return {name: tcp_reachable(host, port, timeout=0.5) for name, (host, port) in targets.items()}


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config["BROKER"] = config
    app.extensions["broker"] = Dependencies.connect(config)
    app.extensions["broker.bench"] = Runner(config)
    init_app(app, lambda: readiness(config))
    CORS(
        app,
        origins=list(config.cors_origins),
        methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Content-Type", REQUEST_ID_HEADER],
        expose_headers=[REQUEST_ID_HEADER, RETRY_AFTER],
        max_age=600,
    )
    app.register_blueprint(bp)
    app.register_blueprint(bench_bp)
    return app

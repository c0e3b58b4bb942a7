"""What the broker's routes call: the three services over HTTP and the four log senders."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from broker.config import Config
from broker.transports import Sender, log_senders
from labkit.httpclient import Downstream
from labkit.net import split_addr, tcp_reachable


@dataclass(frozen=True)
class Dependencies:
    auth: Downstream
    mail: Downstream
    logger: Downstream
    senders: dict[str, Sender]

    @classmethod
    def connect(cls, config: Config) -> Dependencies:
        # The logger stores an event id once: a repeated POST /log is safe to retry.
        logger = Downstream("logger", config.logger_url, read_timeout=5.0, idempotent_posts=True)
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

"""The broker's settings, read from the environment once at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from labkit import amqp
from labkit.config import env_addr, env_choice, env_list, env_port, env_str, env_url

TRANSPORTS = ("rabbitmq", "rpc", "grpc", "http")


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"
    port: int = 8080
    auth_url: str = "http://127.0.0.1:8082"
    mail_url: str = "http://127.0.0.1:8084"
    logger_url: str = "http://127.0.0.1:8083"
    logger_rpc_addr: str = "127.0.0.1:5001"
    logger_grpc_addr: str = "127.0.0.1:50001"
    amqp_url: str = amqp.DEFAULT_URL
    log_transport: str = "rabbitmq"
    cors_origins: tuple[str, ...] = ("http://127.0.0.1:8081", "http://localhost:8081")
    prometheus_url: str = "http://127.0.0.1:9090"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        return cls(
            host=env_str("HOST", cls.host, environ),
            port=env_port("PORT", cls.port, environ),
            auth_url=env_url("AUTH_URL", cls.auth_url, environ),
            mail_url=env_url("MAIL_URL", cls.mail_url, environ),
            logger_url=env_url("LOGGER_URL", cls.logger_url, environ),
            logger_rpc_addr=env_addr("LOGGER_RPC_ADDR", cls.logger_rpc_addr, environ),
            logger_grpc_addr=env_addr("LOGGER_GRPC_ADDR", cls.logger_grpc_addr, environ),
            amqp_url=env_url("AMQP_URL", cls.amqp_url, environ, schemes=("amqp", "amqps")),
            log_transport=env_choice("LOG_TRANSPORT", cls.log_transport, TRANSPORTS, environ),
            cors_origins=env_list("CORS_ORIGINS", ",".join(cls.cors_origins), environ),
            prometheus_url=env_url("PROMETHEUS_URL", cls.prometheus_url, environ),
        )

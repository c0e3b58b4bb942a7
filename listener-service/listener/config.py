"""The listener's settings, read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from labkit import amqp
from labkit.config import env_port, env_str, env_url

# Twice the consumer's batch (BATCH_MAX): the next batch arrives while one is being stored.
PREFETCH = 200


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"
    port: int = 8085
    amqp_url: str = amqp.DEFAULT_URL
    logger_url: str = "http://127.0.0.1:8083"
    prefetch: int = PREFETCH

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        return cls(
            host=env_str("HOST", cls.host, environ),
            port=env_port("PORT", cls.port, environ),
            amqp_url=env_url("AMQP_URL", cls.amqp_url, environ, schemes=("amqp", "amqps")),
            logger_url=env_url("LOGGER_URL", cls.logger_url, environ),
        )

"""The authentication service's settings, read from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict

from labkit import amqp
from labkit.config import ConfigError, env_int, env_port, env_str, env_url

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/users"
DEFAULT_BCRYPT_COST = 12
MIN_BCRYPT_COST = 4
MAX_BCRYPT_COST = 16


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"
    port: int = 8082
    dsn: str = DEFAULT_DSN
    amqp_url: str = amqp.DEFAULT_URL
    bcrypt_cost: int = DEFAULT_BCRYPT_COST

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        return cls(
            host=env_str("HOST", cls.host, environ),
            port=env_port("PORT", cls.port, environ),
            dsn=_dsn(environ),
            amqp_url=env_url("AMQP_URL", cls.amqp_url, environ, schemes=("amqp", "amqps")),
            bcrypt_cost=_bcrypt_cost(environ),
        )


def _dsn(environ: Mapping[str, str] | None) -> str:
    dsn = env_str("DSN", DEFAULT_DSN, environ)
    try:
        conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        raise ConfigError("DSN must be a libpq connection string or a postgresql:// URL") from None
    return dsn


def _bcrypt_cost(environ: Mapping[str, str] | None) -> int:
    cost = env_int("BCRYPT_COST", DEFAULT_BCRYPT_COST, environ)
    if not MIN_BCRYPT_COST <= cost <= MAX_BCRYPT_COST:
        raise ConfigError(f"BCRYPT_COST must be between {MIN_BCRYPT_COST} and {MAX_BCRYPT_COST}, got {cost}")
    return cost

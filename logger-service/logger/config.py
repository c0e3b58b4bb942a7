"""The logger's settings, read from the environment once at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from labkit.config import ConfigError, env_port, env_str, env_url

# Characters MongoDB refuses in a database name, and its length limit.
_DB_NAME_FORBIDDEN = set('/\\. "$')
_DB_NAME_MAX = 63


def _db_name(environ: Mapping[str, str] | None) -> str:
    name = env_str("MONGO_DB", Config.mongo_db, environ)
    if len(name) > _DB_NAME_MAX or _DB_NAME_FORBIDDEN & set(name):
        raise ConfigError(f'MONGO_DB must be a MongoDB database name (no /\\. "$ or spaces), got {name!r}')
    return name


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"
    port: int = 8083
    rpc_port: int = 5001
    grpc_port: int = 50001
    mongo_url: str = "mongodb://127.0.0.1:27017"
    mongo_db: str = "logs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        return cls(
            host=env_str("HOST", cls.host, environ),
            port=env_port("PORT", cls.port, environ),
            rpc_port=env_port("RPC_PORT", cls.rpc_port, environ),
            grpc_port=env_port("GRPC_PORT", cls.grpc_port, environ),
            mongo_url=env_url("MONGO_URL", cls.mongo_url, environ, schemes=("mongodb", "mongodb+srv")),
            mongo_db=_db_name(environ),
        )

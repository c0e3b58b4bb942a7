"""The lab's own processes: how each starts and the environment the contract gives it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from labrun.procs import ServerSpec, free_port, http_ready

ROOT = Path(__file__).resolve().parent.parent.parent

FOLDERS = {
    "logger": "logger-service",
    "authentication": "authentication-service",
    "mail": "mail-service",
    "listener": "listener-service",
    "broker": "broker-service",
    "frontend": "front-end",
}
# Start order: each one's dependencies come before it.
ORDER = tuple(FOLDERS)


@dataclass(frozen=True)
class Ports:
    broker: int = 8080
    frontend: int = 8081
    authentication: int = 8082
    logger: int = 8083
    mail: int = 8084
    listener: int = 8085
    logger_rpc: int = 5001
    logger_grpc: int = 50001

    @classmethod
    def free(cls) -> Ports:
        return cls(**{f.name: free_port() for f in fields(cls)})


@dataclass(frozen=True)
class Backing:
    dsn: str
    mongo_url: str
    amqp_url: str
    smtp_host: str
    smtp_port: int
    mongo_db: str = "logs"
    mail_ui_url: str = ""
    rabbitmq_ui_url: str = ""
    prometheus_url: str = ""


def service_envs(ports: Ports, backing: Backing, host: str = "127.0.0.1") -> dict[str, dict[str, str]]:
    """Each service's environment, per the contract, for a lab whose processes all run on `host`."""

    def url(port: int) -> str:
        return f"http://{host}:{port}"

    logger_url = url(ports.logger)
    return {
        "logger": {
            "PORT": str(ports.logger),
            "RPC_PORT": str(ports.logger_rpc),
            "GRPC_PORT": str(ports.logger_grpc),
            "MONGO_URL": backing.mongo_url,
            "MONGO_DB": backing.mongo_db,
        },
        "authentication": {
            "PORT": str(ports.authentication),
            "DSN": backing.dsn,
            "AMQP_URL": backing.amqp_url,
        },
        "mail": {
            "PORT": str(ports.mail),
            "MAIL_HOST": backing.smtp_host,
            "MAIL_PORT": str(backing.smtp_port),
            "MAIL_ENCRYPTION": "none",
        },
        "listener": {
            "PORT": str(ports.listener),
            "AMQP_URL": backing.amqp_url,
            "LOGGER_URL": logger_url,
        },
        "broker": {
            "PORT": str(ports.broker),
            "AUTH_URL": url(ports.authentication),
            "MAIL_URL": url(ports.mail),
            "LOGGER_URL": logger_url,
            "LOGGER_RPC_ADDR": f"{host}:{ports.logger_rpc}",
            "LOGGER_GRPC_ADDR": f"{host}:{ports.logger_grpc}",
            "AMQP_URL": backing.amqp_url,
            "CORS_ORIGINS": url(ports.frontend),
            **({"PROMETHEUS_URL": backing.prometheus_url} if backing.prometheus_url else {}),
        },
        "frontend": {
            "PORT": str(ports.frontend),
            "BROKER_URL": url(ports.broker),
            "MAIL_UI_URL": backing.mail_ui_url,
            "RABBITMQ_UI_URL": backing.rabbitmq_ui_url,
        },
    }


def scrape_targets(ports: Ports, rabbitmq_metrics: str, host: str = "127.0.0.1") -> dict[str, list[str]]:
    """What Prometheus scrapes: each service's GET /metrics by name, and RabbitMQ's rabbitmq_prometheus
    plugin at host:port (scraped even when off, so its "up" says so)."""
    return {
        **{name: [f"{host}:{getattr(ports, name)}"] for name in ORDER},
        "rabbitmq": [rabbitmq_metrics],
    }


def service_spec(name: str, env: dict[str, str], host: str = "127.0.0.1") -> ServerSpec:
    """The one way a lab service starts natively: `python -m <package>` with its folder on the path."""
    pythonpath = os.pathsep.join([str(ROOT / FOLDERS[name]), str(ROOT / "project")])
    return ServerSpec(
        name=name,
        argv=[sys.executable, "-m", name],
        ready=http_ready(f"http://{host}:{env['PORT']}/readyz"),
        env={"PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1", "HOST": host, **env},
        cwd=ROOT,
    )

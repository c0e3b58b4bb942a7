"""Start the logger: the HTTP API under gunicorn, and the xmlrpc and gRPC servers in the same worker.

One gunicorn worker (16 threads) serves HTTP; its post_worker_init hook starts xmlrpc and gRPC beside
it, sharing its LogStore, and its worker_exit hook stops them gracefully on SIGTERM.
"""

from __future__ import annotations

import logging
from typing import Any

from labkit.serve import run_service
from logger import grpc_server, xmlrpc_server
from logger.app import create_app, store_of
from logger.config import Config
from logger.store import LogStore

GRPC_GRACE_S = 5.0

log = logging.getLogger("logger")


class RpcAndGrpc:
    """The xmlrpc and gRPC servers of the worker process (nothing runs in gunicorn's master)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store: LogStore | None = None
        self.rpc: xmlrpc_server.LogRpcServer | None = None
        self.grpc: grpc_server.LogGrpcServer | None = None

    def start(self, worker: Any) -> None:
        rpc_addr = f"{self.config.host}:{self.config.rpc_port}"
        grpc_addr = f"{self.config.host}:{self.config.grpc_port}"
        self.store = store_of(worker.wsgi)
        try:
            self.rpc, _ = xmlrpc_server.create_server(rpc_addr, self.store)
            self.grpc, _ = grpc_server.create_server(grpc_addr, self.store)
        except (OSError, RuntimeError) as exc:
            log.error("cannot listen for xmlrpc on %s and gRPC on %s: %s", rpc_addr, grpc_addr, exc)
            raise
        self.rpc.start()
        self.grpc.start()
        log.info("xmlrpc on %s, gRPC on %s", rpc_addr, grpc_addr)

    def stop(self, _arbiter: Any, _worker: Any) -> None:
        if self.store is None:
            return
        if self.grpc is not None:
            self.grpc.stop(GRPC_GRACE_S)
        if self.rpc is not None:
            self.rpc.stop()
        self.store.close()
        log.info("xmlrpc and gRPC stopped")


def servers(config: Config) -> dict[str, Any]:
    """gunicorn's hooks that start xmlrpc and gRPC in the worker and stop them with it."""
    rpc_and_grpc = RpcAndGrpc(config)
    return {"post_worker_init": rpc_and_grpc.start, "worker_exit": rpc_and_grpc.stop}


def main() -> None:
    run_service("logger", Config.from_env, create_app, workers=1, threads=16, settings=servers)


if __name__ == "__main__":
    main()

"""DRAIN_SECONDS: a service told to stop (SIGTERM) first drains: it says it is not ready and keeps serving
for that long, then stops by itself. Shown with `python -m logger` as the lab starts it (its HTTP API
and its gRPC health), over a real SecantusDB."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pymongo
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from labrun.procs import Proc
from labrun.services import service_spec
from labtest import eventually, free_port
from logger import logs_pb2, logs_pb2_grpc

DRAIN_SECONDS = 5
SERVICES = ("", "logs.LogService")


@pytest.fixture
def database(mongo_url: str) -> Iterator[str]:
    name = f"logs_{uuid.uuid4().hex[:12]}"
    yield name
    with pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=3000) as client:
        client.drop_database(name)


def readyz(base: str) -> tuple[int, dict]:
    reply = requests.get(base + "/readyz", timeout=5)
    return reply.status_code, reply.json()


def grpc_health(channel: grpc.Channel) -> set[int]:
    stub = health_pb2_grpc.HealthStub(channel)
    return {stub.Check(health_pb2.HealthCheckRequest(service=s), timeout=5).status for s in SERVICES}


def test_a_draining_service_is_not_ready_serves_on_then_stops_by_itself(
    mongo_url: str, database: str, tmp_path: Path
) -> None:
    port, grpc_port = free_port(), free_port()
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    env = {
        "PORT": str(port),
        "RPC_PORT": str(free_port()),
        "GRPC_PORT": str(grpc_port),
        "MONGO_URL": mongo_url,
        "MONGO_DB": database,
        "DRAIN_SECONDS": str(DRAIN_SECONDS),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }
    base = f"http://127.0.0.1:{port}"
    spec = service_spec("logger", env)
    proc = Proc.start_spec(spec, tmp_path, timeout=30)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            assert grpc_health(channel) == {health_pb2.HealthCheckResponse.SERVING}

            proc.signal(signal.SIGTERM)

            _status, body = eventually(
                lambda: readyz(base), lambda answer: answer[0] == 503, timeout=DRAIN_SECONDS
            )
            assert body == {"error": True, "message": "not ready", "data": {"mongo": True, "draining": True}}
            # New connections are still served while the drain lasts.
            logged = requests.post(base + "/log", json={"name": "drain", "data": "during"}, timeout=5)
            assert logged.status_code == 202
            eventually(
                lambda: grpc_health(channel),
                lambda statuses: statuses == {health_pb2.HealthCheckResponse.NOT_SERVING},
                timeout=DRAIN_SECONDS,
            )
            entry = logs_pb2.Log(name="drain", data="during, over gRPC")
            reply = logs_pb2_grpc.LogServiceStub(channel).WriteLog(
                logs_pb2.LogRequest(logEntry=entry), timeout=5
            )
            assert reply.result == "logged!"

        assert proc.popen is not None
        assert proc.popen.wait(30) == 0, "it stops by itself, cleanly, once the drain is over"
        with pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=3000) as client:
            stored = sorted(d["data"] for d in client[database]["logs"].find({"name": "drain"}))
        assert stored == ["during", "during, over gRPC"]

        # Started again over the same directory, the drain marker left behind is forgotten.
        proc = Proc.start_spec(spec, tmp_path, timeout=30)
        assert readyz(base) == (200, {"error": False, "message": "ready", "data": {"mongo": True}})
    finally:
        proc.stop()

    messages = [json.loads(line)["message"] for line in proc.log_path.read_text().splitlines()]
    assert f"draining for {DRAIN_SECONDS} s before stopping" in messages


def test_a_malformed_drain_seconds_stops_the_service_at_start_naming_it(tmp_path: Path) -> None:
    spec = service_spec("mail", {"PORT": str(free_port()), "DRAIN_SECONDS": "soon"})
    environ = {**os.environ, **spec.env}
    done = subprocess.run(spec.argv, env=environ, cwd=spec.cwd, capture_output=True, timeout=60, check=False)

    assert done.returncode == 2
    assert "DRAIN_SECONDS must be an integer, got 'soon'" in done.stdout.decode()

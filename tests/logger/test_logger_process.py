"""`python -m logger` as the lab starts it: one process on three ports, JSON logs, a clean SIGTERM."""

from __future__ import annotations

import json
import socket
import uuid
import xmlrpc.client
from pathlib import Path

import grpc
import pymongo
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from labrun.procs import Proc
from labrun.services import service_spec
from labtest import free_port
from logger import logs_pb2, logs_pb2_grpc


def test_one_process_serves_http_xmlrpc_and_grpc_and_stops_cleanly(mongo_url: str, tmp_path: Path) -> None:
    port, rpc_port, grpc_port = free_port(), free_port(), free_port()
    database = f"logs_{uuid.uuid4().hex[:12]}"
    env = {
        "PORT": str(port),
        "RPC_PORT": str(rpc_port),
        "GRPC_PORT": str(grpc_port),
        "MONGO_URL": mongo_url,
        "MONGO_DB": database,
    }
    base = f"http://127.0.0.1:{port}"
    proc = Proc.start_spec(service_spec("logger", env), tmp_path, timeout=30)
    client = pymongo.MongoClient(mongo_url, serverSelectionTimeoutMS=3000)
    try:
        http_reply = requests.post(base + "/log", json={"name": "p", "data": "http"}, timeout=5)
        assert http_reply.status_code == 202
        rpc_proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{rpc_port}/", allow_none=True)
        assert rpc_proxy.LogInfo({"name": "p", "data": "rpc"}) == "Processed payload via RPC:p"
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            entry = logs_pb2.Log(name="p", data="grpc")
            stub = logs_pb2_grpc.LogServiceStub(channel)
            assert stub.WriteLog(logs_pb2.LogRequest(logEntry=entry), timeout=10).result == "logged!"
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING

        documents = list(client[database]["logs"].find())
        stored = {d["data"]: d["transport"] for d in documents}
        assert stored == {"http": "http", "rpc": "rpc", "grpc": "grpc"}
        event_ids = {d["transport"]: d["event_id"] for d in documents}
    finally:
        exit_code = proc.stop()
        client.drop_database(database)
        client.close()

    assert exit_code == 0
    lines = proc.log_path.read_text().splitlines()
    assert lines
    assert all(json.loads(line)["service"] == "logger" for line in lines)
    assert any(json.loads(line)["message"] == "xmlrpc and gRPC stopped" for line in lines)
    # One line per call, which says what it stored.
    for transport, event_id in event_ids.items():
        about = [json.loads(line) for line in lines if event_id in line]
        assert len(about) == 1, about
        assert about[0]["transport"] == transport
        assert about[0]["new"] is True
        assert about[0]["status"] in (200, 202)


def test_a_taken_grpc_port_stops_the_logger_at_start_saying_which(mongo_url: str, tmp_path: Path) -> None:
    rpc_port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        grpc_port = taken.getsockname()[1]
        env = {
            "PORT": str(free_port()),
            "RPC_PORT": str(rpc_port),
            "GRPC_PORT": str(grpc_port),
            "MONGO_URL": mongo_url,
            "MONGO_DB": f"logs_{uuid.uuid4().hex[:12]}",
        }
        with pytest.raises(RuntimeError, match="logger exited at start"):
            Proc.start_spec(service_spec("logger", env), tmp_path, timeout=30)

    # gRPC's own C library writes a line of its own; the service's lines are JSON.
    lines = (tmp_path / "logger.log").read_text().splitlines()
    messages = [json.loads(line)["message"] for line in lines if line.startswith("{")]
    said = f"cannot listen for xmlrpc on 127.0.0.1:{rpc_port} and gRPC on 127.0.0.1:{grpc_port}"
    assert any(message.startswith(said) for message in messages), messages
    # The xmlrpc server, created but never started, is stopped without an error of its own.
    assert not any("Exception during worker exit" in message for message in messages), messages

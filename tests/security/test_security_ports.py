"""The logger's xmlrpc and gRPC servers listen where the contract says (HOST, RPC_PORT, GRPC_PORT) and
nowhere else, and neither compose nor Kubernetes publishes them outside the lab's network."""

from __future__ import annotations

import ipaddress
import os
import struct
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from labtest import Lab

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "project" / "docker-compose.yml"
LOGGER_MANIFEST = ROOT / "project" / "k8s" / "services" / "logger.yaml"
TCP_LISTEN = "0A"


def _descendants(pid: int) -> set[int]:
    """pid and every process below it, from /proc (Linux)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    family = {pid}
    grew = True
    while grew:
        children = {child for child, parent in parents.items() if parent in family}
        grew = not children <= family
        family |= children
    return family


def _socket_inodes(pids: set[int]) -> set[str]:
    inodes = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        for fd in fd_dir.iterdir() if fd_dir.exists() else ():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:[") : -1])
    return inodes


def _address(hex_addr: str) -> tuple[str, int]:
    """A /proc/net/tcp{,6} address: the IP as 32-bit words in host byte order, then the port.
    An IPv4-mapped IPv6 address (gRPC listens on one for 127.0.0.1) is given as the IPv4 address."""
    ip_hex, port_hex = hex_addr.split(":")
    words = [int(ip_hex[i : i + 8], 16) for i in range(0, len(ip_hex), 8)]
    packed = b"".join(struct.pack("=I", word) for word in words)
    ip = ipaddress.ip_address(packed)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), int(port_hex, 16)


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """The TCP addresses the process and its children listen on."""
    inodes = _socket_inodes(_descendants(pid))
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == TCP_LISTEN and inode in inodes:
                found.add(_address(local))
    return found


def test_the_logger_listens_only_on_host_port_rpc_port_and_grpc_port(lab: Lab) -> None:
    logger = lab.procs["logger"].popen
    assert logger is not None

    assert listening_addresses(logger.pid) == {
        ("127.0.0.1", lab.ports.logger),
        ("127.0.0.1", lab.ports.logger_rpc),
        ("127.0.0.1", lab.ports.logger_grpc),
    }
    with grpc.insecure_channel(f"127.0.0.1:{lab.ports.logger_grpc}") as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="logs.LogService"), timeout=5
        )
    assert health.status == health_pb2.HealthCheckResponse.SERVING


def _published(service: dict[str, Any]) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_compose_keeps_the_logger_internal() -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    logger = services["logger"]

    assert "ports" not in logger, "the logger's ports stay inside the compose network"
    assert "network_mode" not in logger
    assert (logger["environment"]["RPC_PORT"], logger["environment"]["GRPC_PORT"]) == ("5001", "50001")
    for name, service in services.items():
        for mapping in _published(service):
            host_ip, _, container_port = mapping.rpartition(":")
            assert container_port not in ("5001", "50001"), f"{name} publishes {mapping}"
            assert host_ip.startswith("127.0.0.1:"), f"{name} publishes {mapping} beyond this machine"


def test_kubernetes_keeps_the_logger_inside_the_cluster() -> None:
    documents = [doc for doc in yaml.safe_load_all(LOGGER_MANIFEST.read_text()) if doc]
    [service] = [doc for doc in documents if doc["kind"] == "Service"]
    [deployment] = [doc for doc in documents if doc["kind"] == "Deployment"]

    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    pod = deployment["spec"]["template"]["spec"]
    assert not pod.get("hostNetwork")
    for container in pod["containers"]:
        assert all("hostPort" not in port for port in container.get("ports", []))

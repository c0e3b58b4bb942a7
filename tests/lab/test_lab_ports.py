"""labrun.procs.free_port, which picks the ports of the servers that the tests and the native runner start."""

from __future__ import annotations

from labrun.procs import free_port


def test_free_port_never_gives_the_same_port_twice() -> None:
    # A port stays free until its server binds it: a service given two ports in a row (xmlrpc and gRPC)
    # must not get one port twice. Among 300 ports from a range of about 4,800, drawn at random, a
    # repeat would be all but certain.
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)

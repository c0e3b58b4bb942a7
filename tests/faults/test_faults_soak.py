"""A bounded soak: a fixed count of mixed requests over every action and transport, from a few clients
at once. It must end without a single 5xx, with every accepted log event stored exactly once and every
mail delivered, and without leaving the services holding more connections or threads than before."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests
from faultlab import (
    FaultLab,
    PrivateServers,
    Reply,
    Sent,
    assert_stored_once,
    auth_body,
    log_body,
    mail_body,
    post,
    sent,
)
from pymongo.collection import Collection

CLIENTS = 8
KINDS = ("auth", "mail", "log rabbitmq", "log rpc", "log grpc", "log http", "GET /logs")
SOAK_COUNT = 100 * len(KINDS)
SOAK_SECONDS = 60.0
# Pools grow on demand up to the peak concurrency a load drives them to, and then stay: gunicorn's
# threads, the broker's AMQP connection and xmlrpc proxy per thread, its HTTP pools, the logger's MongoDB
# pool. A warm-up the same as the soak brings them near that peak, so the soak starts from there.
WARMUP_COUNT = SOAK_COUNT
# gunicorn's keep-alive (labkit.serve): idle connections between services close after it.
KEEPALIVE_SECONDS = 5.0
# The soak may still drive a pool a little past the warm-up's peak: a new gunicorn thread in the broker
# brings its own AMQP connection (4 fds: the socket, pika's wake-up pair, epoll) and keep-alive connections
# to auth, mail and the logger. Runs of this test have seen up to +20 fds and +5 threads in one service.
# A leak grows with the request count instead: one fd or thread per request of any one kind is +100.
FD_SLACK = 32
THREAD_SLACK = 8


@dataclass(frozen=True)
class Outcome:
    kind: str
    expected: int
    reply: Reply
    data: str | None = None


def request(lab: FaultLab, session: requests.Session, tag: str, index: int) -> Outcome:
    kind = KINDS[index % len(KINDS)]
    handle = lab.broker + "/handle"
    if kind == "auth":
        return Outcome(kind, 202, post(handle, auth_body(), session))
    if kind == "mail":
        return Outcome(kind, 202, post(handle, mail_body(f"{tag} {index}"), session))
    if kind == "GET /logs":
        started = time.monotonic()
        response = session.get(lab.broker + "/logs", params={"limit": 20}, timeout=30)
        reply = Reply(response.status_code, response.json()["message"], None, time.monotonic() - started)
        return Outcome(kind, 200, reply)
    data = f"{tag}-{index:04d}-{os.urandom(4).hex()}"
    return Outcome(kind, 202, post(handle, log_body(kind.split()[1], data, name="soak"), session), data)


def run(lab: FaultLab, tag: str, count: int) -> list[Outcome]:
    """`count` requests, the kinds in turn, from CLIENTS threads with a session each, within SOAK_SECONDS;
    every one must get its success status (202, or 200 for reads): no 5xx, and no 4xx either."""
    deadline = time.monotonic() + SOAK_SECONDS

    def client(indexes: range) -> list[Outcome]:
        with requests.Session() as session:
            return [request(lab, session, tag, i) for i in indexes if time.monotonic() < deadline]

    with ThreadPoolExecutor(CLIENTS) as pool:
        parts = list(pool.map(client, [range(first, count, CLIENTS) for first in range(CLIENTS)]))
    outcomes = [outcome for part in parts for outcome in part]
    assert len(outcomes) == count, f"{len(outcomes)} of {count} requests made within {SOAK_SECONDS:.0f}s"
    failed = [outcome for outcome in outcomes if outcome.reply.status != outcome.expected]
    assert not failed, f"{len(failed)} of {count} requests failed, e.g. {failed[:3]}"
    return outcomes


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry))
    return found


@dataclass(frozen=True)
class Usage:
    pids: frozenset[int]
    fds: int
    threads: int


def usage(lab: FaultLab) -> dict[str, Usage]:
    """Each service's open file descriptors and threads, over its process and its children (workers)."""
    result = {}
    for name, proc in lab.procs.items():
        pids = [proc.pid, *children(proc.pid)]
        fds = sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids)
        threads = sum(len(os.listdir(f"/proc/{pid}/task")) for pid in pids)
        result[name] = Usage(frozenset(pids), fds, threads)
    return result


def growth(before: dict[str, Usage], after: dict[str, Usage]) -> dict[str, tuple[int, int]]:
    return {
        name: (after[name].fds - used.fds, after[name].threads - used.threads)
        for name, used in before.items()
    }


def log_events(outcomes: list[Outcome]) -> list[Sent]:
    return [sent(outcome.data, outcome.reply) for outcome in outcomes if outcome.data is not None]


def test_soak_mixed_requests_no_5xx_nothing_lost_no_leak(
    fault_lab: FaultLab, private_servers: PrivateServers, logs: Collection
) -> None:
    inbox = private_servers.backing.mail_ui_url
    assert_stored_once(logs, log_events(run(fault_lab, "warmup", WARMUP_COUNT)))
    requests.delete(inbox + "/api/v1/messages", timeout=5).raise_for_status()
    time.sleep(KEEPALIVE_SECONDS + 1)
    before = usage(fault_lab)

    started = time.monotonic()
    outcomes = run(fault_lab, "soak", SOAK_COUNT)
    print(f"soak: {SOAK_COUNT} requests from {CLIENTS} clients in {time.monotonic() - started:.1f}s")

    assert_stored_once(logs, log_events(outcomes))
    mails = sum(outcome.kind == "mail" for outcome in outcomes)
    assert requests.get(inbox + "/api/v2/messages", timeout=5).json()["total"] == mails
    time.sleep(KEEPALIVE_SECONDS + 1)
    after = usage(fault_lab)
    grown = growth(before, after)
    counts = {name: (used.fds, used.threads) for name, used in before.items()}
    print(f"soak: open files and threads before {counts}, growth {grown}")
    assert {name: used.pids for name, used in after.items()} == {
        name: used.pids for name, used in before.items()
    }, "a service process exited or was replaced during the soak"
    assert all(fds <= FD_SLACK and threads <= THREAD_SLACK for fds, threads in grown.values()), (
        f"open files and threads grew past the slack (fds, threads): {grown}"
    )

"""A small benchmark through the real lab: the streamed lines, every field of the result, nothing lost.

It asserts nothing about speed: numbers are what `make bench` prints.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pymongo.collection
import requests

from labtest import Lab, eventually

TRANSPORTS = ["rabbitmq", "rpc", "grpc", "http"]
N, CONCURRENCY = 50, 4
PERCENTILE_KEYS = {"p50", "p95", "p99"}
M_KEYS = {
    "sent",
    "accepted",
    "stored",
    "duplicates",
    "throughput_per_s",
    "accept_ms",
    "deliver_ms",
}


def run_bench(lab: Lab) -> list[dict[str, Any]]:
    body = {"n": N, "concurrency": CONCURRENCY}
    with requests.post(lab.broker + "/bench", json=body, stream=True, timeout=(5, 120)) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/x-ndjson"
        return [json.loads(line) for line in response.iter_lines() if line]


def test_a_small_benchmark_streams_progress_then_a_complete_result(lab: Lab) -> None:
    lines = run_bench(lab)

    *progress, last = lines
    assert last["type"] == "result", last
    assert (last["error"], last["message"]) == (False, "benchmark done")
    for line in progress:
        assert set(line) == {"type", "path", "transport", "n", "sent", "accepted", "stored"}
        assert line["type"] == "progress"
        assert line["path"] in ("broker", "direct")
        assert line["transport"] in TRANSPORTS
        assert line["n"] == N
        assert 0 <= line["accepted"] <= line["sent"] <= N
    steps = list(dict.fromkeys((line["transport"], line["path"]) for line in progress))
    assert steps == [(t, p) for t in TRANSPORTS for p in ("broker", "direct")]

    result = last["data"]
    assert {"n", "concurrency", "started_at", "host", "paths"} <= set(result)
    assert (result["n"], result["concurrency"]) == (N, CONCURRENCY)
    assert {"cpus", "platform", "python"} <= set(result["host"])
    assert list(result["paths"]) == ["broker", "direct"]
    for path, by_transport in result["paths"].items():
        assert list(by_transport) == TRANSPORTS, path
        for transport, m in by_transport.items():
            where = f"{path}/{transport}"
            assert set(m) >= M_KEYS, where
            assert set(m["accept_ms"]) == set(m["deliver_ms"]) == PERCENTILE_KEYS, where
            assert all(isinstance(v, float) for v in [*m["accept_ms"].values(), *m["deliver_ms"].values()])
            assert m["throughput_per_s"] > 0, where
            assert (m["sent"], m["accepted"], m["stored"], m["duplicates"]) == (N, N, N, 0), where
            assert (m["failed"], m["lost"], m["errors"]) == (0, 0, {}), where


def bench_processes(lab: Lab) -> list[str]:
    """The benchmark child processes of this lab's broker, by their command line."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"broker.bench" in argv and f'"port": {lab.ports.broker},'.encode() in b" ".join(argv):
            found.append(cmdline.parent.name)
    return found


def counts_a_second_apart(collection: pymongo.collection.Collection) -> tuple[int, int]:
    query = {"name": {"$regex": "^bench-"}}
    before = collection.count_documents(query)
    time.sleep(1)
    return before, collection.count_documents(query)


@contextmanager
def long_run(lab: Lab, logs_collection: pymongo.collection.Collection) -> Iterator[Iterator[bytes]]:
    """A run far too long to finish (10,000 events at concurrency 1), streaming: the block gets its lines
    after the first progress line. Once the block has ended the run, this waits until what the run
    queued on RabbitMQ is stored, so the tests after it read a settled store."""
    with requests.post(
        lab.broker + "/bench", json={"n": 10_000, "concurrency": 1}, stream=True, timeout=(5, 60)
    ) as response:
        assert response.status_code == 200
        lines = (line for line in response.iter_lines() if line)
        assert json.loads(next(lines))["type"] == "progress"
        yield lines
    eventually(lambda: counts_a_second_apart(logs_collection), lambda pair: pair[0] == pair[1], timeout=30)


def test_one_run_at_a_time_on_every_worker_and_a_dropped_run_stops(
    lab: Lab, logs_collection: pymongo.collection.Collection
) -> None:
    with long_run(lab, logs_collection):
        assert len(bench_processes(lab)) == 1
        # A new connection each time, so both of the broker's workers answer some of them.
        for _ in range(6):
            second = requests.post(lab.broker + "/bench", json={"n": 1, "concurrency": 1}, timeout=5)
            assert second.status_code == 409
            assert second.json() == {"error": True, "message": "a benchmark is already running"}

    # The client went away: the run stopped, its process ends, and the next run may start.
    eventually(lambda: bench_processes(lab), lambda running: running == [], timeout=30)
    lines = run_bench(lab)
    assert lines[-1]["type"] == "result", lines[-1]


def test_a_run_whose_process_dies_ends_with_an_error_line(
    lab: Lab, logs_collection: pymongo.collection.Collection
) -> None:
    with long_run(lab, logs_collection) as lines:
        (pid,) = bench_processes(lab)
        os.kill(int(pid), signal.SIGKILL)
        last = json.loads(list(lines)[-1])

    assert last == {"type": "error", "error": True, "message": "benchmark failed: internal error"}
    assert run_bench(lab)[-1]["type"] == "result", "the lock was released"

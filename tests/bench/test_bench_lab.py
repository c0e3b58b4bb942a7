"""A small benchmark through the real lab: the streamed lines, every field of the result, nothing lost,
every mail received, and the single-client mode's median and p99 on every path.

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

from broker.bench import WARMUP_PER_CLIENT
from labrun.bench import count_mails, table
from labtest import Lab, eventually

TRANSPORTS = ["rabbitmq", "rpc", "grpc", "http"]
ACTIONS = ["mail", "auth"]
N, CONCURRENCY = 50, 4
WARMUP_N = WARMUP_PER_CLIENT * CONCURRENCY
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


def run_bench(lab: Lab, **settings: int) -> list[dict[str, Any]]:
    body = {"n": N, "concurrency": CONCURRENCY, **settings}
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
        assert line["transport"] in TRANSPORTS + (ACTIONS if line["path"] == "broker" else [])
        assert line["n"] == N
        assert 0 <= line["accepted"] <= line["sent"] <= N
    steps = list(dict.fromkeys((line["transport"], line["path"]) for line in progress))
    assert steps == [(t, p) for t in TRANSPORTS for p in ("broker", "direct")] + [
        (a, "broker") for a in ACTIONS
    ]

    result = last["data"]
    assert {"run_id", "n", "concurrency", "auth_n", "started_at", "host", "paths"} <= set(result)
    assert (result["n"], result["concurrency"], result["auth_n"]) == (N, CONCURRENCY, N)
    assert {"cpus", "platform", "python"} <= set(result["host"])
    assert list(result["paths"]) == ["broker", "direct"]
    assert list(result["paths"]["broker"]) == TRANSPORTS + ACTIONS
    assert list(result["paths"]["direct"]) == TRANSPORTS
    for path, by_transport in result["paths"].items():
        for transport, m in by_transport.items():
            where = f"{path}/{transport}"
            assert set(m) >= M_KEYS, where
            assert set(m["accept_ms"]) == set(m["deliver_ms"]) == PERCENTILE_KEYS, where
            assert all(isinstance(v, float) for v in m["accept_ms"].values()), where
            assert m["throughput_per_s"] > 0, where
            assert (m["failed"], m["errors"]) == (0, {}), where
            assert m["cpu_ms_per_event"]["total"] > 0, where
            if transport in ACTIONS:
                # Measured by the replies: the broker holds no count of what arrived.
                assert (m["sent"], m["accepted"], m["stored"], m["lost"]) == (N, N, None, None), where
                assert m["deliver_ms"] == dict.fromkeys(PERCENTILE_KEYS), where
            else:
                assert all(isinstance(v, float) for v in m["deliver_ms"].values()), where
                assert (m["sent"], m["accepted"], m["stored"], m["duplicates"], m["lost"]) == (N, N, N, 0, 0)
    # Each login costs the authentication service a bcrypt hash; each mail, the mail service a message.
    assert result["paths"]["broker"]["auth"]["cpu_ms_per_event"]["authentication"] > 0
    assert result["paths"]["broker"]["mail"]["cpu_ms_per_event"]["mail"] > 0
    # Each client warmed every path up with its own events, stored under their own marker (a failure
    # shows the count for each marker).
    warm_ups = [f"bench-{result['run_id']}-warmup-{p}-{t}-" for t, p in steps if t in TRANSPORTS]
    eventually(
        lambda: {prefix: logged_count(lab, prefix) for prefix in warm_ups},
        lambda counts: all(count == WARMUP_N for count in counts.values()),
    )


def logged_count(lab: Lab, prefix: str) -> int:
    answer = requests.get(lab.url("logger") + "/logs/count", params={"event_id_prefix": prefix}, timeout=10)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["data"]["count"])


def catcher_subjects(lab: Lab) -> list[str]:
    answer = requests.get(f"{lab.backing.mail_ui_url}/api/v2/messages", params={"limit": 250}, timeout=10)
    return [item["Content"]["Headers"]["Subject"][0] for item in answer.json()["items"]]


def test_every_mail_of_a_run_is_received_once_and_make_bench_counts_them(lab: Lab) -> None:
    *_, last = run_bench(lab, auth_n=1)
    result = last["data"]

    run = f"bench-{result['run_id']}"
    received = [subject for subject in catcher_subjects(lab) if subject.startswith(f"{run} ")]
    assert sorted(received) == sorted(f"{run} {i}" for i in range(N))
    count_mails(result, lab.backing.mail_ui_url)
    mail = result["paths"]["broker"]["mail"]
    counted = [mail[key] for key in ("sent", "accepted", "stored", "duplicates", "lost")]
    assert counted == [N, N, N, 0, 0]
    row = next(line for line in table(result).splitlines() if line.startswith("| broker | mail |"))
    assert row.startswith(f"| broker | mail | {N} | {N} | {N} | 0 |")


def test_a_single_client_run_reports_the_median_and_p99_of_every_path(lab: Lab) -> None:
    *_, last = run_bench(lab, n=10, concurrency=1, auth_n=3)
    result = last["data"]

    assert result["concurrency"] == 1
    rows = [(p, t, m) for p, by_name in result["paths"].items() for t, m in by_name.items()]
    assert {(p, t) for p, t, _m in rows} == {
        *((p, t) for p in ("broker", "direct") for t in TRANSPORTS),
        *(("broker", a) for a in ACTIONS),
    }
    for path, name, m in rows:
        assert m["accepted"] == (3 if name == "auth" else 10), (path, name)
        assert isinstance(m["accept_ms"]["p50"], float), (path, name)
        assert isinstance(m["accept_ms"]["p99"], float), (path, name)
        assert m["accept_ms"]["p50"] <= m["accept_ms"]["p99"], (path, name)
    printed = table(result).splitlines()
    assert "a single client (concurrency 1)" in printed[0]
    header = next(line for line in printed if line.startswith("| path |"))
    columns = [cell.strip() for cell in header.strip("|").split("|")]
    main_table = printed[printed.index(header) + 2 : printed.index("", printed.index(header))]
    assert len(main_table) == len(rows)
    for line in main_table:
        cells = dict(zip(columns, (cell.strip() for cell in line.strip("|").split("|")), strict=True))
        assert cells["accept p50"] != "-" and cells["accept p99"] != "-", line


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
        # A new connection each time, so each of the broker's workers (when it runs several) answers some.
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

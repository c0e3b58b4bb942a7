"""What `make bench` writes from a result: latest.json (round-trips), latest.md (a table), latest.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from labrun.bench import table, write_results

TRANSPORTS = ("rabbitmq", "rpc", "grpc", "http")


def metrics(rate: float) -> dict[str, Any]:
    return {
        "sent": 2000,
        "accepted": 2000,
        "stored": 2000,
        "duplicates": 0,
        "throughput_per_s": rate,
        "accepted_per_s": rate * 2,
        "accept_ms": {"p50": 1.5, "p95": 4.25, "p99": 9.0},
        "deliver_ms": {"p50": 2.0, "p95": 1234.5, "p99": None},
        "cpu_ms_per_event": {"broker": 0.5, "logger": 0.25, "load generator": 0.3, "total": 0.75},
    }


RESULT = {
    "n": 2000,
    "concurrency": 8,
    "started_at": "2026-01-02T03:04:05+00:00",
    "host": {"cpus": 2, "platform": "Linux-test", "python": "3.11.7", "load_1m": 0.5},
    "paths": {
        path: {
            t: metrics(100.0 * (i + 1) + (50 if path == "direct" else 0)) for i, t in enumerate(TRANSPORTS)
        }
        for path in ("broker", "direct")
    },
    "memory_mib": {"broker": 80.5, "load generator": 30.0, "logger": 60.0},
}


def test_every_file_is_written_and_the_json_round_trips(tmp_path: Path) -> None:
    paths = write_results(RESULT, tmp_path / "bench-results")

    assert {kind: path.name for kind, path in paths.items()} == {
        "json": "latest.json",
        "md": "latest.md",
        "png": "latest.png",
    }
    assert json.loads(paths["json"].read_text()) == RESULT
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths["png"].stat().st_size > 10_000
    assert paths["md"].read_text() == table(RESULT)


def test_the_table_has_a_row_per_path_and_transport() -> None:
    lines = table(RESULT).splitlines()

    header = next(line for line in lines if line.startswith("| path"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "path",
        "transport",
        "sent",
        "accepted",
        "stored",
        "duplicates",
        "throughput/s",
        "accepted/s",
        "accept p50",
        "accept p95",
        "accept p99",
        "deliver p50",
        "deliver p95",
        "deliver p99",
        "CPU ms/event",
    ]
    first_table = lines[: lines.index("", lines.index(header))]
    rows = [line for line in first_table if line.startswith(("| broker", "| direct"))]
    assert [row.split("|")[1:3] for row in rows] == [
        [f" {path} ", f" {t} "] for path in ("broker", "direct") for t in TRANSPORTS
    ]
    assert rows[0] == (
        "| broker | rabbitmq | 2,000 | 2,000 | 2,000 | 0 | 100.0 | 200.0 "
        "| 1.5 | 4.2 | 9.0 | 2.0 | 1,234.5 | - | 0.75 |"
    )
    assert "N = 2000 events per transport and path, concurrency 8" in lines[0]


def test_the_cpu_table_has_a_column_per_role_and_the_memory_table_a_lab_total() -> None:
    lines = table(RESULT).splitlines()

    cpu_header = next(line for line in lines if line.startswith("| path | transport | broker"))
    assert cpu_header == "| path | transport | broker | load generator | logger | total |"
    cpu_rows = lines[lines.index(cpu_header) + 2 : lines.index(cpu_header) + 10]
    assert cpu_rows[0] == "| broker | rabbitmq | 0.50 | 0.30 | 0.25 | 0.75 |"
    assert len(cpu_rows) == 8
    assert lines[-1] == "| 80.5 | 30.0 | 60.0 | 140.5 |", "the lab's total leaves out the load generator"

"""What `make bench` writes from a result: latest.json (round-trips), latest.md (a table), latest.png;
and how it counts the run's mails in the SMTP catcher."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from labrun.bench import count_mails, table, write_results
from mailcatcher import MailCatcher

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


def replies(rate: float, sent: int) -> dict[str, Any]:
    """A path measured by its replies, as the broker reports it (mail before `make bench` counts it)."""
    return {
        **metrics(rate),
        "sent": sent,
        "accepted": sent,
        "stored": None,
        "duplicates": None,
        "lost": None,
        "accepted_per_s": rate,
        "accept_ms": {"p50": 250.0, "p95": 300.0, "p99": 320.5},
        "deliver_ms": {"p50": None, "p95": None, "p99": None},
    }


RESULT = {
    "run_id": "0123abcd",
    "n": 2000,
    "concurrency": 8,
    "auth_n": 200,
    "started_at": "2026-01-02T03:04:05+00:00",
    "host": {"cpus": 2, "platform": "Linux-test", "python": "3.11.7", "load_1m": 0.5},
    "paths": {
        "broker": {
            **{t: metrics(100.0 * (i + 1)) for i, t in enumerate(TRANSPORTS)},
            "mail": {**replies(170.0, 2000), "stored": 2000, "duplicates": 0, "lost": 0},
            "auth": replies(7.5, 200),
        },
        "direct": {t: metrics(100.0 * (i + 1) + 50) for i, t in enumerate(TRANSPORTS)},
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
        [f" {path} ", f" {t} "]
        for path, names in (("broker", (*TRANSPORTS, "mail", "auth")), ("direct", TRANSPORTS))
        for t in names
    ]
    assert rows[0] == (
        "| broker | rabbitmq | 2,000 | 2,000 | 2,000 | 0 | 100.0 | 200.0 "
        "| 1.5 | 4.2 | 9.0 | 2.0 | 1,234.5 | - | 0.75 |"
    )
    assert rows[4] == (
        "| broker | mail | 2,000 | 2,000 | 2,000 | 0 | 170.0 | 170.0 "
        "| 250.0 | 300.0 | 320.5 | - | - | - | 0.75 |"
    )
    assert (
        rows[5]
        == "| broker | auth | 200 | 200 | - | - | 7.5 | 7.5 | 250.0 | 300.0 | 320.5 | - | - | - | 0.75 |"
    )
    assert "N = 2000 events per transport and path, and mails; 200 logins; concurrency 8" in lines[0]


def test_a_single_client_run_says_so() -> None:
    first = table({**RESULT, "concurrency": 1}).splitlines()[0]

    assert "a single client (concurrency 1): one request at a time" in first


def test_the_cpu_table_has_a_column_per_role_and_the_memory_table_a_lab_total() -> None:
    lines = table(RESULT).splitlines()

    cpu_header = next(line for line in lines if line.startswith("| path | transport | broker"))
    assert cpu_header == "| path | transport | broker | load generator | logger | total |"
    cpu_rows = lines[lines.index(cpu_header) + 2 : lines.index("", lines.index(cpu_header))]
    assert cpu_rows[0] == "| broker | rabbitmq | 0.50 | 0.30 | 0.25 | 0.75 |"
    assert cpu_rows[5] == "| broker | auth | 0.50 | 0.30 | 0.25 | 0.75 |"
    assert len(cpu_rows) == 10
    assert lines[-1] == "| 80.5 | 30.0 | 60.0 | 140.5 |", "the lab's total leaves out the load generator"


def send_mails(catcher: MailCatcher, subjects: list[str]) -> None:
    with smtplib.SMTP(catcher.smtp_host, catcher.smtp_port, timeout=5) as client:
        for subject in subjects:
            message = EmailMessage()
            message["From"], message["To"], message["Subject"] = (
                "lab@example.com",
                "bench@example.com",
                subject,
            )
            message.set_content("A benchmark's mail.\n")
            client.send_message(message)


def test_the_runs_mails_are_counted_once_each_back_to_its_start() -> None:
    """More mails than a page of the catcher's API; one of the run's lost, one received twice, and mails
    that are not the run's: its warm-up's, another run's, and one of the same subject from before it."""
    with MailCatcher("127.0.0.1", 0, 0) as catcher:
        send_mails(catcher, ["bench-0123abcd 1"])
        result = json.loads(json.dumps(RESULT))
        result["started_at"] = datetime.now(UTC).isoformat()
        numbers = [i for i in range(300) if i != 5] + [7]
        send_mails(catcher, ["bench-0123abcd-warmup 0", "bench-99999999 2"])
        send_mails(catcher, [f"bench-0123abcd {i}" for i in numbers])
        result["paths"]["broker"]["mail"] = {
            **result["paths"]["broker"]["mail"],
            "sent": 300,
            "accepted": 300,
        }

        count_mails(result, catcher.api_url)

    mail = result["paths"]["broker"]["mail"]
    assert (mail["stored"], mail["duplicates"], mail["lost"]) == (299, 1, 1)

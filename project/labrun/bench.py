"""`python -m labrun.bench` (`make bench`): compare the four transports, through the broker and direct,
and the broker's mail and auth actions.

It asks the broker at BROKER_URL to run the benchmark (POST /bench: the load runs beside the broker, so
this client's own overhead is not measured), prints a progress line a second, counts the run's mails in
the SMTP catcher at MAIL_CATCHER_URL (MailHog's API, which the native catcher answers too), and writes
project/bench-results/latest.json, latest.md (a table) and latest.png (charts). When nothing answers at
BROKER_URL and that is the native lab's address, it starts the native lab (`python -m labrun`, its data
under project/.run/bench) for the run and stops it afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from labrun.procs import Proc
from labrun.services import Ports

PROJECT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT / "bench-results"
NATIVE_BROKER_URL = f"http://127.0.0.1:{Ports().broker}"
NATIVE_MAIL_CATCHER_URL = "http://127.0.0.1:8025"
# Mails are read from the catcher this many at a time (its most), newest first.
CATCHER_PAGE = 250
LAB_DIR = PROJECT / ".run" / "bench"
LAB_BANNER = "The lab is up:"
LAB_START_TIMEOUT_S = 300.0
LAB_STOP_GRACE_S = 90.0
# The broker sends a line at least every half second; a silence this long means it is gone.
READ_TIMEOUT_S = 60.0
TRANSPORTS = ("rabbitmq", "rpc", "grpc", "http")
# Measured through the broker only.
ACTIONS = ("mail", "auth")
PATHS = ("broker", "direct")
PERCENTILES = ("p50", "p95", "p99")
COLUMNS = (
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
)


class BenchError(RuntimeError):
    """The benchmark could not run or finish; the message says why."""


def _number(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def table(result: dict[str, Any]) -> str:
    """The result as a markdown table: one row per path and transport, latencies in milliseconds."""
    host = result["host"]
    clients = (
        "a single client (concurrency 1): one request at a time, so each latency is a request's own"
        if result["concurrency"] == 1
        else f"concurrency {result['concurrency']}"
    )
    lines = [
        f"N = {result['n']} events per transport and path, and mails; "
        f"{_number(result.get('auth_n'))} logins; {clients}; started {result['started_at']}; "
        f"{host.get('cpus')} CPUs, {host.get('platform')}, Python {host.get('python')}, "
        f"load {host.get('load_1m')} at start.",
        "throughput/s: events stored per second, from the first send until the last event was stored; "
        "accepted/s: 202s per second while sending. Latencies in ms (p50 is the median): accept = until "
        "the 202 (or the sender returned), deliver = from sending until the stored event's created_at (the "
        "logger's clock as it writes the event; the same machine's clock as the sender's).",
        "mail: the broker's mail action; throughput = replies per second, stored = the mails the SMTP "
        "catcher received (once each: none lost when it equals accepted). auth: the broker's auth action "
        "with the seed user (bcrypt at the configured cost); throughput = replies per second. CPU "
        "ms/event: per stored event on the log paths, per request for mail and auth.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(COLUMNS))) + "|",
    ]
    for path in PATHS:
        for transport, m in result["paths"].get(path, {}).items():
            cells = [path, transport]
            cells += [_number(m[key]) for key in ("sent", "accepted", "stored", "duplicates")]
            cells += [_number(m["throughput_per_s"]), _number(m.get("accepted_per_s"))]
            cells += [_number(m["accept_ms"][p]) for p in PERCENTILES]
            cells += [_number(m["deliver_ms"][p]) for p in PERCENTILES]
            cells.append(_number(m.get("cpu_ms_per_event", {}).get("total"), 2))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", *cpu_table(result), "", *memory_table(result)]) + "\n"


def cpu_table(result: dict[str, Any]) -> list[str]:
    """CPU milliseconds per stored event, by process role (read from /proc), for each path."""
    rows = [
        (path, t, m["cpu_ms_per_event"]) for path in PATHS for t, m in result["paths"].get(path, {}).items()
    ]
    roles = sorted({role for *_, cpu in rows for role in cpu if role != "total"})
    if not roles:
        return []
    lines = [
        "CPU ms per stored event (per request for mail and auth), by process (user + system time from "
        "/proc; the lab's total leaves out the load generator):",
        "",
        "| path | transport | " + " | ".join(roles) + " | total |",
        "|---|---|" + "---:|" * (len(roles) + 1),
    ]
    for path, transport, cpu in rows:
        cells = [_number(cpu.get(role), 2) for role in roles]
        lines.append(f"| {path} | {transport} | " + " | ".join(cells) + f" | {_number(cpu['total'], 2)} |")
    return lines


def memory_table(result: dict[str, Any]) -> list[str]:
    """Each role's memory at the end of the run (proportional set size, MiB)."""
    memory = result.get("memory_mib") or {}
    if not memory:
        return []
    lab = sum(mib for role, mib in memory.items() if role != "load generator")
    return [
        "Memory at the end of the run (proportional set size, MiB):",
        "",
        "| " + " | ".join(memory) + " | lab total |",
        "|" + "---:|" * (len(memory) + 1),
        "| " + " | ".join(_number(mib) for mib in memory.values()) + f" | {_number(round(lab, 1))} |",
    ]


def chart(result: dict[str, Any], path: Path) -> None:
    """Throughput per transport (broker vs direct), then accept and deliver latency percentiles."""
    import matplotlib  # noqa: PLC0415 (the backend is chosen before pyplot is imported)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: PLC0415

    # The transports, then the actions (through the broker only: no direct bar).
    groups = [t for t in (*TRANSPORTS, *ACTIONS) if t in result["paths"].get("broker", {})]
    colors = {"broker": "#1f77b4", "direct": "#ff7f0e"}
    fig, axes = plt.subplots(3, 1, figsize=(12, 12))
    width = 0.38
    throughput = axes[0]
    for i, p in enumerate(PATHS):
        measured = result["paths"].get(p, {})
        xs = [x + (i - 0.5) * width for x, t in enumerate(groups) if t in measured]
        values = [measured[t]["throughput_per_s"] for t in groups if t in measured]
        label = f"{p}: stored/s" + (" (mail, auth: replies/s)" if p == "broker" else "")
        bars = throughput.bar(xs, values, width, label=label, color=colors[p])
        throughput.bar_label(bars, fmt="%.0f", fontsize=8)
        accepted = [measured[t].get("accepted_per_s") or 0 for t in groups if t in measured]
        throughput.scatter(xs, accepted, marker="_", s=600, color="black", zorder=3)
    throughput.scatter([], [], marker="_", s=200, color="black", label="accepted/s (202s while sending)")
    run = f"N={result['n']}, concurrency {result['concurrency']}"
    throughput.set_title(f"Throughput: events stored per second of the run ({run})")
    throughput.set_ylabel("events/s")
    throughput.set_xticks(range(len(groups)), groups)
    throughput.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    for ax, key, title in (
        (axes[1], "accept_ms", "Accept latency: until the 202 (or the sender returned)"),
        (axes[2], "deliver_ms", "Delivery latency: from sending until stored"),
    ):
        bar_width = 0.13
        for i, p in enumerate(PATHS):
            measured = result["paths"].get(p, {})
            for j, q in enumerate(PERCENTILES):
                offset = (i * len(PERCENTILES) + j - 2.5) * bar_width
                values = [measured[t][key][q] or 0 for t in groups if t in measured]
                ax.bar(
                    [x + offset for x, t in enumerate(groups) if t in measured],
                    values,
                    bar_width,
                    color=colors[p],
                    alpha=(0.45, 0.7, 1.0)[j],
                    label=f"{p} {q}",
                )
        ax.set_title(title)
        ax.set_ylabel("ms (log scale)")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(range(len(groups)), groups)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_results(result: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """latest.json, latest.md and latest.png in out_dir; returns their paths by kind."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {kind: out_dir / f"latest.{kind}" for kind in ("json", "md", "png")}
    paths["json"].write_text(json.dumps(result, indent=2) + "\n")
    paths["md"].write_text(table(result))
    chart(result, paths["png"])
    return paths


def count_mails(result: dict[str, Any], catcher_url: str) -> None:
    """Fill in the mail row's stored (the run's mails the SMTP catcher received, one per number),
    duplicates and lost, reading the catcher's mails newest first back to the first one older than the
    run. The broker names each mail "bench-<run id> <number>"."""
    mail = result["paths"].get("broker", {}).get("mail")
    if mail is None:
        return
    subject = f"bench-{result['run_id']}"
    since = datetime.fromisoformat(result["started_at"])
    received: Counter[str] = Counter()
    start = 0
    while True:
        try:
            response = requests.get(
                f"{catcher_url}/api/v2/messages", params={"start": start, "limit": CATCHER_PAGE}, timeout=30
            )
            response.raise_for_status()
            items = response.json()["items"]
            mails = [(_subject(item), datetime.fromisoformat(item["Created"])) for item in items]
        except (requests.RequestException, ValueError, LookupError, TypeError) as exc:
            raise BenchError(f"cannot read the mails at {catcher_url}: {exc}") from None
        for name, created in mails:
            if created < since:
                mails = []
                break
            marker, _, number = name.rpartition(" ")
            if marker == subject:
                received[number] += 1
        if not mails:
            break
        start += len(mails)
    mail["stored"] = len(received)
    mail["duplicates"] = sum(received.values()) - len(received)
    mail["lost"] = max(0, mail["accepted"] - len(received))


def _subject(item: dict[str, Any]) -> str:
    """A mail's subject in MailHog's JSON (its headers as lists of raw values)."""
    return (item["Content"]["Headers"].get("Subject") or [""])[0]


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _is_native(url: str) -> bool:
    """Whether `url` is where the native lab's broker answers, so starting that lab makes it answer."""
    parts = urlsplit(url)
    return parts.hostname in ("127.0.0.1", "localhost") and parts.port == Ports().broker


def start_native_lab() -> Proc:
    """`python -m labrun` as a child, its output in project/.run/bench/lab.log, until it prints its banner."""
    log_path = LAB_DIR / "lab.log"
    offset = log_path.stat().st_size if log_path.exists() else 0
    env = {**os.environ, "LABRUN_DIR": str(LAB_DIR), "PYTHONPATH": str(PROJECT), "PYTHONUNBUFFERED": "1"}
    lab = Proc("lab", [sys.executable, "-m", "labrun"], log_path, env=env, cwd=PROJECT).start()
    print(
        f"nothing answers at {NATIVE_BROKER_URL}: starting the native lab (log: {log_path}) ...", flush=True
    )
    deadline = time.monotonic() + LAB_START_TIMEOUT_S
    while time.monotonic() < deadline:
        with log_path.open("rb") as log:
            log.seek(offset)
            if LAB_BANNER.encode() in log.read():
                return lab
        if not lab.alive():
            raise BenchError(f"the native lab stopped at start:\n{lab.log_tail()}")
        time.sleep(0.5)
    lab.stop(LAB_STOP_GRACE_S)
    raise BenchError(f"the native lab was not up within {LAB_START_TIMEOUT_S:.0f}s:\n{lab.log_tail()}")


def stream(broker_url: str, settings: dict[str, int]) -> Iterable[dict[str, Any]]:
    """The broker's streamed lines, as objects."""
    try:
        response = requests.post(
            broker_url + "/bench",
            json=settings,
            stream=True,
            timeout=(5, READ_TIMEOUT_S),
        )
    except requests.RequestException as exc:
        raise BenchError(f"cannot reach the broker at {broker_url}: {exc}") from None
    with response:
        if response.status_code != 200:
            try:
                message = response.json()["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise BenchError(f"the broker answered {response.status_code}: {message}")
        try:
            for raw in response.iter_lines():
                if raw:
                    yield json.loads(raw)
        except requests.RequestException as exc:
            raise BenchError(f"the broker's answer broke off: {exc}") from None


def run(broker_url: str, settings: dict[str, int]) -> dict[str, Any]:
    """Run the benchmark (settings: n, concurrency and auth_n if given), printing progress once a second;
    the result, or BenchError."""
    last_print = 0.0
    last_step = None
    for line in stream(broker_url, settings):
        kind = line.get("type")
        if kind == "progress":
            step = (line["path"], line["transport"])
            if step != last_step or time.monotonic() - last_print >= 1.0:
                print(
                    f"{line['transport']:>9} via {line['path']:<6} sent {line['sent']:>6}/{line['n']}"
                    f"  accepted {line['accepted']:>6}  stored {line['stored']:>6}",
                    flush=True,
                )
                last_print, last_step = time.monotonic(), step
        elif kind == "result":
            return line["data"]
        elif kind == "error":
            raise BenchError(line.get("message", "the benchmark failed"))
    raise BenchError("the broker's answer ended without a result")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labrun.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=os.environ.get("N", "2000"), help="events per path")
    parser.add_argument(
        "--concurrency", type=int, default=os.environ.get("CONCURRENCY", "8"), help="sending threads"
    )
    parser.add_argument("--auth-n", type=int, help="logins (default: N, at most 200: each is a bcrypt hash)")
    parser.add_argument("--broker-url", default=os.environ.get("BROKER_URL", NATIVE_BROKER_URL).rstrip("/"))
    parser.add_argument(
        "--mail-catcher-url",
        default=os.environ.get("MAIL_CATCHER_URL", NATIVE_MAIL_CATCHER_URL).rstrip("/"),
        help="the SMTP catcher's API (MailHog's), where the run's mails are counted",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.json/.md/.png go")
    args = parser.parse_args(argv)
    lab = None
    try:
        if not _answers(args.broker_url):
            if not _is_native(args.broker_url):
                raise BenchError(f"nothing answers at {args.broker_url}")
            lab = start_native_lab()
        settings = {"n": args.n, "concurrency": args.concurrency}
        if args.auth_n is not None:
            settings["auth_n"] = args.auth_n
        result = run(args.broker_url, settings)
        try:
            count_mails(result, args.mail_catcher_url)
        except BenchError as exc:
            print(f"bench: the mails were not counted: {exc}", file=sys.stderr)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        if lab is not None:
            print("stopping the native lab ...", flush=True)
            lab.stop(LAB_STOP_GRACE_S)
    paths = write_results(result, args.out)
    print()
    print(paths["md"].read_text())
    print("written: " + ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

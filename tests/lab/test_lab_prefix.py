"""`python -m labrun.prefix`, which make run puts in front of every process: each output line once,
prefixed and readable, however the lines arrive."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2] / "project"

# Bursts bigger than one read, a line split across writes, bytes that are not UTF-8, and a last line
# without its newline.
WRITER = r"""
import json, os, sys, time
for burst in range(3):
    os.write(1, b"".join(
        json.dumps({"ts": "2026-11-22T08:00:00.123+00:00", "level": "INFO", "message": f"event {burst}-{i}",
                    "request_id": f"r{burst}-{i}"}).encode() + b"\n"
        for i in range(2000)))
    time.sleep(0.05)
os.write(1, b"plain te")
time.sleep(0.05)
os.write(1, b"xt \xff line\nno newline at the end")
"""


def test_every_line_comes_out_once_prefixed_and_readable() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "labrun.prefix", "broker", "--", sys.executable, "-c", WRITER],
        cwd=PROJECT,
        capture_output=True,
        timeout=60,
        check=True,
    )
    lines = done.stdout.decode().splitlines()

    assert len(lines) == 6002
    assert lines[0] == "broker        | 08:00:00.123 INFO    event 0-0  request_id=r0-0"
    expected = [f"event {burst}-{i}  request_id=r{burst}-{i}" for burst in range(3) for i in range(2000)]
    assert [line.split("INFO    ", 1)[1] for line in lines[:6000]] == expected
    assert lines[6000] == "broker        | plain text \ufffd line"
    assert lines[6001] == "broker        | no newline at the end"

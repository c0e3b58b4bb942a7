"""`python -m mailcatcher` as a real process: it logs JSON, catches mail, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import selectors
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import IO

import pytest
import requests

PROJECT = Path(__file__).resolve().parents[2] / "project"


def json_lines(stream: IO[str], timeout: float) -> Iterator[dict]:
    """The process's log lines as they come, each one a JSON object; fails past the timeout."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(deadline - time.monotonic()):
                line = stream.readline()
                if not line:
                    return
                yield json.loads(line)
    pytest.fail(f"no expected log line within {timeout}s")


@pytest.fixture
def process() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailcatcher", "--host", "127.0.0.1", "--smtp-port", "0", "--http-port", "0"],
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_process_catches_mail_and_stops_on_sigterm(process: subprocess.Popen[str]) -> None:
    assert process.stdout is not None
    lines = json_lines(process.stdout, timeout=20)
    started = next(line for line in lines if line["message"] == "mail catcher listening")
    assert started["service"] == "mailcatcher"

    message = EmailMessage()
    message["Subject"] = "From a real process"
    message.set_content("hello\n")
    with smtplib.SMTP("127.0.0.1", started["smtp_port"], timeout=5) as client:
        client.send_message(message, "a@example.com", ["b@example.com"])
    api = f"http://127.0.0.1:{started['http_port']}/api/v2/messages"
    items = requests.get(api, timeout=5).json()["items"]
    assert [item["Content"]["Headers"]["Subject"] for item in items] == [["From a real process"]]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert any(line["message"] == "mail catcher stopped" for line in lines)

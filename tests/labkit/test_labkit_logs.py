"""labkit.logs: the correlation id rule every front door applies, and the JSON log line, with the fields
a front door's call notes on it."""

from __future__ import annotations

import json
import logging

import pytest

from labkit.frontdoor import front_door, note
from labkit.logs import JsonFormatter, accept_request_id, request_id_var


@pytest.mark.parametrize("incoming", ["req-1", "a" * 64, "trace-0f3c"])
def test_a_short_printable_ascii_id_is_kept(incoming: str) -> None:
    assert accept_request_id(incoming) == incoming


@pytest.mark.parametrize("incoming", [None, "", "a" * 65, "line\nbreak", "caf\u00e9", 42, b"bytes"])
def test_anything_else_gets_a_new_id(incoming: object) -> None:
    new = accept_request_id(incoming)
    assert new != incoming
    assert len(new) == 32
    assert new.isalnum()


def test_a_log_line_is_one_json_object_with_the_request_id_and_extras() -> None:
    record = logging.LogRecord("svc.part", logging.INFO, __file__, 1, "stored %s", ("e-1",), None)
    record.status = 202
    token = request_id_var.set("req-42")
    try:
        line = JsonFormatter("logger").format(record)
    finally:
        request_id_var.reset(token)
    event = json.loads(line)
    assert event["service"] == "logger"
    assert event["level"] == "INFO"
    assert event["message"] == "stored e-1"
    assert event["request_id"] == "req-42"
    assert event["status"] == 202
    assert "\n" not in line


def test_a_call_writes_the_fields_it_noted_even_named_like_a_log_record_attribute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.handler.setFormatter(JsonFormatter("logger"))
    with caplog.at_level(logging.INFO, logger="labkit.frontdoor"), front_door("POST /log", "req-7"):
        assert note(created=True, name="entry", event_id="e-1")
    [line] = caplog.text.splitlines()
    event = json.loads(line)
    assert event["message"] == "POST /log 200"
    assert event["logger"] == "labkit.frontdoor"
    assert event["request_id"] == "req-7"
    assert (event["status"], event["created"], event["name"]) == (200, True, "entry")
    assert event["event_id"] == "e-1"
    assert isinstance(event["ms"], float)

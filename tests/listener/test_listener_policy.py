"""The listener's pure decisions: what to do with a message body and with the logger's reply."""

from __future__ import annotations

import json

import pytest
from pika.spec import BasicProperties

from labkit.events import LogEvent
from listener.policy import Action, Backoff, DeadLetter, Store, action_for, decide


def body(value: object) -> bytes:
    return json.dumps(value).encode()


def test_valid_message_is_stored_with_its_event_id_level_and_request_id() -> None:
    fields = {"name": "order", "data": "placed", "event_id": "e-1", "level": "warning", "request_id": "r-1"}
    decision = decide(body(fields), BasicProperties(correlation_id="c-1"))
    assert decision == Store(LogEvent("order", "placed", "e-1", "WARNING", "r-1"), "body")


def test_the_correlation_id_is_the_request_id_of_an_event_without_one() -> None:
    decision = decide(
        body({"name": "n", "data": "d", "event_id": "e"}), BasicProperties(correlation_id="c-1")
    )
    assert decision == Store(LogEvent("n", "d", "e", "INFO", "c-1"), "body")


def test_fields_other_than_the_event_are_dropped() -> None:
    decision = decide(body({"name": "n", "data": "d", "event_id": "e", "extra": 1}), BasicProperties())
    assert isinstance(decision, Store)
    assert set(decision.event.to_dict()) == {"name", "data", "event_id", "level", "request_id"}


def test_missing_event_id_comes_from_the_amqp_message_id() -> None:
    decision = decide(body({"name": "n", "data": "d"}), BasicProperties(message_id="m-7"))
    assert isinstance(decision, Store)
    assert (decision.event.event_id, decision.event_id_source) == ("m-7", "message_id")


@pytest.mark.parametrize("message_id", [None, "", "  "])
def test_missing_event_id_without_message_id_gets_a_new_one(message_id: str | None) -> None:
    first = decide(body({"name": "n", "data": "d", "event_id": None}), BasicProperties(message_id=message_id))
    second = decide(body({"name": "n", "data": "d"}), BasicProperties(message_id=message_id))
    assert isinstance(first, Store)
    assert isinstance(second, Store)
    assert first.event_id_source == second.event_id_source == "generated"
    assert len(first.event.event_id) == 32
    assert first.event.event_id != second.event.event_id


def test_unicode_text_is_kept() -> None:
    decision = decide(body({"name": "café", "data": "naïve ✓", "event_id": "é"}), BasicProperties())
    assert isinstance(decision, Store)
    assert (decision.event.name, decision.event.data, decision.event.event_id) == ("café", "naïve ✓", "é")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "body is not UTF-8 JSON"),
        (b"not json", "body is not UTF-8 JSON"),
        (b'{"name": "n", "data": ', "body is not UTF-8 JSON"),
        (b"\xff\xfe\x00", "body is not UTF-8 JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "body is nested too deeply"),
        (body(["name", "data"]), "body must be a JSON object"),
        (body("name"), "body must be a JSON object"),
        (body(42), "body must be a JSON object"),
        (body(None), "body must be a JSON object"),
        (body({}), "name is required"),
        (body({"data": "d"}), "name is required"),
        (body({"name": "n"}), "data is required"),
        (body({"name": None, "data": "d"}), "name is required"),
        (body({"name": "", "data": "d"}), "name must not be empty"),
        (body({"name": "n", "data": "   "}), "data must not be empty"),
        (body({"name": 1, "data": "d"}), "name must be a string"),
        (body({"name": "n", "data": {"k": "v"}}), "data must be a string"),
        (body({"name": "n", "data": ["d"]}), "data must be a string"),
        (body({"name": "n", "data": "d", "event_id": 5}), "event_id must be a string"),
        (body({"name": "n", "data": "d", "event_id": ""}), "event_id must not be empty"),
        (body({"name": "n", "data": "d", "event_id": "x" * 129}), "event_id must be at most 128 characters"),
        (body({"name": "n", "data": "d", "level": "DEBUG"}), "level must be one of INFO, WARNING, ERROR"),
        (body({"name": "n", "data": "é" * 200_000}), "log entry is larger than 1 MiB as JSON"),
    ],
)
def test_messages_that_can_never_be_stored_are_dead_lettered(raw: bytes, reason: str) -> None:
    assert decide(raw, BasicProperties(message_id="m")) == DeadLetter(reason)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (202, Action.ACK),
        (400, Action.DEAD_LETTER),
        (413, Action.DEAD_LETTER),
        (500, Action.RETRY),
        (502, Action.RETRY),
        (503, Action.RETRY),
        (504, Action.RETRY),
        (404, Action.RETRY),
        (200, Action.RETRY),
    ],
)
def test_logger_reply_maps_to_an_action(status: int, action: Action) -> None:
    assert action_for(status) is action


def test_backoff_doubles_up_to_its_limit_and_resets() -> None:
    backoff = Backoff(0.5, 10.0)
    assert [backoff.next() for _ in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    backoff.reset()
    assert backoff.next() == 0.5

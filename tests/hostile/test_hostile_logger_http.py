"""Hostile input to the logger's HTTP API (POST /log, GET /logs, GET /logs/<id>, its reads by event id
prefix) on the real process."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from bson import ObjectId
from hostile_support import (
    MARK,
    MIB,
    NOT_JSON,
    NOT_OBJECT,
    ODD_TEXT,
    TIMEOUT,
    TOO_DEEP,
    TOO_LARGE,
    Case,
    as_json,
    assert_envelope,
    cases,
    nested,
    post_json,
    send,
    unique,
)

from labkit.events import MAX_EVENT_JSON_BYTES, LogEvent
from labtest import Lab

ENTRY = {"name": "n", "data": MARK}
PREFIX = "event_id_prefix"


def entry(**fields: object) -> str:
    return as_json({**ENTRY, **fields})


def batch(entries: object) -> str:
    return as_json({"entries": entries})


LIMIT = "limit must be an integer from 1 to 1000"

REJECTED = cases(
    Case("empty", b"", 400, NOT_JSON),
    Case("malformed", '{"name": "n", "data": }', 400, NOT_JSON),
    Case("truncated", entry()[:10], 400, NOT_JSON),
    Case("two-objects", entry() + entry(), 400, NOT_JSON),
    Case("lone-surrogate", '{"name": "n", "data": "' + MARK + '\\ud83d"}', 400, NOT_JSON),
    Case("surrogate-key", '{"name": "n", "data": "' + MARK + '", "\\udc00": 1}', 400, NOT_JSON),
    Case("nan", '{"name": "n", "data": "' + MARK + '", "x": NaN}', 400, NOT_JSON),
    Case("array", as_json([ENTRY]), 400, NOT_OBJECT),
    Case("number", "1e999", 400, NOT_OBJECT),
    Case("null", "null", 400, NOT_OBJECT),
    Case("deeply-nested", nested(200_000), 400, TOO_DEEP),
    Case(
        "nested-65", '{"name": "n", "data": "' + MARK + '", "x": ' + "[" * 64 + "]" * 64 + "}", 400, TOO_DEEP
    ),
    Case("no-name", as_json({"data": MARK}), 400, "name is required"),
    Case("no-data", as_json({"name": MARK}), 400, "data is required"),
    Case("empty-data", entry(name=MARK, data=""), 400, "data must not be empty"),
    Case("blank-name", entry(name="\u2028\u2029 \t"), 400, "name must not be empty"),
    Case("name-number", entry(name=1.5), 400, "name must be a string"),
    Case("data-object", entry(name=MARK, data={"$set": {"name": "x"}}), 400, "data must be a string"),
    Case("event-id-number", entry(event_id=12), 400, "event_id must be a string"),
    Case("event-id-operator", entry(event_id={"$ne": None}), 400, "event_id must be a string"),
    Case("event-id-empty", entry(event_id=""), 400, "event_id must not be empty"),
    Case("event-id-long", entry(event_id=MARK + "x" * 129), 400, "event_id must be at most 128 characters"),
    Case("event-id-huge", entry(event_id=MARK * 20_000), 400, "event_id must be at most 128 characters"),
    Case("transport-unknown", entry(transport="grpc"), 400, "transport must be one of http, rabbitmq"),
    Case("transport-number", entry(transport=1), 400, "transport must be a string"),
    Case("over-1mib", entry(data=MARK + "x" * MIB), 413, TOO_LARGE),
    Case("limit-zero", None, 400, LIMIT, "GET", "/logs?limit=0"),
    Case("limit-too-big", None, 400, LIMIT, "GET", "/logs?limit=1001"),
    Case("limit-negative", None, 400, LIMIT, "GET", "/logs?limit=-1"),
    Case("limit-empty", None, 400, LIMIT, "GET", "/logs?limit="),
    Case("limit-word", None, 400, LIMIT, "GET", "/logs?limit=all"),
    Case("limit-spaces", None, 400, LIMIT, "GET", "/logs?limit=%2010"),
    Case("limit-superscript", None, 400, LIMIT, "GET", "/logs?limit=%C2%B2"),
    Case("limit-operator", None, 400, LIMIT, "GET", "/logs?limit[$gt]=0&limit=x"),
    Case("id-unknown", None, 404, "log entry not found", "GET", f"/logs/{ObjectId()}"),
    Case("id-not-object-id", None, 404, "log entry not found", "GET", "/logs/not-an-id"),
    Case("id-operator", None, 404, "log entry not found", "GET", "/logs/%7B%22$ne%22:null%7D"),
    Case("id-sql", None, 404, "log entry not found", "GET", "/logs/1'%20OR%20'1'='1"),
    Case("id-nul", None, 404, "log entry not found", "GET", "/logs/%00"),
    Case("id-unicode", None, 404, "log entry not found", "GET", "/logs/%F0%9F%98%80"),
    Case("id-long", None, 404, "log entry not found", "GET", "/logs/" + "a" * 3000),
    Case("id-traversal", None, 404, "not found", "GET", "/logs/..%2F..%2Fetc%2Fpasswd"),
    Case("batch-not-a-list", batch(MARK), 400, "entries must be a non-empty list", path="/log/batch"),
    Case("batch-empty", batch([]), 400, "entries must be a non-empty list", path="/log/batch"),
    Case("batch-missing", entry(), 400, "entries must be a non-empty list", path="/log/batch"),
    Case(
        "batch-too-many",
        batch([ENTRY] * 1001),
        400,
        "entries must hold at most 1000 entries",
        path="/log/batch",
    ),
    Case("batch-scalar-entry", batch([ENTRY, 5]), 400, "entries[1] must be a JSON object", path="/log/batch"),
    Case(
        "batch-one-bad",
        batch([ENTRY, {"name": 1, "data": MARK}]),
        400,
        "entries[1].name must be a string",
        path="/log/batch",
    ),
    Case(
        "batch-long-event-id",
        batch([{**ENTRY, "event_id": "e" * 129}]),
        400,
        "entries[0].event_id must be at most 128 characters",
        path="/log/batch",
    ),
    Case(
        "batch-transport",
        as_json({"entries": [ENTRY], "transport": "grpc"}),
        400,
        "transport must be one of http, rabbitmq",
        path="/log/batch",
    ),
    Case("batch-nested", '{"entries": [' + nested(70) + "]}", 400, TOO_DEEP, path="/log/batch"),
    Case("batch-over-1mib", batch([ENTRY] * (MIB // 40)), 413, TOO_LARGE, path="/log/batch"),
    Case("count-no-prefix", None, 400, f"{PREFIX} is required", "GET", "/logs/count"),
    Case("count-empty-prefix", None, 400, f"{PREFIX} must not be empty", "GET", f"/logs/count?{PREFIX}="),
    Case("count-operator", None, 400, f"{PREFIX} is required", "GET", f"/logs/count?{PREFIX}[$ne]=x"),
    Case("by-event-id-no-prefix", None, 400, f"{PREFIX} is required", "GET", "/logs/by-event-id"),
    Case(
        "by-event-id-blank",
        None,
        400,
        f"{PREFIX} must not be empty",
        "GET",
        f"/logs/by-event-id?{PREFIX}=%20%09",
    ),
    Case("log-get", None, 405, "method not allowed", "GET", "/log"),
    Case("logs-post", entry(), 405, "method not allowed", path="/logs"),
    Case("log-delete", None, 405, "method not allowed", "DELETE", "/log"),
    Case("unknown-path", entry(), 404, "not found", path="/logs/x/y"),
)


@pytest.mark.parametrize("case", REJECTED)
def test_hostile_request_gets_the_contract_answer_and_stores_nothing(
    lab: Lab, untouched, still_serving: Callable[[str], None], case: Case
) -> None:
    assert_envelope(send(lab.url("logger"), case, "/log"), case.status, case.message)
    untouched.check()
    still_serving("logger")


@pytest.mark.parametrize("kind", list(ODD_TEXT))
def test_odd_text_is_stored_and_read_back_verbatim(lab: Lab, logs_collection, kind: str) -> None:
    name, data = ODD_TEXT[kind], f"{unique(kind)} {ODD_TEXT[kind]}"
    reply = assert_envelope(
        post_json(lab.url("logger") + "/log", {"name": name, "data": data}), 202, "logged"
    )

    read = requests.get(f"{lab.url('logger')}/logs/{reply['data']['id']}", timeout=TIMEOUT)
    shown = assert_envelope(read, 200, "log entry")["data"]
    assert (shown["name"], shown["data"], shown["transport"]) == (name, data, "http")
    assert logs_collection.count_documents({"event_id": reply["data"]["event_id"]}) == 1


def test_fields_a_client_must_not_set_are_ignored(lab: Lab, logs_collection) -> None:
    marker = unique("forged")
    body = {
        "name": "n",
        "data": marker,
        "_id": "forged",
        "created_at": "1970-01-01T00:00:00Z",
        "request_id": {"$ne": "forged\r\nX-Injected: 1"},
        "$where": "sleep(1000)",
    }
    reply = assert_envelope(post_json(lab.url("logger") + "/log", body), 202, "logged")

    stored = logs_collection.find_one({"data": marker})
    assert stored is not None
    assert str(stored["_id"]) == reply["data"]["id"]
    # A correlation id that cannot travel on as it is (here an operator object) is replaced.
    assert isinstance(stored["request_id"], str)
    assert len(stored["request_id"]) == 32
    assert stored["created_at"].year > 1970
    assert "$where" not in stored


def test_the_largest_entry_is_stored_and_one_character_more_is_a_413(lab: Lab, logs_collection) -> None:
    """The limit is the event's JSON (labkit.events), with the event id and request id the logger gives it."""
    marker = unique("large")
    room = MAX_EVENT_JSON_BYTES - len(LogEvent("n", marker, "e" * 32, "INFO", "r" * 32).to_json())
    largest = {"name": "n", "data": marker + "x" * room}
    reply = assert_envelope(post_json(lab.url("logger") + "/log", largest), 202, "logged")
    assert logs_collection.count_documents({"event_id": reply["data"]["event_id"]}) == 1

    too_large = {"name": "n", "data": marker + "y" * (room + 1)}
    response = post_json(lab.url("logger") + "/log", too_large)
    assert_envelope(response, 413, "log entry is larger than 1 MiB as JSON")
    assert logs_collection.count_documents({"data": too_large["data"]}) == 0


def test_logs_with_odd_query_strings_still_list(lab: Lab) -> None:
    response = requests.get(
        lab.url("logger") + "/logs?limit=3&limit=x&name[$ne]=1&%00=%0d%0a", timeout=TIMEOUT
    )
    assert len(assert_envelope(response, 200, "logs")["data"]) <= 3


def test_an_event_id_prefix_is_matched_as_text_never_as_a_pattern(lab: Lab) -> None:
    marker = unique("pattern")
    body = {"name": "n", "data": "d", "event_id": f"{marker}-0"}
    assert_envelope(post_json(lab.url("logger") + "/log", body), 202, "logged")

    for prefix in (marker[:-4] + ".*", marker[:-4] + "%", "^" + marker, {"$regex": "."}):
        response = requests.get(
            lab.url("logger") + "/logs/count", params={PREFIX: str(prefix)}, timeout=TIMEOUT
        )
        assert assert_envelope(response, 200, "logs counted")["data"]["count"] == 0
    response = requests.get(lab.url("logger") + "/logs/by-event-id", params={PREFIX: marker}, timeout=TIMEOUT)
    assert assert_envelope(response, 200, "logs")["data"]["count"] == 1

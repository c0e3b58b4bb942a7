"""Hostile input to every broker route, through the real lab: the contract's answer, nothing stored, mailed
or published, the broker still serving, and nothing internal in the reply."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
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
    send,
    unique,
)

from labtest import Lab, eventually

LOG = {"name": "n", "data": MARK}
TRANSPORTS = ["rabbitmq", "rpc", "grpc", "http"]
JSON = {"Content-Type": "application/json"}


def log(**fields: object) -> str:
    return as_json({"action": "log", "log": {**LOG, **fields}, "transport": "http"})


HANDLE = cases(
    # Not one JSON object.
    Case("empty", b"", 400, NOT_JSON),
    Case("malformed", "{action: log}", 400, NOT_JSON),
    Case("truncated", log()[:-3], 400, NOT_JSON),
    Case("trailing-garbage", log() + "}", 400, NOT_JSON),
    Case("not-utf8", b'{"action": "log", "log": {"name": "\xc3\x28", "data": "x"}}', 400, NOT_JSON),
    Case("nan", '{"action": "log", "log": {"name": NaN}}', 400, NOT_JSON),
    Case(
        "lone-surrogate",
        '{"action": "log", "log": {"name": "\\ud800", "data": "' + MARK + '"}}',
        400,
        NOT_JSON,
    ),
    Case("array", as_json(["action", "log", MARK]), 400, NOT_OBJECT),
    Case("string", as_json(MARK), 400, NOT_OBJECT),
    Case("number", "42", 400, NOT_OBJECT),
    Case("null", "null", 400, NOT_OBJECT),
    Case("true", "true", 400, NOT_OBJECT),
    Case("deeply-nested", nested(100_000), 400, TOO_DEEP),
    Case(
        "nested-unknown-auth-field",
        '{"action": "auth", "auth": {"email": "' + MARK + '", "password": "p", "x": ' + nested(950) + "}}",
        400,
        TOO_DEEP,
    ),
    Case(
        "nan-unknown-auth-field",
        '{"action": "auth", "auth": {"email": "' + MARK + '", "password": "p", "x": NaN}}',
        400,
        NOT_JSON,
    ),
    Case(
        "form-encoded",
        f"action=log&name=n&data={MARK}",
        400,
        NOT_JSON,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    # Missing, empty and wrongly typed fields.
    Case("no-action", as_json({"log": LOG}), 400, "action is required"),
    Case("null-action", as_json({"action": None, "log": LOG}), 400, "action is required"),
    Case("empty-action", as_json({"action": "", "log": LOG}), 400, "action must not be empty"),
    Case("blank-action", as_json({"action": " \t\n", "log": LOG}), 400, "action must not be empty"),
    Case("action-number", as_json({"action": 1, "log": LOG}), 400, "action must be a string"),
    Case("action-list", as_json({"action": ["log"], "log": LOG}), 400, "action must be a string"),
    Case("action-object", as_json({"action": {"$ne": ""}, "log": LOG}), 400, "action must be a string"),
    Case("no-log", as_json({"action": "log"}), 400, "log is required"),
    Case("log-string", as_json({"action": "log", "log": MARK}), 400, "log must be a JSON object"),
    Case("log-list", as_json({"action": "log", "log": [LOG]}), 400, "log must be a JSON object"),
    Case("no-name", as_json({"action": "log", "log": {"data": MARK}}), 400, "log.name is required"),
    Case("no-data", as_json({"action": "log", "log": {"name": MARK}}), 400, "log.data is required"),
    Case("empty-name", log(name=""), 400, "log.name must not be empty"),
    Case(
        "blank-data",
        as_json({"action": "log", "log": {"name": MARK, "data": "\u3000 "}}),
        400,
        "log.data must not be empty",
    ),
    Case("name-number", log(name=12), 400, "log.name must be a string"),
    Case("name-bool", log(name=True), 400, "log.name must be a string"),
    Case("name-object", log(name={"$gt": ""}), 400, "log.name must be a string"),
    Case(
        "data-list",
        as_json({"action": "log", "log": {"name": MARK, "data": [MARK]}}),
        400,
        "log.data must be a string",
    ),
    Case("level-unknown", log(level="DEBUG"), 400, "log.level must be one of INFO, WARNING, ERROR"),
    Case("level-number", log(level=3), 400, "log.level must be a string"),
    Case("level-routing-wildcard", log(level="#"), 400, "log.level must be one of INFO, WARNING, ERROR"),
    Case(
        "transport-number",
        as_json({"action": "log", "log": LOG, "transport": 4}),
        400,
        "transport must be a string",
    ),
    Case(
        "transport-unknown",
        as_json({"action": "log", "log": LOG, "transport": "smtp"}),
        400,
        "unknown transport 'smtp': use rabbitmq, rpc, grpc, http",
    ),
    Case(
        "transport-sql",
        as_json({"action": "log", "log": LOG, "transport": "http' OR '1'='1"}),
        400,
        "unknown transport \"http' OR '1'='1\": use rabbitmq, rpc, grpc, http",
    ),
    Case(
        "action-sql",
        as_json({"action": "log'; DROP TABLE users; --", "log": LOG}),
        400,
        'unknown action "log\'; DROP TABLE users; --": use auth, log or mail',
    ),
    Case(
        "action-controls",
        as_json({"action": "log\u0000\r\n", "log": LOG}),
        400,
        "unknown action 'log\\x00\\r\\n': use auth, log or mail",
    ),
    Case(
        "action-case",
        as_json({"action": "LOG", "log": LOG}),
        400,
        "unknown action 'LOG': use auth, log or mail",
    ),
    Case("no-auth", as_json({"action": "auth", "email": "admin@example.com"}), 400, "auth is required"),
    Case(
        "auth-list",
        as_json({"action": "auth", "auth": ["admin@example.com", "x"]}),
        400,
        "auth must be a JSON object",
    ),
    Case("no-mail", as_json({"action": "mail"}), 400, "mail is required"),
    Case("mail-string", as_json({"action": "mail", "mail": MARK}), 400, "mail must be a JSON object"),
    # Rejected downstream, relayed by the broker with the downstream's message.
    Case(
        "auth-password-number",
        as_json({"action": "auth", "auth": {"email": MARK, "password": 5}}),
        400,
        "password must be a string",
    ),
    Case(
        "auth-sql",
        as_json({"action": "auth", "auth": {"email": "' OR 1=1 --", "password": MARK}}),
        401,
        "invalid credentials",
    ),
    Case(
        "auth-nul-email",
        as_json({"action": "auth", "auth": {"email": "admin@example.com\u0000", "password": "verysecret"}}),
        401,
        "invalid credentials",
    ),
    Case(
        "mail-crlf-subject",
        as_json(
            {
                "action": "mail",
                "mail": {
                    "to": "you@example.com",
                    "subject": f"{MARK}\r\nBcc: victim@example.com",
                    "message": MARK,
                },
            }
        ),
        400,
        "subject must not contain line breaks",
    ),
    Case(
        "mail-lf-to",
        as_json(
            {
                "action": "mail",
                "mail": {"to": "you@example.com\nBcc: victim@example.com", "subject": MARK, "message": MARK},
            }
        ),
        400,
        "to must not contain line breaks",
    ),
    Case(
        "mail-two-recipients",
        as_json(
            {
                "action": "mail",
                "mail": {"to": "you@example.com, victim@example.com", "subject": MARK, "message": MARK},
            }
        ),
        400,
        "to is not a valid email address",
    ),
    # Too big.
    Case("over-1mib", log(data=MARK + "x" * MIB), 413, TOO_LARGE),
    Case("over-1mib-unknown-field", as_json({"action": "log", "log": LOG, "pad": "x" * MIB}), 413, TOO_LARGE),
)

OTHER_ROUTES = cases(
    Case("hit-over-1mib", MARK.encode() * (MIB // len(MARK) + 1), 413, TOO_LARGE, path="/"),
    Case("log-grpc-malformed", "{", 400, NOT_JSON, path="/log-grpc"),
    Case("log-grpc-array", "[]", 400, NOT_OBJECT, path="/log-grpc"),
    Case("log-grpc-no-log", as_json({"action": "log"}), 400, "log is required", path="/log-grpc"),
    Case(
        "log-grpc-name-list",
        as_json({"log": {"name": [1], "data": MARK}}),
        400,
        "log.name must be a string",
        path="/log-grpc",
    ),
    Case("log-grpc-over-1mib", log(data=MARK * (MIB // len(MARK) + 1)), 413, TOO_LARGE, path="/log-grpc"),
    Case("logs-limit-zero", None, 400, "limit must be an integer from 1 to 1000", "GET", "/logs?limit=0"),
    Case(
        "logs-limit-negative", None, 400, "limit must be an integer from 1 to 1000", "GET", "/logs?limit=-5"
    ),
    Case(
        "logs-limit-huge",
        None,
        400,
        "limit must be an integer from 1 to 1000",
        "GET",
        "/logs?limit=" + "9" * 4000,
    ),
    Case("logs-limit-float", None, 400, "limit must be an integer from 1 to 1000", "GET", "/logs?limit=1e3"),
    Case(
        "logs-limit-arabic-digits",
        None,
        400,
        "limit must be an integer from 1 to 1000",
        "GET",
        "/logs?limit=%D9%A1%D9%A2",
    ),
    Case("logs-limit-nul", None, 400, "limit must be an integer from 1 to 1000", "GET", "/logs?limit=%00"),
    Case(
        "logs-limit-sql",
        None,
        400,
        "limit must be an integer from 1 to 1000",
        "GET",
        "/logs?limit=1;DROP%20TABLE%20logs",
    ),
    Case("logs-post", log(), 405, "method not allowed", path="/logs"),
    Case("handle-get", None, 405, "method not allowed", "GET", "/handle"),
    Case("handle-put", log(), 405, "method not allowed", "PUT", "/handle"),
    Case("healthz-post", log(), 405, "method not allowed", path="/healthz"),
    Case("ping-post", log(), 405, "method not allowed", path="/ping"),
    Case("unknown-path", log(), 404, "not found", path="/handle/../admin"),
    Case("traversal", None, 404, "not found", "GET", "/static/..%2f..%2fetc%2fpasswd"),
)


@pytest.mark.parametrize("case", HANDLE + OTHER_ROUTES)
def test_hostile_request_gets_the_contract_answer_and_changes_nothing(
    lab: Lab, untouched, still_serving: Callable[[str], None], case: Case
) -> None:
    assert_envelope(send(lab.broker, case, "/handle"), case.status, case.message)
    untouched.check()
    still_serving("broker")


ACCEPTED = [
    pytest.param(
        {"admin": True, "event_id": "forged"}, {"transport": "forged", "_id": 1}, JSON, id="unknown-fields"
    ),
    pytest.param({}, {}, {"Content-Type": "text/plain"}, id="text-plain"),
    pytest.param({}, {}, {}, id="no-content-type"),
    pytest.param({}, {"level": "warning"}, JSON, id="lowercase-level"),
]


@pytest.mark.parametrize(("extra", "extra_log", "headers"), ACCEPTED)
def test_unknown_fields_and_content_types_are_ignored(
    lab: Lab, logs_collection, extra: dict, extra_log: dict, headers: dict
) -> None:
    """Only the body decides: the README's `curl -d` sends no JSON content type."""
    marker = unique("accepted")
    body = {"action": "log", "log": {"name": "n", "data": marker, **extra_log}, "transport": "http", **extra}
    response = requests.post(lab.broker + "/handle", data=as_json(body), headers=headers, timeout=TIMEOUT)

    reply = assert_envelope(response, 202, "logged via http")
    stored = logs_collection.find_one({"data": marker})
    assert stored is not None
    assert (stored["transport"], stored["event_id"]) == ("http", reply["data"]["event_id"])


# XML 1.0 cannot carry NUL and most other controls, and its parsers turn a carriage return into a newline.
NOT_FOR_RPC = ("nul", "controls")
CARRIED = [
    pytest.param(kind, transport, id=f"{kind}-{transport}")
    for kind in ODD_TEXT
    for transport in TRANSPORTS
    if not (transport == "rpc" and kind in NOT_FOR_RPC)
]


@pytest.mark.parametrize(("kind", "transport"), CARRIED)
def test_odd_text_travels_verbatim_on_every_transport(
    lab: Lab, logs_collection, kind: str, transport: str
) -> None:
    name, data = ODD_TEXT[kind], f"{unique(kind)} {ODD_TEXT[kind]}"
    body = {"action": "log", "log": {"name": name, "data": data}, "transport": transport}
    response = requests.post(
        lab.broker + "/handle", data=as_json(body).encode(), headers=JSON, timeout=TIMEOUT
    )

    reply = assert_envelope(response, 202, f"logged via {transport}")
    event_id = reply["data"]["event_id"]
    stored = eventually(lambda: list(logs_collection.find({"event_id": event_id})), lambda found: found != [])
    assert [(entry["name"], entry["data"], entry["transport"]) for entry in stored] == [
        (name, data, transport)
    ]


@pytest.mark.parametrize("kind", NOT_FOR_RPC)
def test_controls_are_refused_by_rpc_before_any_call(
    lab: Lab, untouched, still_serving: Callable[[str], None], kind: str
) -> None:
    body = {"action": "log", "log": {"name": "n", "data": f"{MARK} {ODD_TEXT[kind]}"}, "transport": "rpc"}
    response = requests.post(
        lab.broker + "/handle", data=as_json(body).encode(), headers=JSON, timeout=TIMEOUT
    )

    assert_envelope(response, 400, "log.data has control characters that rpc cannot carry")
    untouched.check()
    still_serving("broker")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_largest_entry_the_broker_accepts_is_stored_on_every_transport(
    lab: Lab, logs_collection, transport: str
) -> None:
    marker = unique("large")
    data = marker + "x" * (MIB - 4096)
    body = {"action": "log", "log": {"name": "large", "data": data}, "transport": transport}
    response = requests.post(lab.broker + "/handle", json=body, timeout=TIMEOUT)

    reply = assert_envelope(response, 202, f"logged via {transport}")
    stored = eventually(
        lambda: logs_collection.count_documents({"event_id": reply["data"]["event_id"]}), lambda n: n == 1
    )
    assert stored == 1


def test_large_entries_queued_together_are_all_stored(lab: Lab, logs_collection) -> None:
    """The listener stores what arrived in one request: entries that fit alone must not be lost together."""
    event_ids = []
    for _ in range(3):
        body = {
            "action": "log",
            "log": {"name": "large", "data": "x" * (MIB - 4096)},
            "transport": "rabbitmq",
        }
        reply = assert_envelope(
            requests.post(lab.broker + "/handle", json=body, timeout=TIMEOUT), 202, "logged via rabbitmq"
        )
        event_ids.append(reply["data"]["event_id"])

    eventually(lambda: logs_collection.count_documents({"event_id": {"$in": event_ids}}), lambda n: n == 3)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_entry_that_grows_past_1mib_when_escaped_is_refused_up_front(
    lab: Lab, untouched, still_serving: Callable[[str], None], transport: str
) -> None:
    """Sent as UTF-8 it fits; escaped as JSON for the logger it would not: refused now, never lost later."""
    body = {
        "action": "log",
        "log": {"name": "n", "data": MARK + "\u00e9" * (MIB // 4)},
        "transport": transport,
    }
    response = requests.post(
        lab.broker + "/handle", data=as_json(body).encode(), headers=JSON, timeout=TIMEOUT
    )

    assert_envelope(response, 413, "log entry is larger than 1 MiB as JSON")
    untouched.check()
    still_serving("broker")


def test_an_entry_that_grows_past_1mib_as_xml_is_refused_by_rpc(
    lab: Lab, untouched, still_serving: Callable[[str], None]
) -> None:
    body = {"action": "log", "log": {"name": "n", "data": MARK + "<&" * (MIB // 5)}, "transport": "rpc"}
    response = requests.post(lab.broker + "/handle", json=body, timeout=TIMEOUT)

    assert_envelope(response, 413, "log entry is larger than 1 MiB as XML-RPC")
    untouched.check()
    still_serving("broker")


@pytest.mark.parametrize(
    ("path", "message"), [("/ping", "pong"), ("/healthz", "alive"), ("/readyz", "ready")]
)
def test_health_routes_ignore_query_strings_and_bodies(lab: Lab, path: str, message: str) -> None:
    response = requests.get(
        f"{lab.broker}{path}?x=%00%0d%0a<script>&limit=-1", data=b"{oops", headers=JSON, timeout=TIMEOUT
    )
    assert_envelope(response, 200, message)

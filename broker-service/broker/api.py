"""What the broker's routes take and answer, for its OpenAPI document (labkit.openapi): each route carries
its operation, built from the constants its checks use."""

from __future__ import annotations

from broker.bench import DEFAULT_AUTH_N, MAX_CONCURRENCY, MAX_EVENTS, NDJSON
from broker.config import TRANSPORTS
from labkit.events import (
    LEVELS,
    MAX_LIST_LIMIT,
    event_schema,
    level_schema,
    list_limit_schema,
    stored_entry_schema,
)
from labkit.openapi import RETRY_AFTER, Answer, Operation, operation, ref
from labkit.validation import nullable, object_schema, text_schema

TITLE = "broker"
DESCRIPTION = (
    "The lab's single entry point: POST /handle sends each action to the service that handles it. Every "
    'answer is the JSON envelope {"error", "message", "data"?}; every answer carries X-Request-ID.'
)

_TRANSPORT = {
    "enum": [*TRANSPORTS, None],
    "description": f"How the event travels to the logger: {', '.join(TRANSPORTS)}; absent or null means the "
    "broker's LOG_TRANSPORT (rabbitmq unless set)",
}
_RECEIPT = object_schema(
    {"transport": {"enum": list(TRANSPORTS)}, "event_id": {"type": "string"}},
    additionalProperties=False,
)

SCHEMAS = {
    "LogEvent": event_schema(),
    "LogEntry": stored_entry_schema(),
    "LogReceipt": _RECEIPT,
    "Credentials": object_schema(
        {"email": text_schema("the user's email"), "password": text_schema("the user's password")},
        description="Checked by the authentication service",
    ),
    "Mail": object_schema(
        {
            "to": text_schema("the recipient's address"),
            "subject": text_schema(),
            "message": text_schema("the text; blank lines part paragraphs"),
        },
        {"from": nullable(text_schema("the sender's address; absent means the mail service's FROM_ADDRESS"))},
        description="Checked by the mail service: addresses must be valid, and no header field may hold a "
        "line break",
    ),
}

_ACTIONS = {
    "auth": ("auth", "Credentials"),
    "log": ("log", "LogEvent"),
    "mail": ("mail", "Mail"),
}


def _action(name: str, field: str, schema: str) -> dict:
    extra = {"transport": _TRANSPORT} if name == "log" else {}
    return object_schema({"action": {"const": name}, field: ref(schema)}, extra, title=f"action {name}")


HANDLE_BODY = {
    "oneOf": [_action(name, field, schema) for name, (field, schema) in _ACTIONS.items()],
    "discriminator": {"propertyName": "action"},
}

# What a downstream's failure looks like at the broker (transports.relay, labkit.httpclient).
DOWNSTREAM = {
    502: Answer("a downstream service answered with an error, or not with the envelope"),
    503: Answer("a downstream service or server cannot be reached", headers=(RETRY_AFTER,)),
    504: Answer("a downstream call ran past its deadline"),
}
_LOG_ANSWERS = {
    400: Answer(
        "not one JSON object; log missing or wrong (log.name is required, log.level must be one of "
        f"{', '.join(LEVELS)}, ...); an unknown transport; over rpc, text XML cannot carry"
    ),
    413: Answer("over 1 MiB, or a log event over 1 MiB less 1 KiB as JSON"),
}

HIT = operation("Hit the broker", {200: Answer('"Hit the broker"')}, tags=("broker",))
PING = operation("The course's heartbeat", {200: Answer('"pong"')}, tags=("broker",))
HANDLE = operation(
    "Carry out an action: auth, log or mail",
    {
        202: Answer(
            'carried out: "Authenticated!" with the user, "logged via <transport>" with the transport and '
            'event id, or "Message sent to <to>"',
            data={"anyOf": [ref("LogReceipt"), {"type": "object", "description": "the authenticated user"}]},
        ),
        400: Answer(
            "not one JSON object; an unknown action; the action's object missing or wrong (as its service "
            "says: log.name is required, ...); an unknown transport"
        ),
        401: Answer('"invalid credentials"'),
        413: _LOG_ANSWERS[413],
        429: Answer('"too many failed logins, try again later"', headers=(RETRY_AFTER,)),
        **DOWNSTREAM,
    },
    body=HANDLE_BODY,
    example={"action": "log", "log": {"name": "event", "data": "sent from the API reference"}},
    tags=("broker",),
)
LOG_GRPC = operation(
    "Log over gRPC (the course's route)",
    {202: Answer('"logged via grpc"', data=ref("LogReceipt")), **_LOG_ANSWERS, **DOWNSTREAM},
    body=object_schema({"log": ref("LogEvent")}, {"action": {"type": "string"}}),
    tags=("broker",),
)
LOGS = operation(
    "The newest stored log entries, newest first",
    {
        200: Answer("the entries", data={"type": "array", "items": ref("LogEntry")}),
        400: Answer(f"limit not an integer from 1 to {MAX_LIST_LIMIT}, or an unknown level"),
        **DOWNSTREAM,
    },
    query={"limit": (list_limit_schema(), False), "level": (level_schema(), False)},
    tags=("broker",),
)
# POST /bench's view is the bench blueprint's; create_app attaches this to it (describe_endpoint).
BENCH = Operation(
    "Run a benchmark of the four transports and the mail and auth actions, streaming progress as JSON lines",
    {
        200: Answer(
            "progress lines, then one result or error line",
            media=NDJSON,
            schema={"type": "string", "description": "one JSON object a line"},
        ),
        400: Answer(
            f"n or auth_n not an integer from 1 to {MAX_EVENTS}, or concurrency not one from 1 to "
            f"{MAX_CONCURRENCY}"
        ),
        409: Answer('"a benchmark is already running"'),
    },
    body=object_schema(
        {
            "n": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_EVENTS,
                "description": "events per path, and mails",
            },
            "concurrency": {"type": "integer", "minimum": 1, "maximum": MAX_CONCURRENCY},
        },
        {
            "auth_n": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_EVENTS,
                "description": (
                    f"logins of the seed user (each a bcrypt hash); absent: n, at most {DEFAULT_AUTH_N}"
                ),
            }
        },
    ),
    tags=("bench",),
)

"""The authentication service's HTTP routes."""

from __future__ import annotations

from flask import Blueprint, Response

from authentication.service import INVALID_CREDENTIALS, Authenticator
from authentication.throttle import TOO_MANY_FAILURES
from labkit.openapi import RETRY_AFTER, Answer, operation
from labkit.validation import object_schema, require_str, text_schema
from labkit.web import read_json_object, reply

TITLE = "authentication"
DESCRIPTION = (
    "Checks credentials against PostgreSQL (bcrypt) and throttles failed logins per email. Every answer is "
    "the JSON envelope; every answer carries X-Request-ID."
)
_STAMP = {"type": "string", "description": "ISO-8601"}
USER = object_schema(
    {
        "id": {"type": "integer"},
        "email": {"type": "string"},
        "first_name": {"type": ["string", "null"]},
        "last_name": {"type": ["string", "null"]},
        "user_active": {"type": "integer"},
        "created_at": _STAMP,
        "updated_at": _STAMP,
    },
    additionalProperties=False,
    description="The user: every column but the password hash",
)
AUTHENTICATE = operation(
    "Log in with an email and a password",
    {
        202: Answer('"Logged in user <email>", with the user', data=USER),
        400: Answer("email or password missing, not a string or empty"),
        401: Answer(f'"{INVALID_CREDENTIALS}" (one message for an unknown user and a wrong password)'),
        429: Answer(f'"{TOO_MANY_FAILURES}": too many failed logins for this email', headers=(RETRY_AFTER,)),
        503: Answer('"user database is unavailable"'),
    },
    body=object_schema(
        {"email": text_schema("surrounding spaces are ignored"), "password": text_schema()},
    ),
)


def blueprint(authenticator: Authenticator) -> Blueprint:
    routes = Blueprint("authentication", __name__)

    @routes.post("/authenticate")
    @AUTHENTICATE
    def authenticate() -> Response:
        body = read_json_object()
        email = require_str(body, "email").strip()
        password = require_str(body, "password")
        user = authenticator.login(email, password)
        return reply(f"Logged in user {user['email']}", user, 202)

    return routes

"""The authentication service's HTTP routes."""

from __future__ import annotations

from flask import Blueprint, Response

from authentication.service import Authenticator
from labkit.validation import require_str
from labkit.web import read_json_object, reply


def blueprint(authenticator: Authenticator) -> Blueprint:
    routes = Blueprint("authentication", __name__)

    @routes.post("/authenticate")
    def authenticate() -> Response:
        body = read_json_object()
        email = require_str(body, "email").strip()
        password = require_str(body, "password")
        user = authenticator.login(email, password)
        return reply(f"Logged in user {user['email']}", user, 202)

    return routes

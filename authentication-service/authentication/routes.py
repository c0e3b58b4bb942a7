"""The authentication service's HTTP routes."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from authentication.service import Authenticator
from labkit.web import read_json_object, reply, require_str

bp = Blueprint("authentication", __name__)


@bp.post("/authenticate")
def authenticate() -> Response:
    body = read_json_object()
    email = require_str(body, "email").strip()
    password = require_str(body, "password")
    authenticator: Authenticator = current_app.extensions["authenticator"]
    user = authenticator.login(email, password)
    return reply(f"Logged in user {user['email']}", user, 202)

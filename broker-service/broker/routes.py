"""The broker's routes: the single entry point of the lab."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from broker import api
from broker.config import Config
from broker.dependencies import Dependencies
from broker.metrics import refusals
from broker.transports import relay
from labkit.events import LogEvent
from labkit.validation import ApiError, optional_str, require_object, require_str
from labkit.web import read_json_object, reply


def blueprint(config: Config, deps: Dependencies) -> Blueprint:
    routes = Blueprint("broker", __name__)

    @routes.post("/")
    @api.HIT
    def hit() -> Response:
        return reply("Hit the broker")

    @routes.get("/ping")
    @api.PING
    def ping() -> Response:
        return reply("pong")

    @routes.post("/handle")
    @api.HANDLE
    def handle() -> Response:
        body = read_json_object()
        action = require_str(body, "action")
        if action == "auth":
            return authenticate(require_object(body, "auth"))
        if action == "log":
            return log(body, optional_str(body, "transport"))
        if action == "mail":
            return mail(require_object(body, "mail"))
        raise ApiError(400, f"unknown action {action!r}: use auth, log or mail")

    @routes.post("/log-grpc")
    @api.LOG_GRPC
    def log_grpc() -> Response:
        return log(read_json_object(), "grpc")

    @routes.get("/logs")
    @api.LOGS
    def logs() -> Response:
        # The logger checks the query and applies its defaults (labkit.events' list limits).
        query = {name: request.args[name] for name in ("limit", "level") if name in request.args}
        status, body = deps.logger.get("/logs", **query)
        if status != 200:
            raise relay("logger", status, body)
        return reply(body["message"], body.get("data", []))

    def authenticate(auth: dict[str, Any]) -> Response:
        answer = deps.auth.send("POST", "/authenticate", json=auth)
        if answer.status != 202:
            raise relay("authentication", answer.status, answer.body, answer.headers)
        return reply("Authenticated!", answer.body.get("data"), 202)

    def mail(message: dict[str, Any]) -> Response:
        status, body = deps.mail.post("/send", message)
        if status != 202:
            raise relay("mail", status, body)
        return reply(f"Message sent to {message['to']}", status=202)

    def log(body: dict[str, Any], transport: str | None) -> Response:
        chosen = transport or config.log_transport
        if chosen not in deps.senders:
            raise ApiError(400, f"unknown transport {chosen!r}: use {', '.join(deps.senders)}")
        with refusals(chosen):
            event = LogEvent.parse(require_object(body, "log"), "log")
        deps.senders[chosen].send(event)
        return reply(f"logged via {chosen}", {"transport": chosen, "event_id": event.event_id}, 202)

    return routes

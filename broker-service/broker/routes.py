"""The broker's routes: the single entry point of the lab."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from broker.transports import LogEvent, check_size, relay
from labkit.logs import new_id
from labkit.web import ApiError, optional_str, read_json_object, reply, require_object, require_str

bp = Blueprint("broker", __name__)

LEVELS = ("INFO", "WARNING", "ERROR")


def _deps() -> Any:
    return current_app.extensions["broker"]


@bp.post("/")
def hit() -> Response:
    return reply("Hit the broker")


@bp.get("/ping")
def ping() -> Response:
    return reply("pong")


@bp.post("/handle")
def handle() -> Response:
    body = read_json_object()
    action = require_str(body, "action")
    if action == "auth":
        return _authenticate(require_object(body, "auth"))
    if action == "log":
        return _log(body, optional_str(body, "transport"))
    if action == "mail":
        return _mail(require_object(body, "mail"))
    raise ApiError(400, f"unknown action {action!r}: use auth, log or mail")


@bp.post("/log-grpc")
def log_grpc() -> Response:
    return _log(read_json_object(), "grpc")


@bp.get("/logs")
def logs() -> Response:
    status, body = _deps().logger.get("/logs", limit=request.args.get("limit", "20"))
    if status != 200:
        raise relay("logger", status, body)
    return reply(body["message"], body.get("data", []))


def _authenticate(auth: dict[str, Any]) -> Response:
    answer = _deps().auth.send("POST", "/authenticate", json=auth)
    if answer.status != 202:
        raise relay("authentication", answer.status, answer.body, answer.headers)
    return reply("Authenticated!", answer.body.get("data"), 202)


def _mail(mail: dict[str, Any]) -> Response:
    status, body = _deps().mail.post("/send", mail)
    if status != 202:
        raise relay("mail", status, body)
    return reply(f"Message sent to {mail['to']}", status=202)


def _log(body: dict[str, Any], transport: str | None) -> Response:
    entry = require_object(body, "log")
    event = LogEvent(
        name=require_str(entry, "name", where="log"),
        data=require_str(entry, "data", where="log"),
        event_id=new_id(),
        level=(optional_str(entry, "level", where="log") or "INFO").upper(),
    )
    if event.level not in LEVELS:
        raise ApiError(400, f"log.level must be one of {', '.join(LEVELS)}")
    chosen = transport or current_app.config["BROKER"].log_transport
    senders = _deps().senders
    if chosen not in senders:
        raise ApiError(400, f"unknown transport {chosen!r}: use {', '.join(senders)}")
    check_size(event)
    senders[chosen].send(event)
    return reply(f"logged via {chosen}", {"transport": chosen, "event_id": event.event_id}, 202)

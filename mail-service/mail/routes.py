"""The mail service's one route."""

from __future__ import annotations

import logging

from flask import Blueprint, Response

from labkit.openapi import Answer, operation
from labkit.web import read_json_object, reply
from mail.config import Config
from mail.message import MAIL_SCHEMA, build_message, parse_mail
from mail.smtp import Mailer

log = logging.getLogger("mail.routes")

TITLE = "mail"
DESCRIPTION = (
    "Renders a plain and HTML mail (CSS inlined) and sends it over SMTP. Every answer is the JSON envelope; "
    "every answer carries X-Request-ID."
)
SEND = operation(
    "Send a mail",
    {
        202: Answer('"sent to <to>"'),
        400: Answer(
            "a field missing, not a string or empty; an invalid address; a line break in a header field"
        ),
        502: Answer('"mail server refused the message"'),
        503: Answer('"mail server is unavailable"'),
        504: Answer('"mail server timed out"'),
    },
    body=MAIL_SCHEMA,
)


def blueprint(config: Config, mailer: Mailer) -> Blueprint:
    routes = Blueprint("mail", __name__)

    @routes.post("/send")
    @SEND
    def send() -> Response:
        mail = parse_mail(read_json_object(), config.default_sender)
        message = build_message(mail, domain=config.mail_domain)
        mailer.send(message, mail.sender.addr_spec, mail.to.addr_spec)
        log.info("mail sent", extra={"to": mail.to.addr_spec, "message_id": message["Message-ID"]})
        return reply(f"sent to {mail.to}", status=202)

    return routes

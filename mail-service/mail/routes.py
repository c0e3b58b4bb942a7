"""The mail service's one route."""

from __future__ import annotations

import logging

from flask import Blueprint, Response

from labkit.web import read_json_object, reply
from mail.config import Config
from mail.message import build_message, parse_mail
from mail.smtp import Mailer

log = logging.getLogger("mail.routes")


def blueprint(config: Config, mailer: Mailer) -> Blueprint:
    routes = Blueprint("mail", __name__)

    @routes.post("/send")
    def send() -> Response:
        mail = parse_mail(read_json_object(), config.default_sender)
        message = build_message(mail, domain=config.mail_domain)
        mailer.send(message, mail.sender.addr_spec, mail.to.addr_spec)
        log.info("mail sent", extra={"to": mail.to.addr_spec, "message_id": message["Message-ID"]})
        return reply(f"sent to {mail.to}", status=202)

    return routes

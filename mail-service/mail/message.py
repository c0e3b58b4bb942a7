"""Pure functions from a /send request to the email that goes out: validation, templates, MIME building."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage, MIMEPart
from email.utils import format_datetime, make_msgid
from functools import cache, lru_cache
from typing import Any

from email_validator import validate_email
from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape
from premailer import Premailer

from labkit.validation import ApiError, nullable, object_schema, optional_str, require_str, text_schema

HTML_TEMPLATE = "mail.html"
# Every character str.splitlines() breaks on: any of them could end a header line somewhere downstream.
LINE_BREAKS = frozenset("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")

templates = Environment(
    loader=PackageLoader("mail", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def inline_css(html: str) -> str:
    """The HTML with its <style> rules moved into style attributes, as mail clients need them."""
    return Premailer(
        html, allow_network=False, disable_validation=True, cssutils_logging_level=logging.CRITICAL
    ).transform()


class _Headers(HeaderRegistry):
    """The email package's header registry, with two savings.

    It makes each header's class once: the standard one builds a new class with type() for every header
    it parses, a quarter of the CPU of building a message.

    It parses a short header given as text once and hands the same header on after that: every message
    repeats its MIME-Version, its parts' Content-Type and Content-Transfer-Encoding and, mostly, its
    sender, and all those of one second their Date; parsing those was a third of building a message. A
    header is never changed once made (a change makes a new one), so messages can share it. Only values
    of up to CACHED_VALUE_MAX characters, and at most CACHED_HEADERS of them, are kept, so the cache
    stays small whatever the requests hold.
    """

    CACHED_VALUE_MAX = 64
    CACHED_HEADERS = 256

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}
        self._parsed = lru_cache(maxsize=self.CACHED_HEADERS)(super().__call__)

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        if key not in self._classes:
            self._classes[key] = super().__getitem__(key)
        return self._classes[key]

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if isinstance(value, str) and len(value) <= self.CACHED_VALUE_MAX:
            return self._parsed(name, value)
        return super().__call__(name, value)


# The standard library's default policy (RFC 5322, "\n" line ends, which smtplib turns into CRLF).
POLICY = policy.default.clone(header_factory=_Headers())


@cache
def _html_template() -> Template:
    """The HTML template with its CSS inlined once: the template's own markup carries the styles, so
    inlining its source gives what inlining every rendered message would, at a fraction of the cost
    (premailer was about 40% of building a message)."""
    source, _filename, _uptodate = templates.loader.get_source(templates, HTML_TEMPLATE)
    return templates.from_string(inline_css(source))


@dataclass(frozen=True)
class Mail:
    sender: Address
    to: Address
    subject: str
    message: str


# What parse_mail takes, stated for the OpenAPI document; an address's validity is parse_address's.
_ONE_LINE = {"not": {"pattern": f"[{''.join(LINE_BREAKS)}]"}}
MAIL_SCHEMA = object_schema(
    {
        "to": text_schema(
            'one address, bare or with a display name ("Jane <jane@example.com>")', allOf=[_ONE_LINE]
        ),
        "subject": text_schema(allOf=[_ONE_LINE]),
        "message": text_schema("the text; blank lines part paragraphs"),
    },
    {
        "from": nullable(
            text_schema("the sender's address; absent means FROM_NAME <FROM_ADDRESS>", allOf=[_ONE_LINE])
        )
    },
)


def parse_mail(body: Mapping[str, Any], default_sender: Address) -> Mail:
    """A /send body as a Mail, or an ApiError 400 saying which field is wrong and why."""
    to = require_str(body, "to")
    subject = require_str(body, "subject")
    message = require_str(body, "message")
    sender = optional_str(body, "from")
    for field, value in (("from", sender), ("to", to), ("subject", subject)):
        if value is not None and not LINE_BREAKS.isdisjoint(value):
            raise ApiError(400, f"{field} must not contain line breaks")
    return Mail(
        sender=default_sender if sender is None else parse_address("from", sender),
        to=parse_address("to", to),
        subject=subject,
        message=message,
    )


def parse_address(field: str, value: str) -> Address:
    """One address, bare or with a display name ("Jane <jane@example.com>"); never a list of them."""
    try:
        valid = validate_email(value, check_deliverability=False, allow_display_name=True)
        return Address(display_name=valid.display_name or "", addr_spec=valid.normalized)
    except ValueError:
        raise ApiError(400, f"{field} is not a valid email address") from None


def render_plain(mail: Mail) -> str:
    return templates.get_template("mail.plain.txt").render(subject=mail.subject, message=mail.message)


def render_html(mail: Mail) -> str:
    """The HTML template, its text escaped, its <style> rules inlined into style attributes."""
    return _html_template().render(subject=mail.subject, paragraphs=paragraphs(mail.message))


def paragraphs(message: str) -> list[str]:
    """The message split on blank lines; single line breaks stay inside a paragraph."""
    return [
        part.strip("\n") for part in re.split(r"\n[ \t]*\n", message.replace("\r\n", "\n")) if part.strip()
    ]


def build_message(mail: Mail, *, domain: str, now: datetime | None = None) -> EmailMessage:
    """multipart/alternative: the plain part first, the HTML part last (the one clients prefer)."""
    texts = {"plain": render_plain(mail), "html": render_html(mail)}
    message = EmailMessage(policy=POLICY)
    # The addresses as text, which the header registry parses once for every message that repeats them.
    message["From"] = str(mail.sender)
    message["To"] = str(mail.to)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    message["MIME-Version"] = "1.0"
    message["Content-Type"] = f'multipart/alternative; boundary="{_boundary(texts.values())}"'
    for subtype, text in texts.items():
        part = MIMEPart(policy=POLICY)
        part.set_content(text, subtype=subtype)
        message.attach(part)
    return message


def _boundary(texts: Iterable[str]) -> str:
    """A random boundary found in none of the texts. Chosen here, not by the generator, which compiles a
    regular expression for each of its own to search the flattened parts (an eighth of building a
    message). "=_" cannot occur in a quoted-printable or base64 body, and a text sent as it is was just
    searched."""
    while True:
        boundary = f"=_{secrets.token_hex(16)}"
        if not any(boundary in text for text in texts):
            return boundary

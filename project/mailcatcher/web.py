"""The catcher's HTTP side: the subset of MailHog's API that tools use, and a small inbox page."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, render_template, request

from labkit.net import ReadyCheck
from labkit.validation import ApiError
from labkit.web import init_app, reply
from mailcatcher import inbox
from mailcatcher.mailhog import message_json
from mailcatcher.store import MessageStore

DEFAULT_LIMIT = 50
MAX_LIMIT = 250
INBOX_PAGE_SIZE = 100

# Nothing is loaded from anywhere and no script runs: not in the page, nor in a message's HTML, which
# inherits this policy inside its sandboxed srcdoc iframe (frame-src stays open for that iframe).
PAGE_POLICY = "; ".join(
    (
        "script-src 'none'",
        "object-src 'none'",
        "connect-src 'none'",
        "font-src 'none'",
        "img-src data:",
        "style-src 'unsafe-inline'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)


def create_app(store: MessageStore, *, smtp_address: str, ready_check: ReadyCheck) -> Flask:
    app = Flask(__name__)
    init_app(app, ready_check)
    app.register_blueprint(_api(store))
    app.register_blueprint(_pages(store, smtp_address))
    return app


def _api(store: MessageStore) -> Blueprint:
    api = Blueprint("api", __name__, url_prefix="/api")

    @api.get("/v2/messages")
    def messages() -> Response:
        start = _positive_arg("start", 0)
        total, items = store.page(start, min(_positive_arg("limit", DEFAULT_LIMIT), MAX_LIMIT))
        return jsonify(
            total=total, count=len(items), start=start, items=[message_json(item) for item in items]
        )

    @api.get("/v1/messages/<message_id>")
    def message(message_id: str) -> Response:
        found = store.get(message_id)
        if found is None:
            raise ApiError(404, "message not found")
        return jsonify(message_json(found))

    @api.delete("/v1/messages")
    def delete_all() -> Response:
        store.clear()
        return reply("all messages deleted")

    return api


def _pages(store: MessageStore, smtp_address: str) -> Blueprint:
    pages = Blueprint("pages", __name__)

    @pages.get("/")
    def index() -> Response:
        total, items = store.page(0, INBOX_PAGE_SIZE)
        html = render_template(
            "inbox.html",
            messages=[inbox.summarize(item) for item in items],
            total=total,
            smtp_address=smtp_address,
        )
        return _page(html)

    @pages.get("/messages/<message_id>")
    def message(message_id: str) -> Response:
        found = store.get(message_id)
        if found is None:
            return _page(render_template("missing.html"), 404)
        return _page(render_template("message.html", message=inbox.detail(found)))

    return pages


def _page(html: str, status: int = 200) -> Response:
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _positive_arg(name: str, default: int) -> int:
    """A query argument as MailHog reads it: a positive integer, or the default."""
    try:
        value = int(request.args.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default

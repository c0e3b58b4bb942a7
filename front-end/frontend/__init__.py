"""The test page: one HTML page whose buttons call the broker from the browser."""

from __future__ import annotations

from flask import Flask, Response

from frontend import routes
from frontend.config import Config, origin
from frontend.routes import blueprint
from labkit.openapi import Answer, Operation, describe_endpoint
from labkit.web import init_app, publish_openapi

STATIC = Operation(
    "The page's script, styles and icon",
    {200: Answer("the file", media="*/*", schema={"type": "string"}), 404: Answer('"not found"')},
    tags=("page",),
)


def security_headers(config: Config) -> dict[str, str]:
    """Scripts and styles from this origin only; fetches to this origin and the broker; never framed.
    Images may also be data: URIs, which Swagger UI's stylesheet uses for its icons."""
    policy = {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "connect-src": f"'self' {origin(config.broker_url)}",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }
    return {
        "Content-Security-Policy": "; ".join(f"{name} {value}" for name, value in policy.items()),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__)
    init_app(app, lambda: {"static": True})
    headers = security_headers(config)

    @app.after_request
    def _secure(response: Response) -> Response:
        response.headers.update(headers)
        return response

    app.register_blueprint(blueprint(config))
    describe_endpoint(app, "static", STATIC)
    publish_openapi(app, routes.TITLE, routes.DESCRIPTION)
    return app

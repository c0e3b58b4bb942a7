"""The test page: one HTML page whose buttons call the broker from the browser."""

from __future__ import annotations

from flask import Flask, Response

from frontend.config import Config, origin
from frontend.routes import blueprint
from labkit.web import init_app


def security_headers(config: Config) -> dict[str, str]:
    """Scripts and styles from this origin only; fetches to this origin and the broker; never framed."""
    policy = {
        "default-src": "'none'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self'",
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
    return app

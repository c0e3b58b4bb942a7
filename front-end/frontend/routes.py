"""The page itself; its script and styles are Flask's /static files."""

from __future__ import annotations

from flask import Blueprint, render_template

from frontend.config import Config


def blueprint(config: Config) -> Blueprint:
    routes = Blueprint("frontend", __name__)

    @routes.get("/")
    def page() -> str:
        return render_template(
            "index.html",
            settings=config,
            page_config={"brokerUrl": config.broker_url, "mailUiUrl": config.mail_ui_url},
        )

    return routes

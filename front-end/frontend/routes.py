"""The page itself; its script and styles are Flask's /static files."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("frontend", __name__)


@bp.get("/")
def page() -> str:
    config = current_app.config["FRONTEND"]
    return render_template(
        "index.html",
        settings=config,
        page_config={"brokerUrl": config.broker_url, "mailUiUrl": config.mail_ui_url},
    )

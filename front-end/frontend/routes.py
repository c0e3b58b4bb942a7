"""The page itself, and the API reference: Swagger UI's own files (the swagger-ui-dist npm package,
installed by `npm ci` in front-end/) showing the broker's OpenAPI document. Script and styles are
Flask's /static files."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, render_template, send_from_directory

from frontend.config import Config
from labkit.openapi import Answer, operation
from labkit.validation import ApiError

# Where `npm ci` in front-end/ puts the package (the front-end image copies it to the same place).
SWAGGER_UI = Path(__file__).resolve().parent.parent / "node_modules" / "swagger-ui-dist"
# The package's files the reference page loads; nothing else of the package is served.
SWAGGER_UI_FILES = ("swagger-ui.css", "swagger-ui-bundle.js")
NOT_INSTALLED = "the API reference is not installed: run npm ci --ignore-scripts in front-end"

TITLE = "front-end"
DESCRIPTION = "The lab's test page, whose buttons call the broker, and the API reference of the broker."
_HTML = {"type": "string", "description": "an HTML page"}
PAGE = operation("The test page", {200: Answer("the page", media="text/html", schema=_HTML)}, tags=("page",))
REFERENCE = operation(
    "The API reference: Swagger UI showing the broker's OpenAPI document, able to try requests",
    {
        200: Answer("the page", media="text/html", schema=_HTML),
        503: Answer(f'"{NOT_INSTALLED}"'),
    },
    tags=("page",),
)
REFERENCE_FILE = operation(
    "One of Swagger UI's files",
    {
        200: Answer("the file", media="*/*", schema={"type": "string"}),
        404: Answer('"not found"'),
        503: Answer(f'"{NOT_INSTALLED}"'),
    },
    tags=("page",),
)


def _installed() -> Path:
    if not (SWAGGER_UI / SWAGGER_UI_FILES[-1]).is_file():
        raise ApiError(503, NOT_INSTALLED)
    return SWAGGER_UI


def blueprint(config: Config) -> Blueprint:
    routes = Blueprint("frontend", __name__)

    @routes.get("/")
    @PAGE
    def page() -> str:
        return render_template(
            "index.html",
            settings=config,
            page_config={"brokerUrl": config.broker_url, "mailUiUrl": config.mail_ui_url},
        )

    @routes.get("/api-reference")
    @REFERENCE
    def reference() -> str:
        _installed()
        return render_template(
            "api-reference.html", page_config={"documentUrl": f"{config.broker_url}/openapi.json"}
        )

    @routes.get("/api-reference/<filename>")
    @REFERENCE_FILE
    def reference_file(filename: str) -> Response:
        if filename not in SWAGGER_UI_FILES:
            raise ApiError(404, "not found")
        return send_from_directory(_installed(), filename)

    return routes

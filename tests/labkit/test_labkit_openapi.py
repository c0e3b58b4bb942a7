"""Each Flask service's OpenAPI document lists exactly the routes its app has: a route added without an
operation, or an operation left behind by a removed route, fails here. (The listener, which is not Flask,
and every service as it runs are checked in tests/lab/test_lab_openapi.py.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

import authentication
import broker
import frontend
import logger
import mail
from authentication.config import Config as AuthConfig
from labkit.openapi import IMPLICIT_METHODS

APPS: dict[str, Callable[[], Flask]] = {
    "broker": broker.create_app,
    "authentication": lambda: authentication.create_app(AuthConfig(dsn="postgresql://127.0.0.1:1/none")),
    "logger": logger.create_app,
    "mail": mail.create_app,
    "front-end": frontend.create_app,
}


def routed(app: Flask) -> set[tuple[str, str]]:
    """(method, path) of every rule in the app's URL map, in OpenAPI's path syntax."""
    return {
        (method.lower(), re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - IMPLICIT_METHODS
    }


@pytest.fixture(params=APPS)
def named_app(request: pytest.FixtureRequest) -> Iterator[tuple[str, Flask]]:
    app = APPS[request.param]()
    yield request.param, app
    # The authentication app's outbox relay thread would otherwise retry its database for the rest of
    # the session.
    if "authenticator" in app.extensions:
        app.extensions["authenticator"].close()


def test_the_document_lists_exactly_the_apps_routes(named_app: tuple[str, Flask]) -> None:
    name, app = named_app
    spec = app.test_client().get("/openapi.json").get_json()
    documented = {(method, path) for path, operations in spec["paths"].items() for method in operations}
    routes = routed(app)
    assert routes - documented == set(), "routes missing from the document"
    assert documented - routes == set(), "documented operations the app does not have"
    assert spec["info"]["title"] == name

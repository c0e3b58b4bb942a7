"""Each HTTP service's OpenAPI 3.1 document, built with apispec from what the code defines.

A route says what it takes and answers with `@operation(...)` beside its own definition, and the
document is built from the app's URL map: its paths, methods and path parameters are the app's own, and
a route without an operation is left out of the document (a test fails when that happens). The schemas
are built from the constants the checks use (labkit.events' fields, levels and limits, the broker's
transports, ...), so the two cannot disagree about a limit. What every route shares is added here once:
the JSON envelope as every answer's schema, the X-Request-ID header both ways, the 1 MiB body limit.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apispec import APISpec

from labkit.logs import MAX_REQUEST_ID_LENGTH, REQUEST_ID_HEADER
from labkit.validation import MAX_BODY_BYTES, Schema

if TYPE_CHECKING:
    from flask import Flask

OPENAPI_VERSION = "3.1.0"
DOCUMENT_PATH = "/openapi.json"
JSON = "application/json"
RETRY_AFTER = "Retry-After"
# Methods every route answers without declaring them: HEAD as GET, OPTIONS (CORS preflights).
IMPLICIT_METHODS = frozenset({"HEAD", "OPTIONS"})
View = Callable[..., Any]
_FLASK_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


@dataclass(frozen=True)
class Answer:
    """One status a route answers with. JSON answers are the envelope, with `data` as given (none when
    `data` is None); `media` and `schema` describe an answer that is not the envelope (a page, a stream,
    this document)."""

    description: str
    data: Schema | str | None = None
    headers: tuple[str, ...] = ()
    media: str = JSON
    schema: Schema | None = None


@dataclass(frozen=True)
class Operation:
    summary: str
    answers: Mapping[int, Answer]
    body: Schema | str | None = None
    query: Mapping[str, tuple[Schema, bool]] = field(default_factory=dict)
    description: str = ""
    tags: tuple[str, ...] = ()
    # A request body to start from, as Swagger UI's "Try it out" fills it in.
    example: Any = None


def describes(described: Operation) -> Callable[[View], View]:
    """A decorator describing the view it decorates (place it under the route decorator)."""

    def attach(view: View) -> View:
        view.openapi_operation = described  # type: ignore[attr-defined]
        return view

    return attach


def operation(summary: str, answers: Mapping[int, Answer], **details: Any) -> Callable[[View], View]:
    """describes() with the operation made here."""
    return describes(Operation(summary, answers, **details))


def describe_endpoint(app: Flask, endpoint: str, described: Operation) -> None:
    """Describe a view that cannot carry an attribute (Flask's static files)."""
    app.extensions.setdefault("labkit.openapi", {})[endpoint] = described


def envelope(status: int, data: Schema | str | None) -> Schema:
    """The contract's envelope for this status: error true from 400 on, `data` only where there is some."""
    properties: Schema = {"error": {"const": status >= 400}, "message": {"type": "string"}}
    if data is not None:
        properties["data"] = data
    return {
        "type": "object",
        "required": ["error", "message"],
        "properties": properties,
        "additionalProperties": False,
    }


def _path(rule: str) -> str:
    return _FLASK_PARAMETER.sub(r"{\1}", rule)


def flask_operations(app: Flask) -> list[tuple[str, str, Operation | None]]:
    """(path, method, its operation or None) for every route of the app, in the URL map's order."""
    described = app.extensions.get("labkit.openapi", {})
    found = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        op = described.get(rule.endpoint) or getattr(view, "openapi_operation", None)
        for method in sorted((rule.methods or set()) - IMPLICIT_METHODS):
            found.append((_path(rule.rule), method.lower(), op))
    return found


def _responses(op: Operation, has_body: bool) -> dict[str, Any]:
    answers = dict(op.answers)
    if has_body:
        answers.setdefault(400, Answer("the body is not one JSON object, or a field is missing or wrong"))
    # Every route refuses a body over the limit, even one that reads none.
    answers.setdefault(413, Answer("the request body is larger than 1 MiB"))
    responses = {}
    for status, answer in sorted(answers.items()):
        schema = answer.schema if answer.media != JSON or answer.schema else envelope(status, answer.data)
        response: Schema = {
            "description": answer.description,
            "headers": {REQUEST_ID_HEADER: REQUEST_ID_HEADER, **{name: name for name in answer.headers}},
            "content": {answer.media: {"schema": schema}},
        }
        responses[str(status)] = response
    return responses


def _parameters(path: str, op: Operation) -> list[Any]:
    parameters: list[Any] = [REQUEST_ID_HEADER]
    for name in re.findall(r"{([^}]+)}", path):
        parameters.append({"name": name, "in": "path", "required": True, "schema": {"type": "string"}})
    for name, (schema, required) in op.query.items():
        parameters.append({"name": name, "in": "query", "required": required, "schema": schema})
    return parameters


def build(
    title: str,
    description: str,
    routes: Iterable[tuple[str, str, Operation | None]],
    schemas: Mapping[str, Schema] | None = None,
) -> dict[str, Any]:
    """The OpenAPI document of these routes (those without an operation are left out)."""
    spec = APISpec(
        title=title, version="1.0.0", openapi_version=OPENAPI_VERSION, info={"description": description}
    )
    for name, schema in (schemas or {}).items():
        spec.components.schema(name, copy.deepcopy(schema))
    spec.components.header(
        REQUEST_ID_HEADER,
        {
            "description": "The correlation id: the request's own when it is 1 to "
            f"{MAX_REQUEST_ID_LENGTH} printable ASCII characters, else a new one",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_REQUEST_ID_LENGTH},
        },
    )
    spec.components.header(
        RETRY_AFTER,
        {
            "description": "Seconds to wait before trying again",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        },
    )
    spec.components.parameter(
        REQUEST_ID_HEADER,
        "header",
        {
            "description": f"The correlation id to carry on (1 to {MAX_REQUEST_ID_LENGTH} printable ASCII "
            "characters); any other value is replaced, never refused",
            "required": False,
            "schema": {"type": "string"},
        },
    )
    by_path: dict[str, dict[str, Any]] = {}
    for path, method, op in routes:
        if op is None:
            continue
        entry: Schema = {
            "summary": op.summary,
            "operationId": f"{method}{re.sub(r'[^A-Za-z0-9]+', '_', path).rstrip('_') or '_root'}",
            "parameters": _parameters(path, op),
            "responses": _responses(op, op.body is not None),
        }
        if op.description:
            entry["description"] = op.description
        if op.tags:
            entry["tags"] = list(op.tags)
        if op.body is not None:
            entry["requestBody"] = {
                "required": True,
                "description": f"One JSON object of at most {MAX_BODY_BYTES} bytes (1 MiB): a larger body is "
                "a 413. The body decides: Content-Type is not checked. Unknown fields are ignored.",
                "content": {JSON: {"schema": copy.deepcopy(op.body)}},
            }
            if op.example is not None:
                entry["requestBody"]["content"][JSON]["example"] = op.example
        by_path.setdefault(path, {})[method] = copy.deepcopy(entry)
    for path, operations in by_path.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


OPENAPI = Operation(
    "This OpenAPI 3.1 document",
    {200: Answer("the document", schema={"type": "object", "required": ["openapi", "paths"]})},
    tags=("meta",),
)
HEALTHZ = Operation(
    "Liveness: the process answers",
    {200: Answer("alive")},
    tags=("health",),
)
READYZ = Operation(
    "Readiness: every service and server this one calls accepts connections",
    {
        200: Answer("ready, with each check", data={"type": "object"}),
        503: Answer(
            "not ready, with each check (false for those that failed; draining true while it stops)",
            data={"type": "object"},
        ),
    },
    tags=("health",),
)
METRICS = Operation(
    "Prometheus metrics",
    {200: Answer("the metrics in Prometheus' text format", media="text/plain", schema={"type": "string"})},
    tags=("health",),
)

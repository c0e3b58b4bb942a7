"""The error a client should see, and the field checks that raise it. Free of Flask, so workers
that only consume messages use the same checks and messages as the HTTP services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The largest request any front door of any lab service takes (HTTP body, xmlrpc call, gRPC message).
MAX_BODY_BYTES = 1024 * 1024

# A JSON Schema (2020-12, as OpenAPI 3.1 uses it). Each check below has its schema beside it, so a
# service's OpenAPI document states the rule the check applies.
Schema = dict[str, Any]
# Something besides whitespace: what require_str's "must not be empty" asks (Python's \s is str.strip's).
NOT_BLANK = r"\S"


class ApiError(Exception):
    """Raised anywhere in a request; answered as the JSON envelope with this status and message,
    and with these headers (e.g. Retry-After on a 429)."""

    def __init__(
        self, status: int, message: str, data: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data = data
        self.headers = dict(headers or {})


def require_object(body: Mapping[str, Any], field: str) -> dict[str, Any]:
    value = body.get(field)
    if value is None:
        raise ApiError(400, f"{field} is required")
    if not isinstance(value, dict):
        raise ApiError(400, f"{field} must be a JSON object")
    return value


def require_str(body: Mapping[str, Any], field: str, *, where: str = "") -> str:
    name = f"{where}.{field}" if where else field
    value = body.get(field)
    if value is None:
        raise ApiError(400, f"{name} is required")
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    if not value.strip():
        raise ApiError(400, f"{name} must not be empty")
    return value


def text_schema(description: str = "", **rules: Any) -> Schema:
    """A field as require_str checks it: a string with something besides whitespace."""
    schema: Schema = {"type": "string", "pattern": NOT_BLANK, **rules}
    if description:
        schema["description"] = description
    return schema


def object_schema(
    required: dict[str, Schema], optional: dict[str, Schema] | None = None, **rules: Any
) -> Schema:
    """A JSON object with these required and optional fields; unknown fields are ignored."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
        **rules,
    }


def nullable(schema: Schema) -> Schema:
    """A field that may also be null, which optional_str takes as absent."""
    return {"anyOf": [schema, {"type": "null"}]}


def optional_str(body: Mapping[str, Any], field: str, *, where: str = "") -> str | None:
    if body.get(field) is None:
        return None
    return require_str(body, field, where=where)

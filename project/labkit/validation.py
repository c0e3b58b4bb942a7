"""The error a client should see, and the field checks that raise it. Free of Flask, so workers
that only consume messages use the same checks and messages as the HTTP services."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The largest request any front door of any lab service takes (HTTP body, xmlrpc call, gRPC message).
MAX_BODY_BYTES = 1024 * 1024


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


def optional_str(body: Mapping[str, Any], field: str, *, where: str = "") -> str | None:
    if body.get(field) is None:
        return None
    return require_str(body, field, where=where)

"""Typed reads of the environment. A missing or malformed value stops the process, naming the variable."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from labkit.logs import configure_logging

T = TypeVar("T")


class ConfigError(RuntimeError):
    """A required environment variable is missing or malformed."""


def env_str(
    name: str, default: str | None = None, environ: Mapping[str, str] | None = None, *, strip: bool = True
) -> str:
    """The variable's value, surrounding whitespace removed unless strip is False (a password may have
    some); the default when it is unset or blank."""
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or raw.strip() == "":
        if default is None:
            raise ConfigError(f"{name} is required but not set")
        return default
    return raw.strip() if strip else raw


def env_int(name: str, default: int, environ: Mapping[str, str] | None = None, *, minimum: int = 0) -> int:
    raw = env_str(name, str(default), environ)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def env_port(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    port = env_int(name, default, environ)
    if port > 65535:
        raise ConfigError(f"{name} must be a TCP port (0-65535), got {port}")
    return port


def env_url(
    name: str,
    default: str,
    environ: Mapping[str, str] | None = None,
    *,
    schemes: Iterable[str] = ("http", "https"),
) -> str:
    raw = env_str(name, default, environ)
    parts = urlsplit(raw)
    allowed = tuple(schemes)
    if parts.scheme not in allowed or not parts.hostname:
        raise ConfigError(f"{name} must be a {'/'.join(allowed)} URL with a host, got {raw!r}")
    return raw.rstrip("/") if parts.scheme in ("http", "https") else raw


def env_addr(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    raw = env_str(name, default, environ)
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"{name} must be host:port, got {raw!r}")
    return raw


def env_choice(
    name: str, default: str, choices: Iterable[str], environ: Mapping[str, str] | None = None
) -> str:
    raw = env_str(name, default, environ).lower()
    allowed = tuple(choices)
    if raw not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return raw


def env_list(name: str, default: str, environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    return tuple(item.strip() for item in env_str(name, default, environ).split(",") if item.strip())


def load_or_exit(loader: Callable[[], T], service: str) -> T:
    """Read a service's config at start; a bad variable is logged as one JSON line and the process exits 2."""
    configure_logging(service)
    try:
        return loader()
    except ConfigError as exc:
        logging.getLogger(service).error("%s", exc)
        sys.exit(2)

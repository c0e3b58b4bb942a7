"""The test page's settings, read from the environment once at start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from labkit.config import ConfigError, env_port, env_str, env_url

# A host name, IPv4 or [IPv6] address, and an optional port: nothing that could end an HTML attribute,
# a script block or a Content-Security-Policy source.
_NETLOC = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_PATH = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")


def browser_url(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """An http(s) URL the browser is sent to: a plain host and path, no credentials, query or fragment."""
    url = env_url(name, default, environ)
    parts = urlsplit(url)
    plain = _NETLOC.fullmatch(parts.netloc) and _PATH.fullmatch(parts.path)
    if not plain or "?" in url or "#" in url:
        raise ConfigError(f"{name} must be a plain http(s) URL (host, port, path only), got {url!r}")
    return url


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, the way a Content-Security-Policy source names it."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"
    port: int = 8081
    broker_url: str = "http://127.0.0.1:8080"
    mail_ui_url: str = "http://127.0.0.1:8025"
    rabbitmq_ui_url: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        has_rabbitmq_ui = bool(env_str("RABBITMQ_UI_URL", "", environ))
        return cls(
            host=env_str("HOST", cls.host, environ),
            port=env_port("PORT", cls.port, environ),
            broker_url=browser_url("BROKER_URL", cls.broker_url, environ),
            mail_ui_url=browser_url("MAIL_UI_URL", cls.mail_ui_url, environ),
            rabbitmq_ui_url=browser_url("RABBITMQ_UI_URL", "", environ) if has_rabbitmq_ui else "",
        )

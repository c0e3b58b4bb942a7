"""The mail service's settings, read from the environment once at start."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address

from email_validator import EmailNotValidError, validate_email

from labkit.config import ConfigError, env_choice, env_port, env_str

ENCRYPTIONS = ("none", "tls", "ssl")


@dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"
    port: int = 8084
    mail_host: str = "127.0.0.1"
    mail_port: int = 1025
    mail_encryption: str = "none"
    mail_username: str = ""
    mail_password: str = ""
    mail_domain: str = "localhost"
    from_name: str = "John Smith"
    from_address: str = "john.smith@example.com"

    @property
    def default_sender(self) -> Address:
        return Address(display_name=self.from_name, addr_spec=self.from_address)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        config = cls(
            host=env_str("HOST", cls.host, environ),
            port=env_port("PORT", cls.port, environ),
            mail_host=env_str("MAIL_HOST", cls.mail_host, environ),
            mail_port=env_port("MAIL_PORT", cls.mail_port, environ),
            mail_encryption=env_choice("MAIL_ENCRYPTION", cls.mail_encryption, ENCRYPTIONS, environ),
            mail_username=env_str("MAIL_USERNAME", cls.mail_username, environ),
            mail_password=env_str("MAIL_PASSWORD", cls.mail_password, environ, strip=False),
            mail_domain=env_str("MAIL_DOMAIN", cls.mail_domain, environ),
            from_name=env_str("FROM_NAME", cls.from_name, environ),
            from_address=env_str("FROM_ADDRESS", cls.from_address, environ),
        )
        try:
            validate_email(config.from_address, check_deliverability=False)
        except EmailNotValidError:
            raise ConfigError(f"FROM_ADDRESS must be an email address, got {config.from_address!r}") from None
        return config

"""Config from the environment: the contract's defaults, overrides, and clear errors."""

from __future__ import annotations

import pytest

from labkit.config import ConfigError
from mail.config import Config


def test_defaults() -> None:
    config = Config.from_env({})
    assert config == Config()
    assert (config.host, config.port, config.mail_host, config.mail_port) == (
        "0.0.0.0",
        8084,
        "127.0.0.1",
        1025,
    )
    assert (config.mail_encryption, config.mail_username, config.mail_password) == ("none", "", "")
    assert (config.mail_domain, str(config.default_sender)) == (
        "localhost",
        "John Smith <john.smith@example.com>",
    )


def test_every_variable_is_read() -> None:
    config = Config.from_env(
        {
            "HOST": "127.0.0.1",
            "PORT": "9000",
            "MAIL_HOST": "mailhog",
            "MAIL_PORT": "2525",
            "MAIL_ENCRYPTION": "TLS",
            "MAIL_USERNAME": "user",
            "MAIL_PASSWORD": "secret",
            "MAIL_DOMAIN": "lab.example",
            "FROM_NAME": "Lab Robot",
            "FROM_ADDRESS": "robot@lab.example",
        }
    )
    assert config == Config(
        host="127.0.0.1",
        port=9000,
        mail_host="mailhog",
        mail_port=2525,
        mail_encryption="tls",
        mail_username="user",
        mail_password="secret",
        mail_domain="lab.example",
        from_name="Lab Robot",
        from_address="robot@lab.example",
    )
    assert str(config.default_sender) == "Lab Robot <robot@lab.example>"


def test_a_password_keeps_its_spaces_where_other_values_lose_theirs() -> None:
    config = Config.from_env({"MAIL_PASSWORD": " two words ", "MAIL_USERNAME": " user "})
    assert (config.mail_password, config.mail_username) == (" two words ", "user")


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"MAIL_ENCRYPTION": "starttls"}, "MAIL_ENCRYPTION"),
        ({"MAIL_PORT": "70000"}, "MAIL_PORT"),
        ({"PORT": "http"}, "PORT"),
        ({"FROM_ADDRESS": "nobody"}, "FROM_ADDRESS"),
    ],
)
def test_a_bad_value_names_its_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Config.from_env(environ)

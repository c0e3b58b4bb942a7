"""The authentication service's settings from the environment."""

from __future__ import annotations

import pytest

from authentication.config import Config
from labkit.config import ConfigError


def test_defaults_are_the_native_lab() -> None:
    config = Config.from_env({})
    assert config.host == "0.0.0.0"
    assert config.port == 8082
    assert config.dsn == "postgresql://postgres@127.0.0.1:5432/users"
    assert config.amqp_url == "amqp://guest:guest@127.0.0.1:5672/"
    assert config.bcrypt_cost == 12


def test_reads_the_environment() -> None:
    config = Config.from_env(
        {
            "HOST": "127.0.0.1",
            "PORT": "9000",
            "DSN": "host=postgres port=5432 user=postgres password=password dbname=users",
            "AMQP_URL": "amqp://lab:secret@rabbitmq:5672/lab",
            "BCRYPT_COST": "4",
        }
    )
    assert config.host == "127.0.0.1"
    assert config.port == 9000
    assert config.dsn == "host=postgres port=5432 user=postgres password=password dbname=users"
    assert config.amqp_url == "amqp://lab:secret@rabbitmq:5672/lab"
    assert config.bcrypt_cost == 4


@pytest.mark.parametrize("cost", ["3", "17", "twelve"])
def test_bcrypt_cost_outside_4_to_16_is_refused(cost: str) -> None:
    with pytest.raises(ConfigError, match="BCRYPT_COST"):
        Config.from_env({"BCRYPT_COST": cost})


def test_malformed_dsn_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="DSN") as raised:
        Config.from_env({"DSN": "postgresql://postgres:s3cret@[::1"})
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize("url", ["rabbitmq:5672", "http://rabbitmq:5672/"])
def test_amqp_url_that_is_not_amqp_is_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="AMQP_URL"):
        Config.from_env({"AMQP_URL": url})

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
    assert config.logger_url == "http://127.0.0.1:8083"
    assert config.bcrypt_cost == 12


def test_reads_the_environment() -> None:
    config = Config.from_env(
        {
            "HOST": "127.0.0.1",
            "PORT": "9000",
            "DSN": "host=postgres port=5432 user=postgres password=password dbname=users",
            "LOGGER_URL": "http://logger-service:8083/",
            "BCRYPT_COST": "4",
        }
    )
    assert config.host == "127.0.0.1"
    assert config.port == 9000
    assert config.dsn == "host=postgres port=5432 user=postgres password=password dbname=users"
    assert config.logger_url == "http://logger-service:8083"
    assert config.bcrypt_cost == 4


@pytest.mark.parametrize("cost", ["3", "17", "twelve"])
def test_bcrypt_cost_outside_4_to_16_is_refused(cost: str) -> None:
    with pytest.raises(ConfigError, match="BCRYPT_COST"):
        Config.from_env({"BCRYPT_COST": cost})


def test_malformed_dsn_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="DSN") as raised:
        Config.from_env({"DSN": "postgresql://postgres:s3cret@[::1"})
    assert "s3cret" not in str(raised.value)


def test_malformed_logger_url_is_refused() -> None:
    with pytest.raises(ConfigError, match="LOGGER_URL"):
        Config.from_env({"LOGGER_URL": "logger:8083"})

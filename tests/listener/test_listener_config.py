"""The listener's settings from the environment."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from labkit.config import ConfigError
from labrun.services import service_spec
from listener.config import Config


def test_defaults_follow_the_contract() -> None:
    config = Config.from_env({})
    assert config == Config(
        host="0.0.0.0",
        port=8085,
        amqp_url="amqp://guest:guest@127.0.0.1:5672/",
        logger_url="http://127.0.0.1:8083",
        prefetch=200,
    )


def test_environment_overrides_the_defaults() -> None:
    config = Config.from_env(
        {
            "HOST": "127.0.0.1",
            "PORT": "9000",
            "AMQP_URL": "amqp://u:p@rabbitmq:5672/lab",
            "LOGGER_URL": "http://logger-service:8083/",
        }
    )
    assert (config.host, config.port) == ("127.0.0.1", 9000)
    assert config.amqp_url == "amqp://u:p@rabbitmq:5672/lab"
    assert config.logger_url == "http://logger-service:8083"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "http"),
        ("PORT", "70000"),
        ("AMQP_URL", "http://rabbitmq:5672/"),
        ("LOGGER_URL", "logger:8083"),
    ],
)
def test_malformed_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})


def test_the_process_stops_at_start_naming_a_malformed_variable() -> None:
    spec = service_spec("listener", {"PORT": "http"})
    env = {**os.environ, **spec.env}
    done = subprocess.run(
        spec.argv, env=env, cwd=spec.cwd, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 2
    [line] = [json.loads(text) for text in done.stdout.splitlines()]
    assert line["level"] == "ERROR"
    assert line["service"] == "listener"
    assert "PORT must be an integer" in line["message"]

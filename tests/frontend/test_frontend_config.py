"""The test page's settings: defaults, the environment, and URLs that are refused at start."""

from __future__ import annotations

import pytest

from frontend.config import Config, origin
from labkit.config import ConfigError


def test_defaults_point_at_the_native_lab() -> None:
    config = Config.from_env({})
    assert config == Config()
    assert config.port == 8081
    assert config.broker_url == "http://127.0.0.1:8080"
    assert config.mail_ui_url == "http://127.0.0.1:8025"
    assert config.rabbitmq_ui_url == ""


def test_reads_the_environment() -> None:
    config = Config.from_env(
        {
            "HOST": "127.0.0.1",
            "PORT": "9081",
            "BROKER_URL": "https://lab.example.com/broker/",
            "MAIL_UI_URL": "http://localhost:8025",
            "RABBITMQ_UI_URL": "http://[::1]:15672",
        }
    )
    assert config == Config(
        host="127.0.0.1",
        port=9081,
        broker_url="https://lab.example.com/broker",
        mail_ui_url="http://localhost:8025",
        rabbitmq_ui_url="http://[::1]:15672",
    )


def test_an_empty_rabbitmq_ui_url_means_no_link() -> None:
    assert Config.from_env({"RABBITMQ_UI_URL": "  "}).rabbitmq_ui_url == ""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BROKER_URL", "ftp://127.0.0.1:8080"),
        ("BROKER_URL", "127.0.0.1:8080"),
        ("BROKER_URL", "http://admin:secret@127.0.0.1:8080"),
        ("BROKER_URL", "http://127.0.0.1:8080/?debug=1"),
        ("BROKER_URL", "http://127.0.0.1:8080/#top"),
        ("BROKER_URL", "http://127.0.0.1:8080/?"),
        ("BROKER_URL", "http://127.0.0.1:8080/a b"),
        ("BROKER_URL", "http://x</script><script>alert(1)</script>"),
        ("BROKER_URL", "http://x/</script><script>alert(1)</script>"),
        ("BROKER_URL", "http://x;script-src *"),
        ("MAIL_UI_URL", 'http://x/"onmouseover="alert(1)'),
        ("RABBITMQ_UI_URL", "javascript:alert(1)"),
        ("PORT", "http"),
    ],
)
def test_a_malformed_value_stops_the_start_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://lab.example.com/broker", "https://lab.example.com"),
        ("http://[::1]:8080/api", "http://[::1]:8080"),
    ],
)
def test_origin_is_what_a_csp_source_names(url: str, expected: str) -> None:
    assert origin(url) == expected

"""The logger's fixtures: a config, a store and an app over a database of each test's own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from flask import Flask

from labtest import free_port
from logger import create_app
from logger.app import store_of
from logger.config import Config
from logger.store import LogStore


@pytest.fixture
def config(mongo_url: str) -> Config:
    return Config.from_env({"MONGO_URL": mongo_url, "MONGO_DB": f"logs_{uuid.uuid4().hex[:12]}"})


@pytest.fixture
def down_config() -> Config:
    """A store URL nothing listens on."""
    return Config.from_env({"MONGO_URL": f"mongodb://127.0.0.1:{free_port()}"})


def _drop(store: LogStore, config: Config) -> None:
    store.client.drop_database(config.mongo_db)
    store.close()


@pytest.fixture
def store(config: Config) -> Iterator[LogStore]:
    store = LogStore(config.mongo_url, config.mongo_db)
    yield store
    _drop(store, config)


@pytest.fixture
def down_store(down_config: Config) -> Iterator[LogStore]:
    store = LogStore(down_config.mongo_url, down_config.mongo_db)
    yield store
    store.close()


@pytest.fixture
def app(config: Config) -> Iterator[Flask]:
    app = create_app(config)
    yield app
    _drop(store_of(app), config)

"""A mail catcher running in this process on free ports, emptied before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mailcatcher import MailCatcher


@pytest.fixture(scope="module")
def running_catcher() -> Iterator[MailCatcher]:
    with MailCatcher("127.0.0.1", 0, 0) as catcher:
        yield catcher


@pytest.fixture
def catcher(running_catcher: MailCatcher) -> MailCatcher:
    requests.delete(f"{running_catcher.api_url}/api/v1/messages", timeout=5).raise_for_status()
    return running_catcher

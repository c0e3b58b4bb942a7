"""Debian's Chromium, headless and driven by Playwright: the browser fixtures of every folder whose tests
open the test page (their conftest imports them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from broker.config import TRANSPORTS

# The test page's buttons: (test id, the output line's label, the status and message it must show).
BUTTONS = [
    ("btn-broker", "broker", "200", "Hit the broker"),
    ("btn-auth", "auth", "202", "Authenticated!"),
    ("btn-rabbitmq", "log · rabbitmq", "202", "logged via rabbitmq"),
    ("btn-rpc", "log · rpc", "202", "logged via rpc"),
    ("btn-grpc", "log · grpc", "202", "logged via grpc"),
    ("btn-http", "log · http", "202", "logged via http"),
    ("btn-mail", "mail", "202", "Message sent to you@there.com"),
]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test installs it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], f"the page raised: {errors}"


def press(page: Page, button: str, label: str, status: str, message: str) -> Locator:
    """Click one of the test page's buttons: its output line, once it shows the status and message."""
    page.get_by_test_id(button).click()
    line = page.locator(f'[data-testid="output-line"][data-action="{label}"]').last
    expect(line).to_have_attribute("data-status", status)
    expect(line.locator(".line-message")).to_contain_text(message)
    return line


def expect_each_transport_stored(page: Page) -> None:
    """The stored-entries panel shows the test event of every transport."""
    for transport in TRANSPORTS:
        row = page.locator(f'[data-testid="log-row"][data-transport="{transport}"]').first
        expect(row).to_contain_text("Some kind of data", timeout=15_000)

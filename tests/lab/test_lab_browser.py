"""The test page in a real browser (Debian's Chromium driven by Playwright) against the running lab.

Every button is clicked; the page must show what was sent, what came back, the status, the message and
the round trip, and its live panel must show the event each transport stored. The mail inbox must show
the mail. A screenshot of the page after the full run is kept with the run's artifacts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import requests
from chromium import BUTTONS, expect_each_transport_stored, press
from playwright.sync_api import Page, expect

from labtest import Lab


def test_every_button_works_and_the_live_panel_shows_each_transport(
    lab: Lab, page: Page, inbox: str, artifacts: Path
) -> None:
    page.goto(lab.url("frontend"))
    expect(page.get_by_test_id("logs-status")).to_have_attribute("data-state", "live")

    for button, label, status, message in BUTTONS:
        line = press(page, button, label, status, message)
        expect(line.locator(".line-ms")).to_have_text(re.compile(r"^\d+ ms$"))
        expect(page.get_by_test_id("received-meta")).to_contain_text(status)
        received = json.loads(page.get_by_test_id("pane-received").inner_text())
        assert received["message"] == message
        sent = page.get_by_test_id("pane-sent").inner_text()
        if label.startswith("log"):
            assert json.loads(sent)["transport"] == label.rsplit(" ", 1)[1]

    expect_each_transport_stored(page)
    expect(
        page.locator('[data-testid="log-row"]').filter(has_text="admin@example.com logged in").first
    ).to_be_visible()

    page.screenshot(path=str(artifacts / "test-page.png"), full_page=True)

    page.goto(inbox)
    expect(page.get_by_text("Test email").first).to_be_visible()


def test_the_chosen_level_is_sent_and_shown_in_the_stored_entries(lab: Lab, page: Page) -> None:
    page.goto(lab.url("frontend"))
    expect(page.get_by_test_id("logs-status")).to_have_attribute("data-state", "live")

    for level, button in (("WARNING", "btn-grpc"), ("ERROR", "btn-rabbitmq")):
        page.get_by_test_id("log-level").select_option(level)
        page.get_by_test_id(button).click()
        expect(page.get_by_test_id("received-meta")).to_contain_text("202")
        assert json.loads(page.get_by_test_id("pane-sent").inner_text())["log"]["level"] == level
        event_id = json.loads(page.get_by_test_id("pane-received").inner_text())["data"]["event_id"]
        row = page.locator(f'[data-testid="log-row"][data-level="{level}"]').first
        expect(row.locator(".level")).to_have_text(level, timeout=15_000)
        stored = requests.get(lab.broker + "/logs", params={"limit": 5, "level": level}, timeout=5).json()
        assert event_id in [entry["event_id"] for entry in stored["data"]]


def test_an_error_is_shown_plainly(lab: Lab, page: Page) -> None:
    page.goto(lab.url("frontend"))
    lab.stop("mail")
    try:
        page.get_by_test_id("btn-mail").click()
        line = page.locator('[data-testid="output-line"][data-action="mail"]').last
        expect(line).to_have_attribute("data-status", "503")
        expect(line).to_contain_text("mail service is unavailable")
        expect(page.get_by_test_id("pane-received")).to_contain_text("mail service is unavailable")
    finally:
        lab.start("mail")

"""The API reference in a real browser: opened from the test page, Swagger UI (the npm package's own
files, served by the front-end) shows the broker's OpenAPI document and "Try it out" reaches the broker."""

from __future__ import annotations

from pathlib import Path

import requests
from playwright.sync_api import Page, expect

from labtest import Lab, eventually


def test_the_api_reference_opens_from_the_test_page_and_tries_a_request(
    lab: Lab, page: Page, artifacts: Path
) -> None:
    page.goto(lab.url("frontend"))
    page.get_by_test_id("link-api-reference").click()
    expect(page).to_have_url(lab.url("frontend") + "/api-reference")

    handle = page.locator("#operations-broker-post_handle")
    expect(handle).to_be_visible(timeout=15_000)
    handle.locator(".opblock-summary").click()
    handle.locator(".try-out__btn").click()
    handle.locator(".execute").click()

    answer = handle.locator(".live-responses-table .response")
    expect(answer.locator(".response-col_status")).to_have_text("202", timeout=15_000)
    expect(answer.locator(".response-col_description")).to_contain_text("logged via")
    page.screenshot(path=str(artifacts / "api-reference.png"), full_page=False)

    # The event the page sent (the document's example body) arrives in the store.
    eventually(
        lambda: requests.get(lab.broker + "/logs", params={"limit": 50}, timeout=5).json()["data"],
        lambda entries: any(entry["data"] == "sent from the API reference" for entry in entries),
    )

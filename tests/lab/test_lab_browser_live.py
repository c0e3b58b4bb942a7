"""The test page's "Transports, live" panel in headless Chromium, fed by a real Prometheus scraping the
lab: after a burst over each transport it draws a rate for every one of them."""

from __future__ import annotations

import re
from pathlib import Path

import requests
from playwright.sync_api import Page, expect

from labtest import Lab

TRANSPORTS = ("rabbitmq", "rpc", "grpc", "http")
A_RATE = re.compile(r"^[1-9][\d,.]*$|^0[.,]\d*[1-9]")


def test_the_live_panel_draws_a_rate_for_each_transport_after_a_burst(
    page: Page, lab: Lab, prometheus: str, artifacts: Path
) -> None:
    page.goto(lab.url("frontend"))
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live", timeout=20_000)
    # Prometheus has scraped each counter at least twice: a rate (0 for now) is drawn for every transport.
    for transport in TRANSPORTS:
        row = page.locator(f'[data-testid="live-row"][data-transport="{transport}"]')
        expect(row.get_by_test_id("live-accepted")).not_to_have_text("—", timeout=30_000)
    for transport in TRANSPORTS:
        for i in range(20):
            body = {"action": "log", "log": {"name": "live-panel", "data": str(i)}, "transport": transport}
            assert requests.post(f"{lab.broker}/handle", json=body, timeout=10).status_code == 202
    for transport in TRANSPORTS:
        row = page.locator(f'[data-testid="live-row"][data-transport="{transport}"]')
        expect(row.get_by_test_id("live-accepted")).to_have_text(A_RATE, timeout=30_000)
        expect(row.get_by_test_id("live-stored")).to_have_text(A_RATE, timeout=30_000)
        expect(row.get_by_test_id("live-p50")).not_to_have_text("—")
    expect(page.locator('#live-chart path.live-line[data-transport="rabbitmq"]').first).to_be_attached()
    page.get_by_test_id("live").screenshot(path=str(artifacts / "live-panel.png"))

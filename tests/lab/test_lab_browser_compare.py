"""The test page's "Compare transports" panel in Chromium against the running lab.

A small benchmark is run from the panel: the broker runs the load and streams its progress; the page
must show a progress bar for every path and transport (and the broker's mail and auth actions), then
both charts and the table, with every event stored once and every mail and login answered. A screenshot
of the panel is kept with the run's artifacts.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from labtest import Lab

PATHS = ("broker", "direct")
TRANSPORTS = ("rabbitmq", "rpc", "grpc", "http")
ACTIONS = ("mail", "auth")
ROWS = len(PATHS) * len(TRANSPORTS) + len(ACTIONS)
N = 20


def test_a_benchmark_run_from_the_panel_shows_progress_charts_and_table(
    lab: Lab, page: Page, artifacts: Path
) -> None:
    page.goto(lab.url("frontend"))
    page.get_by_test_id("bench-n").fill(str(N))
    page.get_by_test_id("bench-concurrency").fill("4")
    run = page.get_by_test_id("btn-bench")
    run.click()
    expect(run).to_be_disabled()
    expect(page.get_by_test_id("bench-progress-row")).to_have_count(ROWS)

    status = page.get_by_test_id("bench-status")
    expect(status).to_have_attribute("data-state", "done", timeout=120_000)
    expect(status).to_contain_text("done in")
    expect(run).to_be_enabled()
    expect(page.get_by_test_id("bench-error")).to_be_hidden()
    expect(page.get_by_test_id("bench-summary")).to_contain_text(f"{N} events per transport and path")
    expect(page.get_by_test_id("bench-row")).to_have_count(ROWS)
    expect(page.get_by_test_id("bench-summary")).to_contain_text(f"{N} logins")

    throughput = page.get_by_test_id("bench-throughput-chart")
    latency = page.get_by_test_id("bench-latency-chart")
    expect(throughput.locator("title").first).to_have_text("Throughput per transport")
    expect(latency.locator("title").first).to_have_text("Latency percentiles per transport")
    for path in PATHS:
        for transport in TRANSPORTS:
            where = f'[data-path="{path}"][data-transport="{transport}"]'
            row = page.locator(f'[data-testid="bench-row"]{where}')
            expect(row.locator('[data-field="sent"]')).to_have_text(str(N))
            expect(row.locator('[data-field="stored"]')).to_have_text(str(N))
            expect(row.locator('[data-field="duplicates"]')).to_have_text("0")
            # The lab's CPU per stored event, read from /proc, with the broker and the logger in it.
            cpu = row.locator('[data-field="cpu_ms_per_event"]')
            expect(cpu).to_have_text(re.compile(r"^\d+\.\d+$"))
            expect(cpu).to_have_attribute("title", re.compile(r"broker: .*logger: ", re.DOTALL))
            expect(page.locator(f'[data-testid="bench-progress-row"]{where}')).to_have_attribute(
                "data-state", "done"
            )
            expect(throughput.locator(f'[data-testid="throughput-bar"]{where}')).to_have_count(1)
            for kind in ("accept", "deliver"):
                bars = latency.locator(f'[data-testid="latency-bar"]{where}[data-kind="{kind}"]')
                expect(bars).to_have_count(3)

    for action in ACTIONS:
        where = f'[data-path="broker"][data-transport="{action}"]'
        row = page.locator(f'[data-testid="bench-row"]{where}')
        # Measured by the replies: every one answered; what arrived is not the broker's to count.
        expect(row.locator('[data-field="sent"]')).to_have_text(str(N))
        expect(row.locator('[data-field="accepted"]')).to_have_text(str(N))
        expect(row.locator('[data-field="stored"]')).to_have_text("—")
        expect(row.locator('[data-field="accepted"]')).not_to_have_class(re.compile("is-bad"))
        expect(row.locator('[data-field="cpu_ms_per_event"]')).to_have_text(re.compile(r"^\d+(\.\d+)?$"))
        progress = page.locator(f'[data-testid="bench-progress-row"]{where}')
        expect(progress).to_have_attribute("data-state", "done")
        expect(progress).to_contain_text(f"{N} / {N} answered")

    panel = page.get_by_test_id("compare")
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(artifacts / "compare-panel.png"))


def test_a_setting_out_of_range_is_explained_and_nothing_is_sent(lab: Lab, page: Page) -> None:
    page.goto(lab.url("frontend"))
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url))
    page.get_by_test_id("bench-concurrency").fill("65")
    page.get_by_test_id("btn-bench").click()
    expect(page.get_by_test_id("bench-concurrency-error")).to_have_text("enter a whole number from 1 to 64")
    expect(page.get_by_test_id("bench-concurrency")).to_be_focused()
    expect(page.get_by_test_id("bench-status")).to_have_attribute("data-state", "idle")
    assert [url for url in sent if url.endswith("/bench")] == []

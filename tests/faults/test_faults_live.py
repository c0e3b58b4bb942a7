"""The test page's "Transports, live" panel while a fault lasts, over the private lab: its RabbitMQ node
has rabbitmq_prometheus on (as every node the lab starts itself) and a Prometheus of its own scrapes it.

With the listener stopped the `logs` queue rises by every event sent, and it drains to zero once the
listener is back, in the broker's GET /metrics/live (what the panel reads) and on the page; with
Prometheus down the panel says plainly that metrics are unavailable, and the rest of the page works on.
"""

from __future__ import annotations

from typing import Any

import requests
from faultlab import FaultLab, Server, assert_stored_once, send_many
from playwright.sync_api import Page, expect
from pymongo.collection import Collection

from labkit.amqp import QUEUE
from labtest import eventually

# Events sent while the listener is stopped: enough to see, few enough to stay quick.
WAITING = 40
# Prometheus scrapes every 2 s; RabbitMQ refreshes a queue's numbers every 5 s.
SEEN = 30


def live(fault_lab: FaultLab) -> dict[str, Any]:
    """The broker's GET /metrics/live, as the panel reads it."""
    response = requests.get(fault_lab.broker + "/metrics/live", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def queue_curve(data: dict[str, Any]) -> list[float]:
    """The `logs` queue's depth over the panel's window, oldest first (empty until RabbitMQ was scraped)."""
    series = [item for item in data["series"]["queue"] if item["queue"] == QUEUE]
    return [value for _, value in series[0]["points"] if value is not None] if series else []


def depth_is(depth: int) -> Any:
    return lambda data: data["rabbitmq_metrics"] and queue_curve(data)[-1:] == [depth]


def test_the_queue_rises_while_the_listener_is_stopped_and_drains_to_zero_once_it_is_back(
    fault_lab: FaultLab, private_prometheus: Server, logs: Collection, page: Page
) -> None:
    page.goto(fault_lab.url("frontend"))
    queue_line = page.get_by_test_id("live-queue")
    expect(queue_line).to_have_attribute("data-state", "on", timeout=SEEN * 1000)
    eventually(lambda: live(fault_lab), depth_is(0), timeout=SEEN)
    expect(queue_line).to_contain_text("RabbitMQ queue logs: 0 messages", timeout=SEEN * 1000)

    with fault_lab.down("listener"):
        events = send_many(fault_lab, "live-queue", WAITING)
        assert [event.status for event in events] == [202] * WAITING, "RabbitMQ takes them without a listener"
        risen = queue_curve(eventually(lambda: live(fault_lab), depth_is(WAITING), timeout=SEEN))
        expect(queue_line).to_contain_text(f"RabbitMQ queue logs: {WAITING} messages", timeout=SEEN * 1000)
        assert 0 in risen[: risen.index(WAITING)], f"the curve rose from 0 to {WAITING}: {risen}"

    drained = queue_curve(eventually(lambda: live(fault_lab), depth_is(0), timeout=SEEN))
    expect(queue_line).to_contain_text("RabbitMQ queue logs: 0 messages", timeout=SEEN * 1000)
    assert WAITING in drained, f"the curve fell from {WAITING} to 0: {drained}"
    assert_stored_once(logs, events, transport="rabbitmq")


def test_with_prometheus_down_the_panel_says_metrics_are_unavailable_and_the_page_works_on(
    fault_lab: FaultLab, private_prometheus: Server, page: Page
) -> None:
    page.goto(fault_lab.url("frontend"))
    status = page.get_by_test_id("live-status")
    expect(status).to_have_attribute("data-state", "live", timeout=SEEN * 1000)

    with private_prometheus.down():
        expect(status).to_have_attribute("data-state", "error", timeout=SEEN * 1000)
        expect(status).to_contain_text("metrics unavailable")
        expect(status).to_contain_text("Prometheus cannot be reached")
        page.get_by_test_id("btn-rabbitmq").click()
        line = page.locator('[data-testid="output-line"][data-action="log · rabbitmq"]').last
        expect(line).to_have_attribute("data-status", "202")
        expect(line.locator(".line-message")).to_contain_text("logged via rabbitmq")
        expect(page.get_by_test_id("logs-status")).to_have_attribute("data-state", "live")

    expect(status).to_have_attribute("data-state", "live", timeout=SEEN * 1000)

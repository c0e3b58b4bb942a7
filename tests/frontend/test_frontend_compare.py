"""The "Compare transports" panel as served: its form, regions, table and the script modules behind it."""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest
from flask.testing import FlaskClient
from frontend_markup import Page

from frontend import create_app
from frontend.config import Config

MODULES = ("/static/app.js", "/static/compare.js", "/static/charts.js", "/static/live.js")
COLUMNS = [
    "Path",
    "Transport",
    "Sent",
    "Accepted",
    "Stored",
    "Duplicates",
    "Throughput /s",
    "Accept ms",
    "Deliver ms",
    "CPU ms/event",
    "p50",
    "p95",
    "p99",
    "p50",
    "p95",
    "p99",
]


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    return create_app(Config()).test_client()


@pytest.fixture(scope="module")
def page(client: FlaskClient) -> Page:
    return Page(client.get("/").text)


class Setting(NamedTuple):
    name: str
    label: str
    default: str
    low: str
    high: str


SETTINGS = [
    Setting("n", "Events per transport (N)", "200", "1", "10000"),
    Setting("concurrency", "Concurrent clients", "8", "1", "64"),
]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_each_setting_is_a_labelled_whole_number_input_with_its_range(page: Page, setting: Setting) -> None:
    field_id = f"bench-{setting.name}"
    field = page.by_id(field_id)
    assert (field.tag, field.attrs["type"], field.attrs["data-testid"]) == ("input", "number", field_id)
    attrs = field.attrs
    assert (attrs["value"], attrs["min"], attrs["max"], attrs["step"]) == (*setting[2:], "1")
    assert "required" in attrs
    (label,) = [e for e in page.all("label") if e.attrs.get("for") == field_id]
    assert label.text == setting.label
    assert f"{field_id}-error" in attrs["aria-describedby"].split()
    assert page.by_id(f"{field_id}-error").attrs["data-testid"] == f"{field_id}-error"


def test_the_run_button_submits_the_form_and_the_browser_leaves_checking_to_the_script(page: Page) -> None:
    form = page.by_id("bench-form")
    assert "novalidate" in form.attrs
    button = page.by_id("btn-bench")
    assert (button.tag, button.attrs["type"], button.text) == ("button", "submit", "Run benchmark")
    assert button.attrs["data-testid"] == "btn-bench"
    assert page.elements.index(form) < page.elements.index(button)


def test_status_error_progress_and_results_start_idle_and_hidden(page: Page) -> None:
    status = page.by_id("bench-status")
    assert (status.attrs["role"], status.attrs["data-state"]) == ("status", "idle")
    assert page.by_id("bench-error").attrs["role"] == "alert"
    for region in ("bench-error", "bench-progress", "bench-results"):
        assert "hidden" in page.by_id(region).attrs, region
    for testid in (
        "compare",
        "bench-summary",
        "bench-throughput",
        "bench-latency",
        "bench-table",
        "bench-rows",
    ):
        assert len(page.by_testid(testid)) == 1, testid
    assert page.by_id("bench-throughput").tag == page.by_id("bench-latency").tag == "figure"


def test_the_results_table_has_every_measured_column(page: Page) -> None:
    (table,) = page.by_testid("bench-table")
    head = page.elements[page.elements.index(table) : page.elements.index(page.by_id("bench-rows"))]
    assert [element.text for element in head if element.tag == "th"] == COLUMNS


def test_the_panel_scripts_are_modules_from_this_origin(client: FlaskClient) -> None:
    sources = {}
    for path in MODULES:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "javascript" in response.mimetype
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        sources[path] = response.get_data(as_text=True)
    assert 'from "./compare.js"' in sources["/static/app.js"]
    assert 'from "./charts.js"' in sources["/static/compare.js"]
    imports = re.findall(r'^import [^;]* from "([^"]+)";$', "\n".join(sources.values()), re.MULTILINE)
    assert sorted(imports) == ["./charts.js", "./charts.js", "./compare.js", "./live.js"]


def test_the_panel_scripts_write_text_only_and_set_no_inline_style(client: FlaskClient) -> None:
    unsafe = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\.style\b|\"style\"|eval\(")
    for path in MODULES:
        source = client.get(path).get_data(as_text=True)
        assert unsafe.findall(source) == [], path
    charts = client.get("/static/charts.js").get_data(as_text=True)
    assert "createElementNS(SVG_NS, tag)" in charts
    assert "getContext" not in charts

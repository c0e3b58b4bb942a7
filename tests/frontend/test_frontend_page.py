"""The test page as the browser receives it, with the Flask test client: markup, config, headers, files."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from frontend_markup import Page

from frontend import create_app
from frontend.config import Config

BUTTONS = ("btn-broker", "btn-auth", "btn-rabbitmq", "btn-rpc", "btn-grpc", "btn-http", "btn-mail")
PANES = ("pane-sent", "pane-received", "output", "logs", "logs-status")


def client(**settings: str) -> FlaskClient:
    return create_app(Config(**settings)).test_client()


def page_config(page: Page) -> dict[str, str]:
    (blob,) = [script for script in page.all("script") if script.attrs.get("id") == "lab-config"]
    assert blob.attrs["type"] == "application/json"
    return json.loads(blob.text)


def csp(headers: dict[str, str]) -> dict[str, list[str]]:
    directives = (part.split() for part in headers["Content-Security-Policy"].split(";") if part.strip())
    return {name: sources for name, *sources in directives}


@pytest.fixture(scope="module")
def default_client() -> FlaskClient:
    return client()


def test_the_page_has_every_button_and_pane(default_client: FlaskClient) -> None:
    response = default_client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = Page(response.get_data(as_text=True))
    assert page.all("title")[0].text == "Microservices in Python — test page"
    for testid in BUTTONS:
        (button,) = page.by_testid(testid)
        assert button.tag == "button"
        assert button.attrs["id"] == testid
    for testid in PANES:
        assert len(page.by_testid(testid)) == 1, testid


def test_the_config_blob_carries_the_broker_and_mail_urls() -> None:
    page = Page(client(broker_url="http://broker.lab:9080", mail_ui_url="http://mail.lab:9025").get("/").text)
    assert page_config(page) == {"brokerUrl": "http://broker.lab:9080", "mailUiUrl": "http://mail.lab:9025"}
    (mail_link,) = page.by_testid("link-mail")
    assert mail_link.attrs["href"] == "http://mail.lab:9025"


def test_the_rabbitmq_link_is_shown_only_when_configured(default_client: FlaskClient) -> None:
    assert Page(default_client.get("/").text).by_testid("link-rabbitmq") == []
    page = Page(client(rabbitmq_ui_url="http://127.0.0.1:15672").get("/").text)
    (link,) = page.by_testid("link-rabbitmq")
    assert link.attrs["href"] == "http://127.0.0.1:15672"
    assert link.attrs["rel"] == "noopener noreferrer"


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [
        ("/static/app.js", "javascript"),
        ("/static/app.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
    ],
)
def test_static_files_are_served_with_their_content_type(
    default_client: FlaskClient, path: str, mimetype: str
) -> None:
    response = default_client.get(path)
    assert response.status_code == 200
    assert mimetype in response.mimetype
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.data


def test_the_page_loads_only_its_own_static_files(default_client: FlaskClient) -> None:
    page = Page(default_client.get("/").text)
    loaded = [s.attrs["src"] for s in page.all("script") if "src" in s.attrs]
    loaded += [link.attrs["href"] for link in page.all("link")]
    assert sorted(loaded) == ["/static/app.css", "/static/app.js", "/static/favicon.svg"]
    for url in loaded:
        assert default_client.get(url).status_code == 200, url


def test_the_page_has_no_inline_script_or_style(default_client: FlaskClient) -> None:
    page = Page(default_client.get("/").text)
    for script in page.all("script"):
        assert "src" in script.attrs or script.attrs.get("type") == "application/json"
    assert page.all("style") == []
    assert not [element for element in page.elements if "style" in element.attrs]
    assert not [e for e in page.elements if any(name.startswith("on") for name in e.attrs)]


def test_the_csp_allows_own_scripts_and_fetches_to_the_broker_only() -> None:
    response = client(broker_url="https://broker.lab:9443/api").get("/")
    policy = csp(response.headers)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'", "https://broker.lab:9443"]
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_script_end_tag_in_a_url_cannot_break_out_of_the_config_blob() -> None:
    hostile = "http://x/</script><script>alert(1)</script>"
    html = client(broker_url=hostile).get("/").text
    page = Page(html)
    assert "<script>alert(1)" not in html
    assert len(page.all("script")) == 2
    assert page_config(page)["brokerUrl"] == hostile


def test_readiness_needs_nothing_but_the_page(default_client: FlaskClient) -> None:
    response = default_client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"error": False, "message": "ready", "data": {"static": True}}


def test_an_unknown_path_is_a_json_404(default_client: FlaskClient) -> None:
    response = default_client.get("/nope")
    assert response.status_code == 404
    assert response.get_json() == {"error": True, "message": "not found"}

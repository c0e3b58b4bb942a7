"""POST /send through the Flask test client to a real mail catcher: what arrives, and what never does."""

from __future__ import annotations

import socket
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from mailtest import Inbox

MAIL = {"to": "you@example.com", "subject": "Hello there", "message": "Hello <world> & friends\n\nBye."}


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_mail_arrives_as_plain_and_html_with_inline_css(client: FlaskClient, inbox: Inbox) -> None:
    response = client.post("/send", json=MAIL)

    assert response.status_code == 202
    assert response.get_json() == {"error": False, "message": "sent to you@example.com"}
    received = inbox.only()
    assert received["From"] == "John Smith <john.smith@example.com>"
    assert received["To"] == "you@example.com"
    assert received["Subject"] == "Hello there"
    assert received["Date"]
    assert received["Message-ID"].endswith("@localhost>")
    assert received.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in received.iter_parts()] == ["text/plain", "text/html"]

    plain = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "Hello <world> & friends" in plain
    assert "Hello &lt;world&gt; &amp; friends" in html
    assert 'style="' in html
    assert "<style" not in html


def test_the_envelope_and_headers_use_the_given_sender(client: FlaskClient, inbox: Inbox) -> None:
    response = client.post(
        "/send", json={**MAIL, "from": "Jane Doe <jane@example.org>", "to": "Bo <bo@example.com>"}
    )

    assert response.status_code == 202
    assert response.get_json()["message"] == "sent to Bo <bo@example.com>"
    item = inbox.items()[0]
    assert item["Raw"]["From"] == "jane@example.org"
    assert item["Raw"]["To"] == ["bo@example.com"]
    assert item["Content"]["Headers"]["From"] == ["Jane Doe <jane@example.org>"]


def test_the_ehlo_name_is_mail_domain(mail_client: Callable[..., FlaskClient], inbox: Inbox) -> None:
    response = mail_client(mail_domain="lab.example").post("/send", json=MAIL)

    assert response.status_code == 202
    item = inbox.items()[0]
    assert item["Raw"]["Helo"] == "lab.example"
    assert item["Content"]["Headers"]["Message-ID"][0].endswith("@lab.example>")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to", "you@example.com\r\nBcc: victim@example.com"),
        ("subject", "hi\nBcc: victim@example.com"),
        ("from", "me@example.com\r\nX-Evil: 1"),
        ("subject", "hi\rBcc: victim@example.com"),
    ],
)
def test_header_injection_is_a_400_and_nothing_is_sent(
    client: FlaskClient, inbox: Inbox, field: str, value: str
) -> None:
    response = client.post("/send", json={**MAIL, field: value})

    assert response.status_code == 400
    assert response.get_json() == {"error": True, "message": f"{field} must not contain line breaks"}
    assert inbox.items() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("to", "not-an-address"), ("to", "a@example.com, b@example.com"), ("from", "me@")],
)
def test_a_bad_address_is_a_400_and_nothing_is_sent(
    client: FlaskClient, inbox: Inbox, field: str, value: str
) -> None:
    response = client.post("/send", json={**MAIL, field: value})

    assert response.status_code == 400
    assert response.get_json() == {"error": True, "message": f"{field} is not a valid email address"}
    assert inbox.items() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "request body must be valid JSON"),
        (b"[1, 2]", "request body must be a JSON object"),
        (b'{"to": "you@example.com", "subject": "s"}', "message is required"),
    ],
)
def test_a_bad_body_is_a_400(client: FlaskClient, inbox: Inbox, body: bytes, message: str) -> None:
    response = client.post("/send", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.get_json() == {"error": True, "message": message}
    assert inbox.items() == []


def test_an_unreachable_mail_server_is_a_503(mail_client: Callable[..., FlaskClient]) -> None:
    response = mail_client(mail_port=closed_port()).post("/send", json=MAIL)

    assert response.status_code == 503
    assert response.get_json() == {"error": True, "message": "mail server is unavailable"}


def test_readiness_follows_the_mail_server(mail_client: Callable[..., FlaskClient]) -> None:
    ready = mail_client().get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["data"] == {"smtp": True}

    not_ready = mail_client(mail_port=closed_port()).get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.get_json() == {"error": True, "message": "not ready", "data": {"smtp": False}}

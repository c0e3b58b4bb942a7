"""Actions auth and mail through the broker, checked where a user would look: the reply, the users
table, the logger's store and the mail inbox."""

from __future__ import annotations

import email
import uuid
from email import policy

import pytest
import requests

from labtest import Lab, eventually

SEED = {"email": "admin@example.com", "password": "verysecret"}


def handle(lab: Lab, body: object) -> requests.Response:
    return requests.post(lab.broker + "/handle", json=body, timeout=15)


def test_the_seed_user_authenticates_and_the_login_is_logged(lab: Lab, logs_collection) -> None:
    """The login's own event is found by its correlation id: other tests' login events reach the store
    through the outbox whenever their relay publishes them, so a count of all of them proves nothing."""
    request_id = f"login-{uuid.uuid4().hex}"
    response = requests.post(
        lab.broker + "/handle",
        json={"action": "auth", "auth": SEED},
        headers={"X-Request-ID": request_id},
        timeout=15,
    )

    assert response.status_code == 202
    body = response.json()
    assert body["message"] == "Authenticated!"
    user = body["data"]
    assert (user["email"], user["first_name"], user["last_name"]) == ("admin@example.com", "Admin", "User")
    assert "password" not in user
    assert "$2b$" not in response.text
    stored = eventually(
        lambda: list(logs_collection.find({"request_id": request_id})), lambda found: len(found) >= 1
    )
    assert [(d["name"], d["data"], d["level"], d["transport"]) for d in stored] == [
        ("authentication", "admin@example.com logged in", "INFO", "rabbitmq")
    ]


@pytest.mark.parametrize(
    "credentials",
    [
        {"email": "admin@example.com", "password": "wrong"},
        {"email": "nobody@example.com", "password": "verysecret"},
        {"email": "' OR '1'='1", "password": "' OR '1'='1"},
        {"email": "admin@example.com'; DROP TABLE users; --", "password": "x"},
    ],
)
def test_bad_credentials_are_401_with_one_message(lab: Lab, users_db, credentials: dict) -> None:
    users_before = users_db.execute("SELECT id, email, password FROM users ORDER BY id").fetchall()
    response = handle(lab, {"action": "auth", "auth": credentials})
    assert response.status_code == 401
    assert response.json() == {"error": True, "message": "invalid credentials"}
    assert users_db.execute("SELECT id, email, password FROM users ORDER BY id").fetchall() == users_before


def test_auth_fields_are_validated(lab: Lab) -> None:
    response = handle(lab, {"action": "auth", "auth": {"email": "admin@example.com", "password": 5}})
    assert response.status_code == 400
    assert response.json() == {"error": True, "message": "password must be a string"}


def messages(api: str) -> list[dict]:
    return requests.get(f"{api}/api/v2/messages", timeout=5).json()["items"]


def test_mail_arrives_as_plain_and_html_with_inlined_css(lab: Lab, inbox: str) -> None:
    subject = f"Hello {uuid.uuid4().hex[:8]}"
    mail = {"to": "you@example.com", "subject": subject, "message": "Hello <world> & friends"}
    response = handle(lab, {"action": "mail", "mail": mail})

    assert response.status_code == 202
    assert response.json() == {"error": False, "message": "Message sent to you@example.com"}
    items = eventually(lambda: messages(inbox), lambda m: len(m) == 1)
    headers = items[0]["Content"]["Headers"]
    assert headers["Subject"] == [subject]
    assert headers["To"] == ["you@example.com"]
    assert headers["From"] == ["John Smith <john.smith@example.com>"]

    received = email.message_from_string(items[0]["Raw"]["Data"], policy=policy.default)
    assert received.get_content_type() == "multipart/alternative"
    plain = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "Hello <world> & friends" in plain
    assert "Hello &lt;world&gt; &amp; friends" in html
    assert 'style="' in html, "the template's CSS is inlined into style attributes"


@pytest.mark.parametrize(
    ("mail", "message"),
    [
        ({"to": "you@example.com\r\nBcc: victim@example.com", "subject": "s", "message": "m"}, "to"),
        ({"to": "you@example.com", "subject": "hi\nBcc: victim@example.com", "message": "m"}, "subject"),
        (
            {"from": "me@example.com\r\nX-Evil: 1", "to": "you@example.com", "subject": "s", "message": "m"},
            "from",
        ),
    ],
)
def test_header_injection_is_a_400_and_nothing_is_sent(
    lab: Lab, inbox: str, mail: dict, message: str
) -> None:
    response = handle(lab, {"action": "mail", "mail": mail})
    assert response.status_code == 400
    assert response.json() == {"error": True, "message": f"{message} must not contain line breaks"}
    assert messages(inbox) == []


def test_a_bad_address_is_a_400_and_nothing_is_sent(lab: Lab, inbox: str) -> None:
    response = handle(
        lab, {"action": "mail", "mail": {"to": "not-an-address", "subject": "s", "message": "m"}}
    )
    assert response.status_code == 400
    assert response.json() == {"error": True, "message": "to is not a valid email address"}
    assert messages(inbox) == []

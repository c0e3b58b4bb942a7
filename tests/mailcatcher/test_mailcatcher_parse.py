"""MailHog-style parsing of raw messages, and the store's bounds (pure functions, no servers)."""

from __future__ import annotations

from mailcatcher.mailhog import content_json, message_json, mime_json, path_json
from mailcatcher.store import Caught, MessageStore

NESTED = (
    "Subject: a long\r\n"
    "  folded subject\r\n"
    "X-Twice: one\r\n"
    "X-Twice: two\r\n"
    'Content-Type: multipart/mixed; boundary="outer"\r\n'
    "\r\n"
    "preamble\r\n"
    "--outer\r\n"
    'Content-Type: multipart/alternative; boundary="inner"\r\n'
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "\r\n"
    "<p>html</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: text/csv\r\n"
    "\r\n"
    "a,b\r\n"
    "--outer--\r\n"
)


def caught(data: str, mail_from: str = "a@example.com") -> Caught:
    return Caught.received(mail_from, ["b@example.com"], data.encode(), "client.example", "test.example")


def test_headers_keep_folded_lines_and_repeats() -> None:
    headers = content_json(NESTED)["Headers"]
    assert headers["Subject"] == ["a long  folded subject"]
    assert headers["X-Twice"] == ["one", "two"]


def test_nested_multipart_parts_are_parsed() -> None:
    content = content_json(NESTED)
    assert content["MIME"] is None, "MailHog leaves Content.MIME empty and fills the top-level MIME"

    mime = mime_json(content)
    assert mime is not None
    alternative, csv = mime["Parts"]
    assert csv["Headers"] == {"Content-Type": ["text/csv"]}
    assert csv["Body"] == "a,b"
    assert [part["Body"] for part in alternative["MIME"]["Parts"]] == ["plain", "<p>html</p>"]


def test_a_message_without_headers_is_all_body() -> None:
    content = content_json("no headers here")
    assert (content["Headers"], content["Body"], content["Size"]) == ({}, "no headers here", 15)


def test_paths_split_like_mailhog() -> None:
    assert path_json("user@example.com") == {
        "Relays": None,
        "Mailbox": "user",
        "Domain": "example.com",
        "Params": "",
    }
    assert path_json("@relay.one,@relay.two:user@example.com")["Relays"] == ["@relay.one", "@relay.two"]
    assert path_json("") == {"Relays": None, "Mailbox": "", "Domain": "", "Params": ""}


def test_message_json_has_the_envelope_and_raw_data() -> None:
    message = caught("Subject: hi\r\n\r\nbody\r\n", mail_from="")
    body = message_json(message)
    assert body["ID"] == message.id
    assert body["ID"].endswith("@test.example")
    assert body["Raw"] == {
        "From": "",
        "To": ["b@example.com"],
        "Data": "Subject: hi\r\n\r\nbody\r\n",
        "Helo": "client.example",
    }
    assert body["Content"]["Headers"]["Return-Path"] == ["<>"]
    assert body["Created"].endswith("Z")


def test_the_store_keeps_the_newest_up_to_its_capacity() -> None:
    store = MessageStore(capacity=2)
    first, second, third = (caught(f"Subject: {n}\r\n\r\n") for n in range(3))
    for message in (first, second, third):
        store.add(message)

    assert store.page(0, 10) == (2, [third, second])
    assert store.get(first.id) is None
    assert store.get(second.id) == second
    store.clear()
    assert store.page(0, 10) == (0, [])

"""Hostile input to the authentication service's POST /authenticate, through the real process: the
contract's answer, the users table untouched, still serving, nothing internal in the reply."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hostile_support import (
    MARK,
    MIB,
    NOT_JSON,
    NOT_OBJECT,
    ODD_TEXT,
    TOO_DEEP,
    TOO_LARGE,
    Case,
    as_json,
    assert_envelope,
    cases,
    nested,
    send,
)

from labtest import Lab

EMAIL = f"{MARK}@example.com"
WRONG = "not-the-password"
INVALID = "invalid credentials"


def login(email: object = EMAIL, password: object = WRONG, **extra: object) -> str:
    return as_json({"email": email, "password": password, **extra})


REJECTED = cases(
    Case("empty", b"", 400, NOT_JSON),
    Case("malformed", "{email: admin}", 400, NOT_JSON),
    Case("truncated", login()[:-2], 400, NOT_JSON),
    Case("single-quotes", "{'email': 'a', 'password': 'b'}", 400, NOT_JSON),
    Case("not-utf8", b'{"email": "\xff\xfe", "password": "x"}', 400, NOT_JSON),
    Case("lone-surrogate", '{"email": "\\udfff", "password": "x"}', 400, NOT_JSON),
    Case("infinity", '{"email": "a@example.com", "password": Infinity}', 400, NOT_JSON),
    Case("array", as_json([EMAIL, "secret"]), 400, NOT_OBJECT),
    Case("string", as_json(EMAIL), 400, NOT_OBJECT),
    Case("null", "null", 400, NOT_OBJECT),
    Case("deeply-nested", nested(5000), 400, TOO_DEEP),
    Case("no-email", as_json({"password": "secret"}), 400, "email is required"),
    Case("no-password", as_json({"email": EMAIL}), 400, "password is required"),
    Case("null-password", login(password=None), 400, "password is required"),
    Case("empty-email", login(email=""), 400, "email must not be empty"),
    Case("blank-password", login(password="  "), 400, "password must not be empty"),
    Case("email-number", login(email=7), 400, "email must be a string"),
    Case("email-list", login(email=[EMAIL]), 400, "email must be a string"),
    Case("email-operator", login(email={"$ne": None}), 400, "email must be a string"),
    Case("password-bool", login(password=True), 400, "password must be a string"),
    Case("password-object", login(password={"$gt": ""}), 400, "password must be a string"),
    Case("over-1mib", login(password="x" * MIB), 413, TOO_LARGE),
    Case("sql-or", login(email="' OR '1'='1' --", password="' OR '1'='1"), 401, INVALID),
    Case("sql-drop", login(email=f"{EMAIL}'; DROP TABLE users; --"), 401, INVALID),
    Case("sql-union", login(email=f"x' UNION SELECT * FROM users --{MARK}"), 401, INVALID),  # noqa: S608
    Case("sql-like-wildcards", login(email="%@%", password="verysecret"), 401, INVALID),
    Case("sql-comment-in-password", login(password="verysecret' --"), 401, INVALID),
    Case("nul-email", login(email=f"{EMAIL}\u0000"), 401, INVALID),
    Case("nul-password", login(password="verysecret\u0000"), 401, INVALID),
    Case("bidi-email", login(email=f"\u202e{EMAIL}"), 401, INVALID),
    Case("homoglyph-email", login(email=f"\u0430dmin@example.com{MARK}"), 401, INVALID),
    Case("emoji-password", login(password=ODD_TEXT["emoji"]), 401, INVALID),
    Case("huge-email", login(email=MARK + "a" * (MIB // 2)), 401, INVALID),
    Case("huge-password", login(password="p" * (MIB // 2)), 401, INVALID),
    Case("get", None, 405, "method not allowed", "GET", "/authenticate"),
    Case("unknown-path", login(), 404, "not found", path="/users"),
    Case("admin-path", login(), 404, "not found", path="/authenticate/admin"),
)


@pytest.mark.parametrize("case", REJECTED)
def test_hostile_login_gets_the_contract_answer_and_changes_nothing(
    lab: Lab, untouched, still_serving: Callable[[str], None], case: Case
) -> None:
    assert_envelope(send(lab.url("authentication"), case, "/authenticate"), case.status, case.message)
    untouched.check()
    still_serving("authentication")


ACCEPTED = cases(
    Case(
        "unknown-fields",
        as_json(
            {
                "email": "admin@example.com",
                "password": "verysecret",
                "user_active": 0,
                "first_name": MARK,
                "id": 999,
                "role": "admin",
            }
        ),
        202,
        "Logged in user admin@example.com",
    ),
    Case(
        "padded-email",
        login(email="  admin@example.com\t", password="verysecret"),
        202,
        "Logged in user admin@example.com",
    ),
    Case(
        "text-plain",
        login(email="admin@example.com", password="verysecret"),
        202,
        "Logged in user admin@example.com",
        headers={"Content-Type": "text/plain"},
    ),
)


@pytest.mark.parametrize("case", ACCEPTED)
def test_unknown_fields_and_content_types_are_ignored(lab: Lab, untouched, case: Case) -> None:
    body = assert_envelope(send(lab.url("authentication"), case, "/authenticate"), case.status, case.message)

    user = body["data"]
    assert (user["email"], user["first_name"], user["user_active"]) == ("admin@example.com", "Admin", 1)
    assert "password" not in user
    untouched.check()

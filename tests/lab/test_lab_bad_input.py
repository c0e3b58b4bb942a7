"""Bad input through the real broker: the contract's status and message, and nothing stored."""

from __future__ import annotations

import uuid

import pytest
import requests

from labtest import Lab

MARK = f"bad-{uuid.uuid4().hex}"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ("{oops", 400, "request body must be valid JSON"),
        (f'["action", "log", "{MARK}"]', 400, "request body must be a JSON object"),
        (f'{{"action": "log", "log": {{"name": 1, "data": "{MARK}"}}}}', 400, "log.name must be a string"),
        (f'{{"action": "log", "log": {{"name": "", "data": "{MARK}"}}}}', 400, "log.name must not be empty"),
        (f'{{"action": "log", "log": {{"data": "{MARK}"}}}}', 400, "log.name is required"),
        (
            f'{{"action": "shout", "log": {{"name": "n", "data": "{MARK}"}}}}',
            400,
            "unknown action 'shout': use auth, log or mail",
        ),
        (
            f'{{"action": "log", "log": {{"name": "n", "data": "{MARK}"}}, "transport": "smoke"}}',
            400,
            "unknown transport 'smoke': use rabbitmq, rpc, grpc, http",
        ),
        (
            f'{{"action": "log", "log": {{"name": "n", "data": "{MARK}' + "x" * (1024 * 1024) + '"}}',
            413,
            "request body is larger than 1 MiB",
        ),
    ],
)
def test_bad_input_gets_the_contract_answer_and_stores_nothing(
    lab: Lab, logs_collection, body: str, status: int, message: str
) -> None:
    response = requests.post(
        lab.broker + "/handle", data=body, headers={"Content-Type": "application/json"}, timeout=15
    )
    assert response.status_code == status
    assert response.json() == {"error": True, "message": message}
    assert "Traceback" not in response.text
    marker = {"action": "log", "log": {"name": "marker", "data": uuid.uuid4().hex}, "transport": "rabbitmq"}
    assert requests.post(lab.broker + "/handle", json=marker, timeout=15).status_code == 202
    assert logs_collection.count_documents({"data": {"$regex": f"^{MARK}"}}) == 0

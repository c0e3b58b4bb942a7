"""Every HTTP service's OpenAPI document, on the running lab: a valid OpenAPI 3.1 document, in step with
the routes the service really has, and fuzzed by schemathesis.

schemathesis generates requests from each document (valid ones and, in its coverage phase, boundary and
invalid ones) for every operation, sends them to the running service, and checks every answer: no 5xx
(not_a_server_error), the body fits the documented schema (response_schema_conformance), the status is
one the document lists for that operation (status_code_conformance) and so is the content type
(content_type_conformance). A failure is a defect of the service or of its document: fix that one.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from labtest import Lab

SERVICES = ("broker", "authentication", "logger", "mail", "listener", "frontend")
CHECKS = [
    schemathesis.checks.not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
# Generated examples per operation (schemathesis' coverage phase adds its boundary cases to these): enough
# to reach every documented status, few enough for the suite's time.
EXAMPLES = 25
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
# A generated benchmark runs this many events per path (and logins) at most, so each one takes a second,
# not minutes.
BENCH_EVENTS = 3


def document(lab: Lab, service: str) -> dict[str, Any]:
    response = requests.get(lab.url(service) + "/openapi.json", timeout=5)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_publishes_a_valid_openapi_31_document(lab: Lab, service: str) -> None:
    spec = document(lab, service)
    assert spec["openapi"] == "3.1.0"
    validate(spec)
    assert spec["info"]["title"] == ("front-end" if service == "frontend" else service)
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "413" in responses, f"{method} {path}: every route refuses a body over 1 MiB"
            for status, response in responses.items():
                assert response["headers"]["X-Request-ID"] == {"$ref": "#/components/headers/X-Request-ID"}, (
                    status
                )


def test_the_broker_document_states_the_contract_rules(lab: Lab) -> None:
    spec = document(lab, "broker")
    event = spec["components"]["schemas"]["LogEvent"]
    assert event["required"] == ["name", "data"]
    assert event["properties"]["event_id"]["anyOf"][0]["maxLength"] == 128
    assert event["properties"]["level"]["anyOf"][0] == {"enum": ["INFO", "WARNING", "ERROR"]}
    handle = spec["paths"]["/handle"]["post"]
    (log_action,) = [
        s
        for s in handle["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
        if s["properties"]["action"] == {"const": "log"}
    ]
    assert log_action["properties"]["transport"]["enum"] == ["rabbitmq", "rpc", "grpc", "http", None]
    assert "1048576 bytes" in handle["requestBody"]["description"]
    assert set(handle["responses"]) >= {"202", "400", "401", "413", "429", "502", "503", "504"}
    assert handle["responses"]["429"]["headers"]["Retry-After"] == {
        "$ref": "#/components/headers/Retry-After"
    }


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_is_in_the_document_and_every_operation_answers(lab: Lab, service: str) -> None:
    """Each documented operation exists (never 404 or 405 on its path and method), and an undocumented
    method on a documented path is a 405: the document and the app list the same routes. The Flask apps'
    own URL maps are compared with their documents in tests/labkit/test_labkit_openapi.py."""
    spec = document(lab, service)
    for path, operations in spec["paths"].items():
        concrete = path.replace("{entry_id}", "000000000000000000000000").replace("{filename}", "x")
        for method in ("get", "post", "put", "delete", "patch"):
            answer = requests.request(method, lab.url(service) + concrete, timeout=30, json={})
            if method in operations:
                assert answer.status_code != 405, f"{method} {path} is documented but not routed"
                if "{" not in path:
                    assert answer.status_code != 404, f"{method} {path} is documented but not routed"
            else:
                assert answer.status_code == 405, (
                    f"{method} {path} answers {answer.status_code}, undocumented"
                )


def _api(service: str) -> Any:
    name = f"{service}_api"

    @pytest.fixture(name=name)
    def loaded(lab: Lab) -> Any:
        return schemathesis.openapi.from_dict(document(lab, service))

    return loaded


broker_api = _api("broker")
authentication_api = _api("authentication")
logger_api = _api("logger")
mail_api = _api("mail")
listener_api = _api("listener")
frontend_api = _api("frontend")


def fuzz(case: Any, lab: Lab, service: str) -> None:
    if case.path == "/bench" and isinstance(case.body, dict):
        for field in ("n", "auth_n"):
            if isinstance(case.body.get(field), int):
                case.body[field] = min(case.body[field], BENCH_EVENTS)
    case.call_and_validate(base_url=lab.url(service), checks=CHECKS, timeout=60)


@schemathesis.pytest.from_fixture("broker_api").parametrize()
@FUZZ
def test_fuzz_broker(case: Any, lab: Lab, prometheus: str) -> None:
    """With Prometheus running, as in `make run`, so GET /metrics/live has what it reads."""
    fuzz(case, lab, "broker")


@schemathesis.pytest.from_fixture("authentication_api").parametrize()
@FUZZ
def test_fuzz_authentication(case: Any, lab: Lab) -> None:
    fuzz(case, lab, "authentication")


@schemathesis.pytest.from_fixture("logger_api").parametrize()
@FUZZ
def test_fuzz_logger(case: Any, lab: Lab) -> None:
    fuzz(case, lab, "logger")


@schemathesis.pytest.from_fixture("mail_api").parametrize()
@FUZZ
def test_fuzz_mail(case: Any, lab: Lab) -> None:
    fuzz(case, lab, "mail")


@schemathesis.pytest.from_fixture("listener_api").parametrize()
@FUZZ
def test_fuzz_listener(case: Any, lab: Lab) -> None:
    fuzz(case, lab, "listener")


@schemathesis.pytest.from_fixture("frontend_api").parametrize()
@FUZZ
def test_fuzz_frontend(case: Any, lab: Lab) -> None:
    fuzz(case, lab, "frontend")

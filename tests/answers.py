"""Every answer the tests receive from the lab's broker over `requests` is checked against the broker's
own OpenAPI document (with openapi-core), so the document is held to what the broker really answers,
not only to what a fuzzer tries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound


class BrokerAnswers:
    def __init__(self, base_url: str) -> None:
        document = requests.get(f"{base_url}/openapi.json", timeout=10).json()
        self.base_url = base_url
        self.openapi = OpenAPI.from_dict({**document, "servers": [{"url": base_url}]})
        self.checked = 0

    def check(self, response: requests.Response) -> None:
        """Fail the test that received an answer its operation does not document. Routes the document
        does not have (which the hostile tests probe on purpose) have nothing to be checked against."""
        if not response.url.startswith(self.base_url + "/"):
            return
        try:
            self.openapi.validate_response(
                RequestsOpenAPIRequest(response.request), RequestsOpenAPIResponse(response)
            )
        except (PathNotFound, OperationNotFound):
            return
        except OpenAPIError as exc:
            raise AssertionError(
                f"the broker's {response.status_code} to {response.request.method} {response.url} "
                f"does not match its OpenAPI document: {exc!r}\n{response.text[:500]}"
            ) from None
        self.checked += 1


@contextmanager
def checking(answers: BrokerAnswers) -> Iterator[BrokerAnswers]:
    """Check every answer received with requests while inside (streamed answers are left to be read)."""
    send = requests.Session.send

    def checked_send(session: requests.Session, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        response = send(session, request, **kwargs)
        if not kwargs.get("stream"):
            answers.check(response)
        return response

    requests.Session.send = checked_send  # type: ignore[method-assign]
    try:
        yield answers
    finally:
        requests.Session.send = send  # type: ignore[method-assign]

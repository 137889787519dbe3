"""Every status and body Autotask may answer, mapped to what the caller should do."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from billbridge.autotask import (
    AuthenticationError,
    AutotaskError,
    ClientUsageError,
    NotFoundError,
    OpaqueServerError,
    PermissionDeniedError,
    PicklistError,
    ServerError,
    ThreadLimitError,
    ThrottledError,
    UnknownOutcomeError,
    ValidationError,
    error_from_response,
)
from billbridge.autotask.errors import AutotaskConnectionError, error_from_transport

THREAD = (
    "Thread Threshold Exceeded - The Autotask API thread threshold of 3 threads has been "
    "exceeded. (Itgenatr005)"
)
GENERIC = {"Message": "An error has occurred."}
ERROR_ID = (
    "An unexpected error has occurred.  If the problem persists, please contact Autotask"
    " Support and reference Error ID: 3f2b8c1e-5d7a-4c9e-9a61-0b4e2f7d8c10"
)
CONVERSION = "Conversion failed when converting the nvarchar value 'abc' to data type int."
TRUNCATED = "String or binary data would be truncated."
PERIOD = "Contracts of type 7 (Recurring Services) require a ContractPeriodType."


def response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    content = b"" if body is None else (body if isinstance(body, str) else json.dumps(body))
    return httpx.Response(status, content=content, headers=headers or {})


TABLE: list[tuple[int, Any, dict[str, str], bool, type[AutotaskError], str]] = [
    (401, None, {}, False, AuthenticationError, "fatal"),
    (401, None, {}, True, AuthenticationError, "fatal"),
    (500, {"errors": ["Zone information could not be determined"]}, {}, False,
     AuthenticationError, "fatal"),
    (500, {"errors": ["IntegrationCode is invalid."]}, {}, True, AuthenticationError, "fatal"),
    (500, {"errors": ["Invalid credentials"]}, {}, False, AuthenticationError, "fatal"),
    (403, None, {}, False, PermissionDeniedError, "fatal"),
    (500, {"errors": ["The logged in Resource does not have the adequate permissions to update "
                      "this entity type."]}, {}, True, PermissionDeniedError, "fatal"),
    (404, {"Message": "No HTTP resource was found that matches the request URI 'x'."}, {},
     False, NotFoundError, "rejected"),
    (404, "<html><body>Not Found</body></html>", {}, True, NotFoundError, "rejected"),
    (405, {"Message": "The requested resource does not support http method 'PATCH'."}, {},
     True, NotFoundError, "rejected"),
    (500, {"errors": ["Missing Required Field: name."]}, {}, True, ValidationError, "rejected"),
    (500, {"errors": ["Unable to find projectID in the TimeEntry Entity"]}, {}, False,
     ValidationError, "rejected"),
    (400, {"errors": ["Bad input"]}, {}, True, ValidationError, "rejected"),
    (500, {"errors": [{"message": "object-shaped message"}]}, {}, True, ValidationError,
     "rejected"),
    (429, {"errors": ["slow down"]}, {"Retry-After": "30"}, True, ThrottledError, "retriable"),
    (429, None, {}, False, ThrottledError, "retriable"),
    (500, {"errors": [THREAD]}, {}, True, ThreadLimitError, "retriable"),
    (429, {"errors": [THREAD]}, {}, False, ThreadLimitError, "retriable"),
    (503, {"errors": ["Itgenatr005"]}, {}, True, ThreadLimitError, "retriable"),
    (500, GENERIC, {}, False, ServerError, "retriable"),
    (500, GENERIC, {}, True, UnknownOutcomeError, "unknown_outcome"),
    (500, {"errors": ["Something went wrong"]}, {}, True, UnknownOutcomeError, "unknown_outcome"),
    (502, "<html>Bad Gateway</html>", {}, False, ServerError, "retriable"),
    (502, "<html>Bad Gateway</html>", {}, True, UnknownOutcomeError, "unknown_outcome"),
    (503, None, {}, True, UnknownOutcomeError, "unknown_outcome"),
    (504, None, {}, False, ServerError, "retriable"),
    (500, {"errors": [ERROR_ID]}, {}, True, OpaqueServerError, "unknown_outcome"),
    (500, {"errors": [ERROR_ID]}, {}, False, ServerError, "retriable"),
    (500, {"errors": [CONVERSION]}, {}, True, OpaqueServerError, "unknown_outcome"),
    (500, {"errors": [TRUNCATED]}, {}, True, OpaqueServerError, "unknown_outcome"),
    (500, {"errors": [CONVERSION]}, {}, False, ValidationError, "rejected"),
    (500, {"errors": [PERIOD]}, {}, True, ValidationError, "rejected"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "headers", "write", "expected", "kind"), TABLE)
def test_status_and_body_map_to_one_exception(
    status: int,
    body: Any,
    headers: dict[str, str],
    write: bool,
    expected: type[AutotaskError],
    kind: str,
) -> None:
    error = error_from_response(
        response(status, body, headers), method="POST" if write else "GET", url="u", write=write
    )
    assert type(error) is expected
    assert error.kind == kind
    assert error.retriable == (kind == "retriable")
    assert error.status == status


def test_an_opaque_500_keeps_autotasks_exact_text() -> None:
    error = error_from_response(
        response(500, {"errors": [ERROR_ID]}), method="POST", url="/Contracts", write=True
    )
    assert isinstance(error, OpaqueServerError) and isinstance(error, UnknownOutcomeError)
    assert error.errors == [ERROR_ID]
    assert ERROR_ID in error.reason and "/Contracts" not in error.reason


def test_a_401_is_fatal_with_a_reason_that_says_what_to_check() -> None:
    error = error_from_response(response(401), method="GET", url="/Version", write=False)
    assert error.kind == "fatal"
    assert error.reason.startswith("Autotask rejected the credentials (HTTP 401); check")
    assert "autotask.secret" in error.reason and "/Version" not in error.reason


def test_client_usage_and_picklist_errors_are_in_the_tree() -> None:
    assert issubclass(PicklistError, AutotaskError) and issubclass(PicklistError, ValueError)
    assert PicklistError("contractType: unknown value 'x'").kind == "rejected"
    assert ClientUsageError("not an Autotask entity name").kind == "fatal"


def test_validation_errors_carry_autotask_messages_exactly() -> None:
    messages = ["Missing Required Field: name.", "Value does not reference an existing entity."]
    error = error_from_response(
        response(500, {"errors": messages}), method="POST", url="/Products", write=True
    )
    assert error.errors == messages
    assert "Missing Required Field: name." in str(error)
    assert "POST /Products" in str(error)


def test_retry_after_is_parsed() -> None:
    error = error_from_response(
        response(429, None, {"Retry-After": "12"}), method="GET", url="u", write=False
    )
    assert isinstance(error, ThrottledError)
    assert error.retry_after == 12.0


def test_secret_echoed_by_the_server_is_redacted() -> None:
    body = {"errors": ["Secret 'hunter2hunter2' is wrong"]}
    error = error_from_response(
        response(500, body),
        method="GET",
        url="u",
        write=False,
        redact=lambda s: s.replace("hunter2hunter2", "[redacted]"),
    )
    assert "hunter2hunter2" not in str(error) + repr(error)
    assert error.errors == ["Secret '[redacted]' is wrong"]


@pytest.mark.parametrize(
    ("exc", "write", "expected", "sent"),
    [
        (httpx.ConnectError("refused"), True, AutotaskConnectionError, False),
        (httpx.ConnectTimeout("slow"), True, AutotaskConnectionError, False),
        (httpx.ReadTimeout("slow"), False, AutotaskConnectionError, True),
        (httpx.ReadTimeout("slow"), True, UnknownOutcomeError, True),
        (httpx.RemoteProtocolError("closed"), True, UnknownOutcomeError, True),
        (httpx.ReadError("reset"), False, AutotaskConnectionError, True),
    ],
)
def test_transport_failures(
    exc: httpx.TransportError, write: bool, expected: type[AutotaskError], sent: bool
) -> None:
    error = error_from_transport(exc, method="POST", url="u", write=write)
    assert type(error) is expected
    if isinstance(error, AutotaskConnectionError):
        assert error.sent is sent
        assert error.retriable
    else:
        assert error.kind == "unknown_outcome"

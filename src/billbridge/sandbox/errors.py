"""Autotask's error answers, as the sandbox sends them (see docs/sandbox.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: ASP.NET's body for an unhandled failure: says nothing about the request.
GENERIC_500_BODY: Mapping[str, Any] = {"Message": "An error has occurred."}
THREAD_LIMIT_MESSAGE = (
    "Thread Threshold Exceeded - The Autotask API thread threshold of {limit} threads has "
    "been exceeded for this integration and endpoint. Please reduce the number of concurrent "
    "requests. (Itgenatr005)"
)
ZONE_UNKNOWN_MESSAGE = "Zone information could not be determined"
#: Autotask's answer to a write that fails inside it, without saying why (KelvinTegelaar/
#: AutotaskAPI issue 25: "Error ID: 1166"; Anteris-Dev/autotask-client issue 24, two spaces).
OPAQUE_MESSAGE = (
    "An unexpected error has occurred.  If the problem persists, please contact Autotask "
    "Support and reference Error ID: {error_id}"
)
PERMISSION_MESSAGE = (
    "The logged in Resource does not have the adequate permissions to {action} this entity type."
)


def opaque_message(error_id: int) -> str:
    """The opaque 500 text with its error id."""
    return OPAQUE_MESSAGE.format(error_id=error_id)


class ApiError(Exception):
    """An HTTP error answer: status, JSON body (or none), extra headers."""

    def __init__(
        self,
        status: int,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    @classmethod
    def autotask(cls, *messages: str) -> ApiError:
        """Autotask's usual failure: HTTP 500 with `{"errors": [...]}`."""
        return cls(500, {"errors": list(messages)})

    @classmethod
    def not_found(cls, uri: str) -> ApiError:
        return cls(
            404, {"Message": f"No HTTP resource was found that matches the request URI '{uri}'."}
        )

    @classmethod
    def method_not_allowed(cls, method: str) -> ApiError:
        return cls(
            405, {"Message": f"The requested resource does not support http method '{method}'."}
        )


def no_matching_record(action: str) -> ApiError:
    """The answer to an update or delete of a record that does not exist."""
    return ApiError.autotask(
        "No message. No matching records found. The logged in Resource may not have the "
        f"required permissions to {action} the data."
    )

"""Every error the Autotask client raises, classified by what the caller should do.

`kind` tells the caller how to react:

- ``fatal``: the settings or the credentials are wrong (authentication, permission); nothing
  will work until a human fixes them.
- ``retriable``: a transient condition (throttle, thread limit, network, a server error on a
  read); trying again later is safe. The client already retried a bounded number of times.
- ``rejected``: Autotask refused this request (validation, not found); this record fails,
  the others go on.
- ``unknown_outcome``: a create or update may or may not have happened (timeout or connection
  lost after sending, or a generic 5xx on a write). It must not be re-sent blindly: resolve it
  by looking the record up by its natural key.

`error_from_response` is the one place where an HTTP response becomes an exception, and
`error_from_transport` the one place where an httpx transport error does. Messages carry
Autotask's own texts, the method and the URL, never a credential.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

import httpx

ErrorKind = Literal["fatal", "retriable", "rejected", "unknown_outcome"]

#: Texts of a 500 that is really an authentication failure (as public
#: integrations report them; see docs/autotask.md).
_AUTH_TEXT = re.compile(
    r"credential|integration ?code|zone information|authenticat|unauthori[sz]ed|login failed"
    r"|invalid user",
    re.IGNORECASE,
)
_PERMISSION_TEXT = re.compile(r"adequate permission|not have (the )?permission", re.IGNORECASE)
_THREAD_TEXT = re.compile(r"thread threshold|thread limit|itgenatr005", re.IGNORECASE)
#: Bodies that say nothing specific: a server fault, not a rejection of the request.
_GENERIC_TEXT = re.compile(
    r"^\s*(an error has occurred|something went wrong|internal server error"
    r"|an unexpected error|unexpected error|service unavailable|bad gateway|gateway time-?out)",
    re.IGNORECASE,
)
#: Texts of a 500 that name no cause (an Error ID to quote to Autotask, a raw database message).
_OPAQUE_TEXT = re.compile(
    r"error id|unexpected error has occurred|conversion failed when converting"
    r"|string or binary data would be truncated|arithmetic overflow|sql ?exception"
    r"|violation of (primary|unique) key|cannot insert the value null",
    re.IGNORECASE,
)
_MAX_TEXT = 1000


class AutotaskError(Exception):
    """Base of every error raised by `billbridge.autotask`."""

    kind: ClassVar[ErrorKind] = "rejected"
    #: What a person should do, for `reason`; empty when Autotask's text says it.
    hint: ClassVar[str] = ""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: Sequence[str] = (),
        method: str = "",
        url: str = "",
    ) -> None:
        self.status = status
        self.errors = list(errors)
        self.method = method
        self.url = url
        self.message = message
        super().__init__(self._render())

    @property
    def retriable(self) -> bool:
        """True when the same request may safely be sent again later."""
        return self.kind == "retriable"

    @property
    def reason(self) -> str:
        """One line for a person and for the run record: what happened, Autotask's exact text
        and what to do; no URL, never a credential."""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        detail = "; ".join(e for e in self.errors if e != self.message)
        text = f"{self.message}{status}"
        if detail:
            text = f"{text}: {detail}"
        return f"{text}; {self.hint}" if self.hint else text

    def _render(self) -> str:
        where = f" ({self.method} {self.url})" if self.method else ""
        status = f"HTTP {self.status}: " if self.status is not None else ""
        detail = "; ".join(self.errors)
        text = f"{status}{self.message}"
        if detail and detail != self.message:
            text = f"{text}: {detail}"
        return f"{text}{where}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, errors={self.errors!r}, "
            f"method={self.method!r}, url={self.url!r})"
        )


class AuthenticationError(AutotaskError):
    """Wrong username, secret, integration code or zone: fix the settings."""

    kind = "fatal"
    hint = (
        "check autotask.username, autotask.secret and autotask.integration_code, and that the"
        " API user is active with the API User (API-only) security level"
    )


class PermissionDeniedError(AutotaskError):
    """The API user's security level does not allow this."""

    kind = "fatal"
    hint = "give the API user's security level the permission, then run it again"


class NotFoundError(AutotaskError):
    """The route (entity, verb) or the record does not exist."""

    kind = "rejected"


class ValidationError(AutotaskError):
    """Autotask rejected the request; `errors` holds its exact messages."""

    kind = "rejected"


class ThrottledError(AutotaskError):
    """HTTP 429 or the hourly threshold: wait `retry_after` seconds."""

    kind = "retriable"
    hint = "nothing more is sent now; try again later"

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ThreadLimitError(AutotaskError):
    """More than 3 concurrent requests on one endpoint (`Itgenatr005`); nothing was done."""

    kind = "retriable"


class ServerError(AutotaskError):
    """A 5xx without a specific message (on a read; on a write see `UnknownOutcomeError`)."""

    kind = "retriable"


class AutotaskConnectionError(AutotaskError):
    """The network failed; `sent` tells whether the request may have reached Autotask."""

    kind = "retriable"

    def __init__(self, message: str, *, sent: bool, **kw: Any) -> None:
        self.sent = sent
        super().__init__(message, **kw)


class UnknownOutcomeError(AutotaskError):
    """A create or update that may or may not have been applied. Never re-send it blindly."""

    kind = "unknown_outcome"


class ProtocolError(AutotaskError):
    """Autotask answered something the client cannot use (bad JSON, paging loop, foreign host).

    Fatal: it means the other end is not behaving like Autotask, so nothing should go on.
    """

    kind = "fatal"


class PaginationLoopError(ProtocolError):
    """`nextPageUrl` led back to a page already read."""


class OpaqueServerError(UnknownOutcomeError):
    """A write answered 5xx with a text that names no cause: `An unexpected error has occurred
    ... Error ID: ...`, or a database message (`Conversion failed when converting ...`,
    `String or binary data would be truncated`).

    Autotask answers such requests the same way every time they are sent, so the write most
    likely did nothing and will never succeed; but it may have landed. Look the record up by
    its key once: present, it landed; absent, it is a rejection with `errors`, Autotask's exact
    text, and is not sent again in a loop.
    """

    kind = "unknown_outcome"


class ClientUsageError(AutotaskError, ValueError):
    """The caller asked for something invalid (bad filter, bad id, a body that is no mapping).

    Raised before anything is sent: a programming error, fatal (the same call fails every time).
    """

    kind: ClassVar[ErrorKind] = "fatal"


class PicklistError(ClientUsageError):
    """A picklist label or value that the entity's metadata does not know, or an inactive one.

    Raised before anything is sent. Rejected: the record whose body holds it fails, the others
    go on (Autotask would refuse it as well). A setting naming an unknown label is reported by
    the export's tenant check, which names the setting, before any write.
    """

    kind = "rejected"


def response_messages(response: httpx.Response) -> list[str]:
    """Autotask's messages in a response: the `errors` strings, else ASP.NET's `Message`."""
    text = response.text
    if not text.strip():
        return []
    try:
        body = json.loads(text)
    except ValueError:
        if "<html" in text[:500].lower():
            return []
        return [_fold(text)]
    messages: list[str] = []
    if isinstance(body, dict):
        errors = _get_ci(body, "errors")
        if isinstance(errors, list):
            for item in errors:
                if isinstance(item, str):
                    messages.append(item)
                elif isinstance(item, dict) and isinstance(_get_ci(item, "message"), str):
                    messages.append(str(_get_ci(item, "message")))
                elif item is not None:
                    messages.append(_shorten(json.dumps(item)))
        elif isinstance(errors, str):
            messages.append(errors)
        for key in ("message", "exceptionMessage"):
            value = _get_ci(body, key)
            if isinstance(value, str) and value not in messages:
                messages.append(value)
    elif isinstance(body, str):
        messages.append(body)
    return [_shorten(m) for m in messages]


def error_from_response(
    response: httpx.Response,
    *,
    method: str,
    url: str,
    write: bool,
    redact: Callable[[str], str] = lambda s: s,
) -> AutotaskError:
    """Map one non-2xx Autotask response to the exception the caller should handle.

    `write` is true for creates, updates and deletes: a generic 5xx there is an
    `UnknownOutcomeError`, because the write may have been applied before the failure.
    """
    status = response.status_code
    messages = [redact(m) for m in response_messages(response)]
    kw: dict[str, Any] = {"status": status, "errors": messages, "method": method, "url": url}
    joined = " ".join(messages)
    if _THREAD_TEXT.search(joined):
        return ThreadLimitError("Autotask thread threshold exceeded", **kw)
    if status == 429:
        return ThrottledError(
            "Autotask request threshold exceeded",
            retry_after=_retry_after(response),
            **kw,
        )
    if status == 401:
        return AuthenticationError("Autotask rejected the credentials", **kw)
    if status == 403 or _PERMISSION_TEXT.search(joined):
        return PermissionDeniedError("the API user lacks the permission", **kw)
    if status in (404, 405):
        return NotFoundError("no such Autotask route or record", **kw)
    specific = [m for m in messages if not _GENERIC_TEXT.search(m)]
    if status >= 500 and specific and _AUTH_TEXT.search(" ".join(specific)):
        return AuthenticationError("Autotask rejected the credentials", **kw)
    if status >= 500 and _OPAQUE_TEXT.search(joined):
        if write:
            return OpaqueServerError(
                "Autotask failed the write without saying why; it may or may not have been applied",
                **kw,
            )
        if "error id" in joined.lower():
            return ServerError("Autotask server error", **kw)
    if status >= 500 and not specific:
        if write:
            return UnknownOutcomeError(
                f"the write may or may not have been applied (HTTP {status} without details)",
                **kw,
            )
        return ServerError("Autotask server error", **kw)
    return ValidationError("Autotask rejected the request", **kw)


def error_from_transport(
    exc: httpx.TransportError, *, method: str, url: str, write: bool
) -> AutotaskError:
    """Map an httpx transport failure: retriable before sending, unknown outcome on a write."""
    sent = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    name = type(exc).__name__
    if sent and write:
        return UnknownOutcomeError(
            f"the write may or may not have been applied ({name} after sending)",
            method=method,
            url=url,
        )
    return AutotaskConnectionError(f"network failure ({name})", sent=sent, method=method, url=url)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def _get_ci(mapping: dict[str, Any], key: str) -> Any:
    lowered = key.lower()
    for k, v in mapping.items():
        if isinstance(k, str) and k.lower() == lowered:
            return v
    return None


def _shorten(text: str) -> str:
    # Autotask's texts are kept exactly (the run record quotes them); only a text too long to
    # be a message is cut, and a body that is not JSON has its layout folded.
    text = text.strip()
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def _fold(text: str) -> str:
    return _shorten(" ".join(text.split()))

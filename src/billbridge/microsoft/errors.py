"""Every error the Microsoft client raises, classified by what the caller should do.

- ``fatal``: the settings, the credentials or the app's permissions are wrong; nothing will
  work until a human fixes them (the message names the setting or the permission).
- ``retriable``: throttling that outlasted its bounded wait, the network, a server error, an
  operation still running at the poll deadline; the next pull resumes where this one stopped.
- ``rejected``: Microsoft answered something billbridge cannot use for this invoice (a
  malformed manifest or blob, an export that failed); this invoice fails, the others go on.

Messages carry Microsoft's own texts and the URL as `shown_url` leaves it (without the query,
where a SAS token is a credential, and without user info), never the client secret or a token.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from billbridge.hosts import IPV6_ADDRESS

ErrorKind = Literal["fatal", "retriable", "rejected"]


class MicrosoftError(Exception):
    """Base of every error raised by `billbridge.microsoft`."""

    kind: ClassVar[ErrorKind] = "rejected"

    def __init__(self, message: str, *, status: int | None = None, url: str = "") -> None:
        self.message = message
        self.status = status
        self.url = shown_url(url)
        where = f" ({self.url})" if self.url else ""
        code = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"{code}{message}{where}")

    @property
    def retriable(self) -> bool:
        return self.kind == "retriable"


class UrlSettingError(MicrosoftError):
    """A `partner_center.*_url` setting cannot be requested, or has no token endpoint (404)."""

    kind = "fatal"


class CredentialsError(MicrosoftError):
    """The token request was refused: tenant id, client id or secret is wrong."""

    kind = "fatal"


class MissingPermissionError(MicrosoftError):
    """The app registration lacks a permission (PartnerBilling.Read.All, Partner Center)."""

    kind = "fatal"


class ThrottledError(MicrosoftError):
    """429 for longer than the client waits."""

    kind = "retriable"


class UnavailableError(MicrosoftError):
    """The network or a Microsoft server failed; try again later."""

    kind = "retriable"


class OperationTimeoutError(MicrosoftError):
    """An export operation had not finished by the poll deadline (the next pull resumes it)."""

    kind = "retriable"


class ExportFailedError(MicrosoftError):
    """An export operation failed for a reason other than "No data available"."""


class MalformedResponseError(MicrosoftError):
    """An invoice list, operation, manifest or blob billbridge cannot read."""


class SasExpiredError(MicrosoftError):
    """A blob's SAS token was refused (403): the export must be fetched again."""

    kind = "retriable"


def shown_url(url: str) -> str:
    """`url` fit for a message or a log line: no query or fragment (a SAS token is a
    credential), no user name or password, and neither a port that is not a number nor a
    bracketed host that is not an IPv6 address (a password typed there). Works on text that
    no URL parser accepts, too."""
    text = url.split("#", 1)[0].split("?", 1)[0]
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "", text
    authority, slash, path = rest.partition("/")
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        address, bracket, port = host[1:].partition("]")
        address = address if IPV6_ADDRESS.fullmatch(address) else "***"
        port = ":***" if port and not port[1:].isdigit() else port
        host = f"[{address}{bracket}{port}"
    else:
        address, colon, port = host.rpartition(":")
        host = f"{address}:***" if colon and port and not port.isdigit() else host
    return f"{scheme}{separator}{host}{slash}{path}"

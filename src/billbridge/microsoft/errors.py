"""Every error the Microsoft client raises, classified by what the caller should do.

- ``fatal``: the settings, the credentials or the app's permissions are wrong; nothing will
  work until a human fixes them (the message names the setting or the permission).
- ``retriable``: throttling that outlasted its bounded wait, the network, a server error, an
  operation still running at the poll deadline; the next pull resumes where this one stopped.
- ``rejected``: Microsoft answered something billbridge cannot use for this invoice (a
  malformed manifest or blob, an export that failed); this invoice fails, the others go on.

Messages carry Microsoft's own texts and the URL without its query (a SAS token is a
credential), never the client secret or a token.
"""

from __future__ import annotations

from typing import ClassVar, Literal

ErrorKind = Literal["fatal", "retriable", "rejected"]


class MicrosoftError(Exception):
    """Base of every error raised by `billbridge.microsoft`."""

    kind: ClassVar[ErrorKind] = "rejected"

    def __init__(self, message: str, *, status: int | None = None, url: str = "") -> None:
        self.message = message
        self.status = status
        self.url = url.split("?", 1)[0]
        where = f" ({self.url})" if self.url else ""
        code = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"{code}{message}{where}")

    @property
    def retriable(self) -> bool:
        return self.kind == "retriable"


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

"""What stops an export (or a link) for a reason a person can act on, and how to say it.

Errors are classified by what the caller should do: these are fatal for the command (fix the
setting, the input, or the tenant, then run it again); anything else is a bug.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from billbridge.autotask import AuthenticationError, AutotaskError
from billbridge.config import SettingsError
from billbridge.store.database import StoreBusyError, StoreError

if TYPE_CHECKING:
    from billbridge.export.results import RunResult

EXIT_PARTLY_FAILED = 1
EXIT_BAD_INPUT = 2


class ExportSetupError(Exception):
    """The settings do not fit the Autotask tenant (missing billing code, UDF, credentials).

    Fatal: nothing is written until the setting or the tenant is fixed.
    """


class SelectionError(Exception):
    """The reports asked for cannot be exported as asked (unknown id, nothing selected)."""


class LinkError(ValueError):
    """A link that cannot be made (unknown organization, missing or inactive company)."""


class LeaseBusyError(Exception):
    """Another installation holds the export lease of the tenant: try again when it is done."""


class ExportStoppedError(Exception):
    """A fatal error stopped an export after it began writing; the run records the text."""

    def __init__(
        self, message: str, *, run_id: int, written: int, result: RunResult | None = None
    ) -> None:
        self.run_id = run_id
        self.written = written
        self.result = result
        """The run as it stopped, for the output that shows it."""
        super().__init__(message)


EXPECTED_ERRORS = (
    SettingsError,
    AutotaskError,
    ExportSetupError,
    SelectionError,
    LinkError,
    StoreError,
    LeaseBusyError,
    ExportStoppedError,
)
"""What stops work for a reason a person can act on; anything else is a bug."""


def explain(exc: BaseException) -> tuple[str, int]:
    """One sentence for a person, and the exit status of a command stopped by `exc`."""
    if isinstance(exc, SettingsError):
        return "the settings cannot be used: " + "; ".join(exc.problems), EXIT_BAD_INPUT
    if isinstance(exc, StoreBusyError | LeaseBusyError):
        return f"{exc}; try again when it has finished", EXIT_PARTLY_FAILED
    if isinstance(exc, ExportStoppedError):
        written = (
            f"{exc.written} writes were done before; " if exc.written else "nothing was written; "
        )
        status = EXIT_PARTLY_FAILED if exc.written else EXIT_BAD_INPUT
        return (
            f"the export stopped (run {exc.run_id}): {exc}; {written}fix it and export again",
            status,
        )
    if isinstance(exc, ExportSetupError):
        return f"nothing was written: {exc}", EXIT_BAD_INPUT
    if isinstance(exc, SelectionError | LinkError):
        return str(exc), EXIT_BAD_INPUT
    if isinstance(exc, AuthenticationError):
        return f"Autotask refused the credentials: {exc}", EXIT_BAD_INPUT
    if isinstance(exc, AutotaskError) and exc.kind == "retriable":
        return f"nothing was written: Autotask is not answering ({exc}); try again", (
            EXIT_PARTLY_FAILED
        )
    if isinstance(exc, AutotaskError):
        return f"Autotask: {exc}", EXIT_PARTLY_FAILED
    if isinstance(exc, StoreError):
        return f"the state store: {exc}", EXIT_BAD_INPUT
    return f"unexpected error ({type(exc).__name__}); the log has the details", EXIT_PARTLY_FAILED

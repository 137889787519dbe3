"""What stops an export (or a link) for a reason a person can act on, and how to say it.

Errors are classified by what the caller should do: these are fatal for the command (fix the
setting, the input, or the tenant, then run it again); anything else is a bug.
"""

from __future__ import annotations

from billbridge.autotask import AuthenticationError, AutotaskError
from billbridge.config import SettingsError
from billbridge.store.database import StoreBusyError, StoreError

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


EXPECTED_ERRORS = (
    SettingsError,
    AutotaskError,
    ExportSetupError,
    SelectionError,
    LinkError,
    StoreError,
)
"""What stops work for a reason a person can act on; anything else is a bug."""


def explain(exc: BaseException) -> tuple[str, int]:
    """One sentence for a person, and the exit status of a command stopped by `exc`."""
    if isinstance(exc, SettingsError):
        return "the settings cannot be used: " + "; ".join(exc.problems), EXIT_BAD_INPUT
    if isinstance(exc, StoreBusyError):
        return f"{exc}; try again when it has finished", EXIT_PARTLY_FAILED
    if isinstance(exc, ExportSetupError):
        return f"nothing was written: {exc}", EXIT_BAD_INPUT
    if isinstance(exc, SelectionError | LinkError):
        return str(exc), EXIT_BAD_INPUT
    if isinstance(exc, AuthenticationError):
        return f"Autotask refused the credentials: {exc}", EXIT_BAD_INPUT
    if isinstance(exc, AutotaskError):
        return f"Autotask: {exc}", EXIT_PARTLY_FAILED
    if isinstance(exc, StoreError):
        return f"the state store: {exc}", EXIT_BAD_INPUT
    return f"unexpected error ({type(exc).__name__}); the log has the details", EXIT_PARTLY_FAILED

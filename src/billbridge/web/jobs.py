"""Exports started from the web admin, and what to tell a person when something stops one.

An export runs in a thread of its own: the page that started it waits a few seconds (long
enough for an ordinary export to finish) and then shows the run, which refreshes itself while
the export goes on. Only one export runs at a time (the store's lock); a second one is refused
with a message, as is one asked for while the daily check is exporting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from billbridge.autotask import AuthenticationError, AutotaskClient, AutotaskError
from billbridge.config import Settings, SettingsError
from billbridge.export.engine import ExportEngine, Selection, SelectionError
from billbridge.export.errors import ExportSetupError
from billbridge.export.results import RunResult
from billbridge.linking import LinkError
from billbridge.store import Store
from billbridge.store.database import StoreBusyError, StoreError

logger = logging.getLogger(__name__)

ClientFactory = Callable[[Settings], AutotaskClient]
"""Opens a client of the tenant (a context manager); `client_from_settings` in production."""


EXPECTED_ERRORS = (
    SettingsError,
    AutotaskError,
    ExportSetupError,
    SelectionError,
    LinkError,
    StoreError,
)
"""What stops work for a reason a person can act on; anything else is a bug, logged in full."""


def explain_error(exc: BaseException) -> str:
    """One sentence for a person: what stopped the work and, where known, what to do."""
    if isinstance(exc, SettingsError):
        return "the settings cannot be used: " + "; ".join(exc.problems)
    if isinstance(exc, StoreBusyError):
        return f"{exc}; try again when it has finished"
    if isinstance(exc, ExportSetupError):
        return f"nothing was written: {exc}"
    if isinstance(exc, SelectionError | LinkError):
        return str(exc)
    if isinstance(exc, AuthenticationError):
        return f"Autotask refused the credentials: {exc}"
    if isinstance(exc, AutotaskError):
        return f"Autotask: {exc}"
    if isinstance(exc, StoreError):
        return f"the state store: {exc}"
    return f"unexpected error ({type(exc).__name__}); the server log has the details"


@dataclass(eq=False)
class ExportJob:
    selection: Selection
    done: threading.Event = field(default_factory=threading.Event)
    result: RunResult | None = None
    error: str | None = None
    _late_error: Callable[[str], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, timeout_s: float) -> bool:
        return self.done.wait(timeout_s)

    def report_late_errors_to(self, deliver: Callable[[str], None]) -> None:
        """Deliver the error to `deliver` should the export fail after the page was shown."""
        with self._lock:
            if self.done.is_set():
                if self.error:
                    deliver(self.error)
                return
            self._late_error = deliver

    def _finish(self) -> None:
        with self._lock:
            self.done.set()
            late = self._late_error
        if late is not None and self.error:
            late(self.error)


class WebExports:
    def __init__(self, store: Store, settings: Settings, client_factory: ClientFactory) -> None:
        self._store = store
        self._settings = settings
        self._client_factory = client_factory

    def start(self, selection: Selection) -> ExportJob:
        job = ExportJob(selection)
        thread = threading.Thread(target=self._run, args=(job,), name="web-export", daemon=True)
        thread.start()
        return job

    def running_run_id(self) -> int | None:
        """The run an export is writing now, if any (there is at most one per store)."""
        with self._store.transaction() as uow:
            running = uow.runs.running()
        return max(running) if running else None

    def _run(self, job: ExportJob) -> None:
        try:
            with self._client_factory(self._settings) as client:
                engine = ExportEngine(self._store, self._settings, client)
                job.result = engine.export(job.selection, trigger="web")
        except EXPECTED_ERRORS as exc:
            job.error = explain_error(exc)
        except Exception as exc:  # a thread's failure must still reach the page
            logger.exception("an export started from the web admin failed")
            job.error = explain_error(exc)
        finally:
            job._finish()

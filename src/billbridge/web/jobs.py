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

from billbridge.config import Settings
from billbridge.export.connection import ClientFactory
from billbridge.export.engine import ExportEngine, Selection
from billbridge.export.errors import EXPECTED_ERRORS, ExportStoppedError, explain
from billbridge.export.results import RunResult
from billbridge.store import Store

logger = logging.getLogger(__name__)

__all__ = ["EXPECTED_ERRORS", "ClientFactory", "WebExports", "explain_error"]


def explain_error(exc: BaseException) -> str:
    """One sentence for a person: what stopped the work and, where known, what to do."""
    return explain(exc)[0]


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
        except ExportStoppedError as exc:  # the run is recorded: its page shows why it stopped
            job.result = exc.result
            job.error = explain_error(exc)
        except EXPECTED_ERRORS as exc:
            job.error = explain_error(exc)
        except Exception as exc:  # a thread's failure must still reach the page
            logger.exception("an export started from the web admin failed")
            job.error = explain_error(exc)
        finally:
            job._finish()

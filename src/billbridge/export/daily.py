"""The daily check of `billbridge serve`: export what is due, once a day at `export.check_time`.

Due reports include every earlier day's (docs/cli.md, `plan` and `export`), so a day missed
while the service was down is caught up by the next check; and a check whose time passed while the
service was down runs as soon as it starts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from billbridge.export.results import RunResult

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def next_check(now: datetime, check_time: time) -> datetime:
    """The first check time at or after `now` (UTC)."""
    today = datetime.combine(now.date(), check_time, tzinfo=UTC)
    return today if today >= now else today + timedelta(days=1)


class DailyCheck:
    """Runs `export(day)` daily; `has_run(day)` tells whether a day's check already happened."""

    def __init__(
        self,
        check_time: time,
        export: Callable[[date], RunResult | None],
        has_run: Callable[[date], bool],
        *,
        clock: Clock = lambda: datetime.now(UTC),
        retry_after_failure_s: float = 300.0,
        pull: Callable[[date], object] | None = None,
    ) -> None:
        self.check_time = check_time
        self._export = export
        self._has_run = has_run
        self._clock = clock
        self.retry_after_failure_s = retry_after_failure_s
        """After a check that failed before it could record its run (another export held the
        lock, Autotask did not answer), wait this long before trying again, not at once."""
        self.last_result: RunResult | None = None
        self.last_error: str | None = None
        # --- pull before export (P) ---
        self._pull = pull
        """Pulls the day's new invoices from Microsoft first (`billbridge.pulling.daily_pull`)."""
        self.last_pull: object | None = None
        self.last_pull_error: str | None = None

    def next_at(self) -> datetime:
        now = self._clock()
        if self.is_overdue(now):
            return now
        return next_check(now, self.check_time)

    def overdue_now(self) -> bool:
        """Today's check was missed (serve was not running at its time): it runs at once."""
        return self.is_overdue(self._clock())

    def is_overdue(self, now: datetime) -> bool:
        """Today's check time has passed and today's check has not run."""
        due_at = datetime.combine(now.date(), self.check_time, tzinfo=UTC)
        if now < due_at:
            return False
        try:
            return not self._has_run(now.date())
        except Exception:
            # The state store cannot be read just now; no export could run either. Ask again
            # at the next poll rather than let the error end the check.
            logger.exception("the daily check cannot tell whether today's check ran")
            return False

    def _pull_first(self, day: date) -> None:
        """A failed pull is logged and shown, and never stops the export of what is due."""
        if self._pull is None:
            return
        try:
            self.last_pull = self._pull(day)
            self.last_pull_error = None
        except Exception as exc:
            logger.exception("the daily check's pull of %s failed", day)
            self.last_pull_error = f"{type(exc).__name__}: {exc}"

    # --- end pull before export ---

    def run_once(self, day: date) -> RunResult | None:
        self._pull_first(day)
        try:
            self.last_result = self._export(day)
            self.last_error = None
        except Exception as exc:  # the service must outlive a failed check
            logger.exception("the daily check of %s failed", day)
            self.last_error = f"{type(exc).__name__}: {exc}"
            return None
        return self.last_result

    def run_forever(self, stop: threading.Event, *, poll_s: float = 30.0) -> None:
        """Wake at each check time (and every `poll_s`, to notice a changed clock) until `stop`."""
        while not stop.is_set():
            now = self._clock()
            if self.is_overdue(now):
                logger.info("daily check for %s", now.date())
                if self.run_once(now.date()) is None and self.is_overdue(self._clock()):
                    stop.wait(self.retry_after_failure_s)
                continue
            wait_s = (next_check(now, self.check_time) - now).total_seconds()
            stop.wait(min(max(wait_s, 0.0), poll_s))

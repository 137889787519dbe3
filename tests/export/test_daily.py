"""The daily check: when it runs, catching up a missed check, surviving a failure."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time

from billbridge.export.daily import DailyCheck, next_check
from billbridge.export.engine import Selection
from billbridge.export.results import RunResult
from tests.export.conftest import Tenant
from tests.export.data import import_lines, line, seed_store


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_next_check_is_today_or_tomorrow() -> None:
    assert next_check(datetime(2026, 10, 10, 1, 0, tzinfo=UTC), time(2, 0)) == datetime(
        2026, 10, 10, 2, 0, tzinfo=UTC
    )
    assert next_check(datetime(2026, 10, 10, 2, 1, tzinfo=UTC), time(2, 0)) == datetime(
        2026, 10, 11, 2, 0, tzinfo=UTC
    )


def test_a_check_missed_while_down_runs_at_start_and_once() -> None:
    ran: list[date] = []
    clock = Clock(datetime(2026, 10, 10, 9, 30, tzinfo=UTC))
    check = DailyCheck(time(2, 0), ran.append, lambda day: day in ran, clock=clock)
    assert check.next_at() == clock.now  # overdue: run now
    check.run_once(clock.now.date())
    assert check.next_at() == datetime(2026, 10, 11, 2, 0, tzinfo=UTC)
    assert ran == [date(2026, 10, 10)]


def test_a_failing_check_is_recorded_and_the_service_goes_on() -> None:
    def boom(day: date) -> RunResult | None:
        raise RuntimeError("Autotask is down")

    check = DailyCheck(time(2, 0), boom, lambda day: False)
    assert check.run_once(date(2026, 10, 10)) is None
    assert check.last_error == "RuntimeError: Autotask is down"


def test_run_forever_exports_what_is_due_and_stops(tenant: Tenant) -> None:
    company = tenant.company("Contoso")
    seed_store(tenant.store, tenant.workdir, [("org", "Contoso", company, True)])
    import_lines(
        tenant.store,
        tenant.workdir,
        [line("sep", "org", "2026-09", "s1"), line("oct", "org", "2026-10", "s1")],
    )
    engine = tenant.engine()
    clock = Clock(datetime(2026, 10, 12, 3, 0, tzinfo=UTC))  # missed the 02:00 check

    def has_run(day: date) -> bool:
        with tenant.store.transaction() as uow:
            return uow.runs.has_run("daily", day)

    check = DailyCheck(
        time(2, 0),
        lambda day: engine.export(Selection(due=True, today=day), trigger="daily"),
        has_run,
        clock=clock,
    )
    stop = threading.Event()
    worker = threading.Thread(target=check.run_forever, args=(stop,), kwargs={"poll_s": 0.05})
    worker.start()
    try:
        for _ in range(200):
            if check.last_result is not None:
                break
            stop.wait(0.05)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert check.last_result is not None
    assert [r.report_id for r in check.last_result.reports] == ["sep"]  # October is not due yet
    with tenant.store.transaction() as uow:
        [run] = uow.runs.recent()
    assert (run.trigger, run.today, run.status) == ("daily", date(2026, 10, 12), "succeeded")


def test_serve_says_a_missed_check_runs_now_only_when_it_was_missed() -> None:
    from billbridge.config import Settings
    from billbridge.web.server import check_message

    settings = Settings.load(environ={})
    ran: list[date] = []
    early = Clock(datetime(2026, 10, 10, 0, 25, tzinfo=UTC))
    before = DailyCheck(time(2, 0), ran.append, lambda day: day in ran, clock=early)
    assert check_message(before, settings) == (
        "daily check at 02:00 UTC; next 2026-10-10 02:00 UTC"
    )
    late = Clock(datetime(2026, 10, 10, 9, 30, tzinfo=UTC))
    missed = DailyCheck(time(2, 0), ran.append, lambda day: day in ran, clock=late)
    assert "today's (2026-10-10) was missed" in check_message(missed, settings)

"""`serve`'s daily check pulls from Microsoft first, from `partner_center.pull_day` on."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from billbridge.config import PartnerCenterSettings
from billbridge.export.results import RunResult
from billbridge.pulling import daily_pull
from billbridge.web.server import daily_check
from tests.microsoft.conftest import PullFactory, stored_reports


def test_the_daily_check_pulls_then_exports_what_is_due(make_pull: PullFactory) -> None:
    pulling = make_pull()
    check = daily_check(pulling.settings, pulling.store)

    check.run_once(date(2025, 12, 7))  # before the 8th: no pull
    assert pulling.emulator.exports == []
    assert check.last_pull is None

    check.run_once(date(2025, 12, 8))
    assert check.last_pull_error is None
    with pulling.store.transaction() as uow:
        assert {p.status for p in uow.pulls.invoices()} == {"imported"}
        assert uow.runs.has_run("daily", date(2025, 12, 8))
    assert len(stored_reports(pulling.store)) == 8
    # Dated by the invoice (the 8th), due lag_days (4) later: not exported on the 8th.
    assert check.last_result is not None and check.last_result.reports == ()

    check.run_once(date(2025, 12, 12))
    assert check.last_result is not None
    result: RunResult = check.last_result
    exported = {item.report_id for item in result.reports}
    assert exported == {stored.report.report_id for stored in stored_reports(pulling.store)}
    assert len(pulling.emulator.exports) == 4  # the later checks exported nothing again


def test_a_failed_pull_does_not_stop_the_export(make_pull: PullFactory) -> None:
    pulling = make_pull()
    settings = pulling.with_partner_center(client_id="00000000-0000-0000-0000-000000000000")
    check = daily_check(settings, pulling.store)
    check.run_once(date(2025, 12, 9))
    assert check.last_pull_error is not None
    assert "partner_center.client_id" in check.last_pull_error
    assert check.last_error is None
    with pulling.store.transaction() as uow:
        assert uow.runs.has_run("daily", date(2025, 12, 9))


def test_no_pull_without_credentials(make_pull: PullFactory) -> None:
    pulling = make_pull()
    settings = replace(pulling.settings, partner_center=PartnerCenterSettings())
    assert daily_pull(settings, pulling.store) is None

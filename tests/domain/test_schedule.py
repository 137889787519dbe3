"""The daily check's rule: due four days after generation, caught up, once per content."""

from __future__ import annotations

from datetime import date

from billbridge.domain.schedule import ReportVersion, due_date, due_reports

OCT_6 = ReportVersion("oct", date(2026, 10, 6), "h1")
SEP_6 = ReportVersion("sep", date(2026, 9, 6), "h0")


def test_a_report_generated_on_october_6_goes_out_on_october_10() -> None:
    assert due_reports([OCT_6], {}, date(2026, 10, 9), 4) == []
    assert due_reports([OCT_6], {}, date(2026, 10, 10), 4) == ["oct"]
    assert due_date(date(2026, 10, 6), 4) == date(2026, 10, 10)


def test_missed_days_are_caught_up_oldest_first() -> None:
    assert due_reports([OCT_6, SEP_6], {}, date(2026, 11, 1), 4) == ["sep", "oct"]


def test_exported_content_is_not_due_again_but_a_correction_is() -> None:
    assert due_reports([OCT_6], {"oct": "h1"}, date(2026, 10, 20), 4) == []
    assert due_reports([OCT_6], {"oct": "h-old"}, date(2026, 10, 20), 4) == ["oct"]


def test_zero_lag() -> None:
    assert due_reports([OCT_6], {}, date(2026, 10, 6), 0) == ["oct"]

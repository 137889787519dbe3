"""Which reports are due on a day: the daily check's rule (docs/cli.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class ReportVersion:
    """A report's current content, as far as scheduling cares."""

    report_id: str
    generated_on: date
    content_hash: str


def due_reports(
    reports: Iterable[ReportVersion],
    exported: Mapping[str, str],
    today: date,
    lag_days: int,
) -> list[str]:
    """Ids of the reports due on `today`, oldest first.

    Due means generated at least `lag_days` ago and not yet exported in its current content
    (`exported` maps report id to the content hash last exported in full). Every earlier day
    is included, so a check missed while the service was down is caught up by the next one.
    """
    cutoff = today - timedelta(days=lag_days)
    due = [
        report
        for report in reports
        if report.generated_on <= cutoff and exported.get(report.report_id) != report.content_hash
    ]
    due.sort(key=lambda r: (r.generated_on, r.report_id))
    return [report.report_id for report in due]


def due_date(generated_on: date, lag_days: int) -> date:
    """The first day a report generated on `generated_on` is due."""
    return generated_on + timedelta(days=lag_days)

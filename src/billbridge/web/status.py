"""Where each report stands, as the reports page and the dashboard show it.

The state is derived from what the store holds, without asking Autotask: the content hash a
report was last exported in, the daily check's due rule, the organization's link, and the
report's last run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from billbridge.domain.organization import Organization
from billbridge.domain.schedule import due_date
from billbridge.store.reports import ReportSummary

EXPORTED = "exported"
NEEDS_ATTENTION = "needs attention"
CHANGED = "changed"
DUE = "due"
NOT_YET_DUE = "not yet due"
SKIPPED = "skipped"
FAILED = "failed"

STATES = (DUE, FAILED, NEEDS_ATTENTION, SKIPPED, CHANGED, NOT_YET_DUE, EXPORTED)


@dataclass(frozen=True, slots=True)
class LastRun:
    run_id: int
    status: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class ReportState:
    summary: ReportSummary
    organization: Organization | None
    state: str
    """One of `STATES`."""
    explanation: str
    due_on: date
    last_run: LastRun | None

    @property
    def report_id(self) -> str:
        return self.summary.report_id

    @property
    def organization_name(self) -> str:
        return self.organization.name if self.organization else self.summary.organization_id

    @property
    def detail(self) -> str | None:
        """The explanation where it says more than the state's name."""
        return None if self.state in (DUE, EXPORTED) else self.explanation

    @property
    def exportable(self) -> bool:
        """Whether exporting it now could write anything (it is linked and active)."""
        return (
            self.organization is not None
            and self.organization.active
            and (self.organization.is_linked)
        )


def report_states(
    summaries: Sequence[ReportSummary],
    *,
    exported: Mapping[str, str],
    last_runs: Mapping[str, tuple[int, str, str | None]],
    organizations: Mapping[str, Organization],
    today: date,
    lag_days: int,
) -> list[ReportState]:
    return [
        _state(
            summary,
            exported.get(summary.report_id),
            last_runs.get(summary.report_id),
            organizations.get(summary.organization_id),
            today,
            lag_days,
        )
        for summary in summaries
    ]


def _state(
    summary: ReportSummary,
    exported_hash: str | None,
    last: tuple[int, str, str | None] | None,
    organization: Organization | None,
    today: date,
    lag_days: int,
) -> ReportState:
    last_run = LastRun(*last) if last else None
    due_on = due_date(summary.generated_on, lag_days)

    def state(name: str, explanation: str) -> ReportState:
        return ReportState(summary, organization, name, explanation, due_on, last_run)

    if exported_hash == summary.content_hash:
        if last_run is not None and last_run.status == "needs_attention":
            # Written as far as billbridge may; a conflict (a billed charge, a copied
            # contract) waits for a person, so it is not simply "exported".
            return state(
                NEEDS_ATTENTION,
                "written as far as billbridge may; a conflict needs a person"
                f" (run {last_run.run_id})",
            )
        return state(EXPORTED, "exported in its current content")
    blocker = _blocker(organization)
    is_due = due_on <= today
    when = "at the next daily check" if is_due else f"from {due_on:%Y-%m-%d}"
    if last_run is not None and last_run.status == "failed":
        return state(FAILED, f"{last_run.reason or 'the last export failed'}; retried {when}")
    if blocker is not None:
        return state(SKIPPED, blocker)
    if exported_hash is not None:
        return state(
            CHANGED,
            f"corrected (revision {summary.revision}) since it was exported; updated {when}",
        )
    if is_due:
        return state(DUE, "exported at the next daily check")
    return state(NOT_YET_DUE, f"due on {due_on:%Y-%m-%d}")


def _blocker(organization: Organization | None) -> str | None:
    """Why an export would skip the report whatever the date (README, "Skipped and failed")."""
    if organization is None:
        return "unknown organization"
    if not organization.active:
        return "inactive organization"
    if not organization.is_linked:
        return "unmapped: not linked to an Autotask company"
    return None

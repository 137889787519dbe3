"""What a plan or an export decided and did, per report and operation, and its JSON shape.

One shape for a plan, a live run and a stored one: `plan --json`, `export --json` and
`runs RUN --json` print `RunResult.to_json()`; a stored run is rebuilt as a `RunResult`
(`run_views.stored_run`). Each operation keeps its journal id from the moment it is recorded,
so what happened to it is found by that id, never by its position.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from billbridge.domain.plan import Action, Operation, ReportPlan, ReportStatus
from billbridge.domain.records import Value
from billbridge.domain.totals import Amounts, amounts_json

BILLED_STATUSES = frozenset(
    {ReportStatus.EXPORTED, ReportStatus.NOTHING_TO_DO, ReportStatus.NEEDS_ATTENTION}
)
"""Reports whose billing is (or would be) in Autotask after the run: the run's money."""


@dataclass(frozen=True, slots=True)
class OperationResult:
    action: str
    entity: str
    key: str
    autotask_id: int | None
    changes: dict[str, Any]
    reason: str | None = None
    state: str | None = None
    """For writes of an export: `done`, `failed`, or `unknown` (`planned` or `sending` while
    a run is under way)."""
    error: str | None = None
    journal_id: int | None = None
    """The operation's journal entry (none in a plan); internal, not in the JSON."""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "action": self.action,
            "entity": self.entity,
            "key": self.key,
            "autotask_id": self.autotask_id,
            "changes": self.changes,
        }
        if self.reason:
            data["reason"] = self.reason
        if self.state:
            data["state"] = self.state
        if self.error:
            data["error"] = self.error
        return data


@dataclass(frozen=True, slots=True)
class ReportResult:
    report_id: str
    organization_id: str
    status: str
    reason: str | None
    operations: tuple[OperationResult, ...] = ()
    warnings: tuple[str, ...] = ()
    organization_name: str | None = None
    revision: int | None = None
    money: tuple[Amounts, ...] = ()
    """The report's billing per currency: cost, price, margin (`domain.totals`)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "organization_id": self.organization_id,
            "organization_name": self.organization_name,
            "revision": self.revision,
            "status": self.status,
            "reason": self.reason,
            "warnings": list(self.warnings),
            "money": amounts_json(self.money),
            "operations": [op.to_json() for op in self.operations],
        }


@dataclass(frozen=True, slots=True)
class Summary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0
    failed_reports: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "conflicts": self.conflicts,
            "failed_reports": self.failed_reports,
        }


@dataclass(frozen=True, slots=True)
class RunResult:
    """A plan (`run_id` None), an export run as it ends, or a stored run."""

    run_id: int | None
    reports: tuple[ReportResult, ...]
    requests: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    """What the run waited for (writes of unknown outcome and their horizon); not stored."""
    error: str | None = None
    """The exact text of the fatal error that stopped the run."""
    status: str | None = None
    """`succeeded`, `partly_failed`, `failed`, `nothing_due`, `interrupted`, `running`."""
    trigger: str | None = None
    today: date | None = None
    started_at: datetime | None = None
    """Stored runs only (as are `finished_at`): a live result is made before the run is
    closed."""
    finished_at: datetime | None = None

    @property
    def money(self) -> list[Amounts]:
        """The billing of the reports that are (or would be) in Autotask, per currency."""
        return _sum_amounts(a for r in self.reports if r.status in BILLED_STATUSES for a in r.money)

    @property
    def left_out(self) -> list[Amounts]:
        """The billing of the reports skipped or failed, per currency."""
        return _sum_amounts(
            a for r in self.reports if r.status not in BILLED_STATUSES for a in r.money
        )

    @property
    def summary(self) -> Summary:
        ops = [op for report in self.reports for op in report.operations]
        done = [op for op in ops if op.state in (None, "done")]
        return Summary(
            created=sum(1 for op in done if op.action == Action.CREATE),
            updated=sum(1 for op in done if op.action == Action.UPDATE),
            unchanged=sum(1 for op in ops if op.action == Action.UNCHANGED),
            conflicts=sum(1 for op in ops if op.action == Action.CONFLICT),
            failed_reports=sum(1 for r in self.reports if r.status == "failed"),
        )

    @property
    def exit_code(self) -> int:
        """0 when everything was done; 1 when a report failed, a conflict needs a person or
        a fatal error stopped the run."""
        summary = self.summary
        if self.error is not None and not (summary.created or summary.updated):
            return 2  # stopped before anything was written: fix the setting, run it again
        return 1 if summary.failed_reports or summary.conflicts or self.error else 0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.run_id is not None:
            data["run_id"] = self.run_id
            data["status"] = self.status
            data["trigger"] = self.trigger
            data["today"] = self.today.isoformat() if self.today else None
            if self.started_at is not None:
                data["started_at"] = self.started_at.isoformat()
                data["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
            data["error"] = self.error
        data["requests"] = self.requests
        data["summary"] = self.summary.to_json()
        data["money"] = {
            "totals": amounts_json(self.money),
            "left_out": amounts_json(self.left_out),
        }
        if self.notes:
            data["notes"] = list(self.notes)
        data["reports"] = [report.to_json() for report in self.reports]
        return data


def _sum_amounts(amounts: Iterable[Amounts]) -> list[Amounts]:
    sums: dict[str, Amounts] = {}
    for a in amounts:
        sums[a.currency] = sums.get(a.currency, Amounts(a.currency)) + a
    return [sums[c] for c in sorted(sums)]


def operation_result(op: Operation, journal_id: int | None = None) -> OperationResult:
    return OperationResult(
        action=op.action.value,
        entity=op.entity.value,
        key=str(op.key),
        autotask_id=op.autotask_id,
        changes=changes_of(op),
        reason=op.reason,
        journal_id=journal_id,
    )


def report_result(
    plan: ReportPlan,
    organization_name: str | None = None,
    *,
    revision: int | None = None,
    money: Sequence[Amounts] = (),
    operations: Sequence[OperationResult] | None = None,
) -> ReportResult:
    """A report as planned; `operations` (the journaled ones) replace the plan's own."""
    return ReportResult(
        report_id=plan.report_id,
        organization_id=plan.organization_id,
        status=plan.status.value,
        reason=plan.reason,
        operations=tuple(
            operations
            if operations is not None
            else (operation_result(op) for op in plan.operations)
        ),
        warnings=plan.warnings,
        organization_name=organization_name,
        revision=revision,
        money=tuple(money),
    )


def changes_of(op: Operation) -> dict[str, Any]:
    """Create: the values sent. Update and conflict: each changed field `{from, to}`."""
    if op.action is Action.CREATE:
        return {name: json_value(value) for name, value in op.fields.items()}
    return {
        name: {"from": json_value(op.previous.get(name)), "to": json_value(value)}
        for name, value in op.fields.items()
    }


def json_value(value: Value) -> Any:
    """Exact JSON: money as a decimal string, dates as YYYY-MM-DD."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return value

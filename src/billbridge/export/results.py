"""What a plan or an export decided and did, per report and operation, and its JSON shape.

The JSON shape is the public contract of `plan --json`, `export --json` and `runs --json`
(INTERFACE.md section 3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from billbridge.domain.plan import Action, Operation, ReportPlan
from billbridge.domain.records import Value


@dataclass(frozen=True, slots=True)
class OperationResult:
    action: str
    entity: str
    key: str
    autotask_id: int | None
    changes: dict[str, Any]
    reason: str | None = None
    state: str | None = None
    """For writes of an export: `done`, `failed`, or `unknown`."""
    error: str | None = None

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

    def to_json(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id,
            "organization_id": self.organization_id,
            "organization_name": self.organization_name,
            "status": self.status,
            "reason": self.reason,
            "warnings": list(self.warnings),
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
    """A plan (`run_id` None) or an export run."""

    run_id: int | None
    reports: tuple[ReportResult, ...]
    requests: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)
    error: str | None = None
    """The exact text of the fatal error that stopped the run."""

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
        return 1 if summary.failed_reports or summary.conflicts or self.error else 0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.run_id is not None:
            data["run_id"] = self.run_id
        data["summary"] = self.summary.to_json()
        if self.error is not None:
            data["error"] = self.error
        if self.notes:
            data["notes"] = list(self.notes)
        data["reports"] = [report.to_json() for report in self.reports]
        return data


def operation_result(op: Operation) -> OperationResult:
    return OperationResult(
        action=op.action.value,
        entity=op.entity.value,
        key=str(op.key),
        autotask_id=op.autotask_id,
        changes=changes_of(op),
        reason=op.reason,
    )


def report_result(plan: ReportPlan, organization_name: str | None = None) -> ReportResult:
    return ReportResult(
        report_id=plan.report_id,
        organization_id=plan.organization_id,
        status=plan.status.value,
        reason=plan.reason,
        operations=tuple(operation_result(op) for op in plan.operations),
        warnings=plan.warnings,
        organization_name=organization_name,
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


def with_states(
    result: ReportResult, states: Sequence[tuple[str | None, int | None, str | None]]
) -> ReportResult:
    """The report's operations with what happened to each write."""
    operations = tuple(
        OperationResult(
            op.action,
            op.entity,
            op.key,
            autotask_id if autotask_id is not None else op.autotask_id,
            op.changes,
            op.reason,
            state,
            error,
        )
        for op, (state, autotask_id, error) in zip(result.operations, states, strict=True)
    )
    return replace(result, operations=operations)

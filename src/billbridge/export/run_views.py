"""Stored runs as `RunResult`s: `runs --json`, `runs RUN` and the web show a stored run in the
very shape `export` printed it (docs/cli.md, "JSON for scripts")."""

from __future__ import annotations

from typing import Any

from billbridge.domain.totals import Amounts, subscription_charges, total
from billbridge.export.results import OperationResult, ReportResult, RunResult
from billbridge.store.runs import OperationRecord, RunDetail, RunSummary
from billbridge.store.unit_of_work import UnitOfWork


def run_summary_json(run: RunSummary) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "trigger": run.trigger,
        "status": run.status,
        "today": run.today.isoformat() if run.today else None,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "requests": run.requests,
        "error": run.error,
        "summary": {
            "created": run.created,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "conflicts": run.conflicts,
            "failed_reports": run.failed_reports,
        },
    }


def stored_run(uow: UnitOfWork, run_id: int) -> RunResult | None:
    """Run `run_id` as stored, with its organizations' names and each report's money at the
    revision the run exported."""
    detail = uow.runs.get(run_id)
    if detail is None:
        return None
    organizations = uow.organizations.get_many(r.organization_id for r in detail.reports)
    names = {o.organization_id: o.name for o in organizations.values()}
    money: dict[str, list[Amounts]] = {}
    for report in detail.reports:
        stored = uow.reports.get(report.report_id, revision=report.revision)
        if stored is not None:
            money[report.report_id] = total(subscription_charges(stored.report))
    return run_result_of(detail, names, money)


def run_result_of(
    detail: RunDetail,
    names: dict[str, str] | None = None,
    money: dict[str, list[Amounts]] | None = None,
) -> RunResult:
    run = detail.summary
    operations: dict[str, list[OperationResult]] = {}
    for op in detail.operations:
        operations.setdefault(op.report_id, []).append(operation_of(op))
    reports = tuple(
        ReportResult(
            report_id=report.report_id,
            organization_id=report.organization_id,
            status=report.status,
            reason=report.reason,
            operations=tuple(operations.pop(report.report_id, [])),
            warnings=tuple(report.warnings),
            organization_name=(names or {}).get(report.organization_id),
            revision=report.revision,
            money=tuple((money or {}).get(report.report_id, ())),
        )
        for report in detail.reports
    )
    return RunResult(
        run.id,
        reports,
        requests=run.requests,
        error=run.error,
        status=run.status,
        trigger=run.trigger,
        today=run.today,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def operation_of(op: OperationRecord) -> OperationResult:
    return OperationResult(
        op.action,
        op.entity,
        op.key,
        op.autotask_id,
        op.changes,
        op.reason,
        None if op.state == "none" else op.state,
        op.error,
        journal_id=op.id,
    )

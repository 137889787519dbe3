"""Stored runs in the public JSON shape (INTERFACE.md section 3), for `runs --json` and the web."""

from __future__ import annotations

from typing import Any

from billbridge.export.results import OperationResult
from billbridge.store.runs import RunDetail, RunSummary


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


def run_detail_json(detail: RunDetail) -> dict[str, Any]:
    data = run_summary_json(detail.summary)
    operations: dict[str, list[dict[str, Any]]] = {}
    for op in detail.operations:
        result = OperationResult(
            op.action,
            op.entity,
            op.key,
            op.autotask_id,
            op.changes,
            op.reason,
            None if op.state == "none" else op.state,
            op.error,
        )
        operations.setdefault(op.report_id, []).append(result.to_json())
    data["reports"] = [
        {
            "report_id": report.report_id,
            "organization_id": report.organization_id,
            "revision": report.revision,
            "status": report.status,
            "reason": report.reason,
            "warnings": report.warnings,
            "operations": operations.get(report.report_id, []),
        }
        for report in detail.reports
    ]
    return data

"""Rich tables for the CLI: plans, runs, and what landed in Autotask."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from billbridge.domain.matching import Suggestion
from billbridge.domain.organization import Organization
from billbridge.export.results import OperationResult, RunResult
from billbridge.store.runs import RunDetail, RunSummary

STATUS_STYLE = {
    "exported": "green",
    "nothing_to_do": "dim",
    "skipped": "yellow",
    "failed": "bold red",
    "succeeded": "green",
    "partly_failed": "bold red",
    "interrupted": "yellow",
    "running": "cyan",
}
ACTION_STYLE = {"create": "green", "update": "cyan", "conflict": "bold red", "unchanged": "dim"}


def run_result(console: Console, result: RunResult, *, planned: bool) -> None:
    """The reports, the writes (and conflicts), the warnings, then one summary line."""
    reports = Table(title="Reports", title_justify="left", expand=False)
    for column in ("report", "organization", "status", "create", "update", "same", "conflict"):
        reports.add_column(
            column,
            justify="right" if column in ("create", "update", "same", "conflict") else "left",
        )
    reports.add_column("reason", overflow="fold")
    for report in result.reports:
        counts = _counts(report.operations)
        style = STATUS_STYLE.get(report.status, "")
        reports.add_row(
            report.report_id,
            report.organization_name or report.organization_id,
            f"[{style}]{report.status}[/]" if style else report.status,
            str(counts["create"]),
            str(counts["update"]),
            str(counts["unchanged"]),
            str(counts["conflict"]),
            report.reason or "",
        )
    console.print(reports)
    changes = Table(
        title="Writes and conflicts" if not planned else "Planned writes and conflicts",
        title_justify="left",
    )
    for column in ("report", "action", "entity", "key", "id", "changes"):
        changes.add_column(column, overflow="fold")
    shown = 0
    for report in result.reports:
        for op in report.operations:
            if op.action == "unchanged":
                continue
            shown += 1
            action = f"[{ACTION_STYLE.get(op.action, '')}]{op.action}[/]"
            if op.state == "failed":
                action += " [bold red](failed)[/]"
            detail = op.error or op.reason or describe_changes(op)
            changes.add_row(
                report.report_id, action, op.entity, op.key, str(op.autotask_id or ""), detail
            )
    if shown:
        console.print(changes)
    for report in result.reports:
        for warning in report.warnings:
            console.print(f"[yellow]warning[/] {report.report_id}: {warning}", markup=True)
    console.print(summary_line(result, planned=planned))


def summary_line(result: RunResult, *, planned: bool) -> str:
    s = result.summary
    verb = "would create" if planned else "created"
    head = f"run {result.run_id}: " if result.run_id is not None else "plan: "
    return (
        f"{head}{len(result.reports)} report(s); {verb} {s.created}, "
        f"{'would update' if planned else 'updated'} {s.updated}, unchanged {s.unchanged}, "
        f"conflicts {s.conflicts}, failed reports {s.failed_reports}"
        f" ({result.requests} Autotask requests)"
    )


def describe_changes(op: OperationResult) -> str:
    """The gist of a write, short enough for a table cell."""
    changes = op.changes
    if op.action == "create":
        if op.entity == "Contract":
            term = f"{changes.get('startDate')}..{changes.get('endDate')}"
            return f"{changes.get('contractName')}, {term}"
        if op.entity == "ContractCharge":
            return (
                f"{changes.get('unitQuantity')} x {changes.get('unitPrice')}"
                f" (cost {changes.get('unitCost')})"
            )
        if op.entity == "Product":
            prices = f"cost {changes.get('unitCost')}, price {changes.get('unitPrice')}"
            return f"{changes.get('name')}: {prices}"
    parts = []
    for name, value in changes.items():
        if name == "description":
            parts.append("description")
        elif isinstance(value, dict) and set(value) == {"from", "to"}:
            parts.append(f"{name} {_short(value['from'])} -> {_short(value['to'])}")
        else:
            parts.append(f"{name}={_short(value)}")
    return ", ".join(parts)


def runs_table(console: Console, runs: Sequence[RunSummary]) -> None:
    table = Table(title="Export runs", title_justify="left")
    for column in (
        "run",
        "started (UTC)",
        "trigger",
        "status",
        "reports",
        "created",
        "updated",
        "conflicts",
        "failed",
        "requests",
    ):
        table.add_column(
            column,
            justify="right" if column not in ("started (UTC)", "trigger", "status") else "left",
        )
    for run in runs:
        style = STATUS_STYLE.get(run.status, "")
        table.add_row(
            str(run.id),
            f"{run.started_at:%Y-%m-%d %H:%M:%S}",
            run.trigger,
            f"[{style}]{run.status}[/]" if style else run.status,
            str(run.report_count),
            str(run.created),
            str(run.updated),
            str(run.conflicts),
            str(run.failed_reports),
            str(run.requests),
        )
    console.print(table)


def run_detail(console: Console, detail: RunDetail) -> None:
    run = detail.summary
    console.print(
        f"run {run.id}: {run.status}, started {run.started_at:%Y-%m-%d %H:%M:%S} UTC"
        f" by {run.trigger}, {run.requests} Autotask requests"
    )
    reports = Table(title="Reports", title_justify="left")
    for column in ("report", "organization", "revision", "status", "reason"):
        reports.add_column(column, overflow="fold")
    for report in detail.reports:
        style = STATUS_STYLE.get(report.status, "")
        reports.add_row(
            report.report_id,
            report.organization_id,
            str(report.revision),
            f"[{style}]{report.status}[/]" if style else report.status,
            report.reason or "",
        )
    console.print(reports)
    ops = Table(title="Operations", title_justify="left")
    for column in ("report", "action", "entity", "key", "id", "state", "detail"):
        ops.add_column(column, overflow="fold")
    for op in detail.operations:
        action = f"[{ACTION_STYLE.get(op.action, '')}]{op.action}[/]"
        state = "" if op.state == "none" else op.state
        detail_text = (
            op.error
            or op.reason
            or describe_changes(
                OperationResult(op.action, op.entity, op.key, op.autotask_id, op.changes)
            )
        )
        ops.add_row(
            op.report_id, action, op.entity, op.key, str(op.autotask_id or ""), state, detail_text
        )
    console.print(ops)
    for report in detail.reports:
        for warning in report.warnings:
            console.print(f"[yellow]warning[/] {report.report_id}: {warning}")


def _counts(operations: Sequence[OperationResult]) -> dict[str, int]:
    counts = {"create": 0, "update": 0, "unchanged": 0, "conflict": 0}
    for op in operations:
        counts[op.action] = counts.get(op.action, 0) + 1
    return counts


def _short(value: Any) -> str:
    text = str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def suggestions_table(
    console: Console, rows: Sequence[tuple[Organization, Sequence[Suggestion]]]
) -> None:
    table = Table(title="Suggested companies for unlinked organizations", title_justify="left")
    for column in ("organization", "name", "domain", "company id", "company", "score", "why"):
        table.add_column(column, overflow="fold")
    for organization, suggestions in rows:
        if not suggestions:
            table.add_row(
                organization.organization_id,
                organization.name,
                organization.domain or "",
                "",
                "[dim]no likely company[/]",
                "",
                "",
            )
        for index, suggestion in enumerate(suggestions):
            first = index == 0
            table.add_row(
                organization.organization_id if first else "",
                organization.name if first else "",
                (organization.domain or "") if first else "",
                str(suggestion.company_id),
                suggestion.company_name,
                f"{suggestion.score:.2f}" + (" exact" if suggestion.exact else ""),
                suggestion.reason,
            )
    console.print(table)
    console.print(
        "link one with `billbridge map ORG_ID COMPANY_ID`; `--apply-exact` links every exact match"
    )

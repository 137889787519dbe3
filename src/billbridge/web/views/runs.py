"""Export history, and one run in full: reports, operations, the exact Autotask errors."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from billbridge.domain.totals import Amounts, money_text
from billbridge.export.run_views import stored_run
from billbridge.store.runs import OperationRecord, ReportRecord
from billbridge.web.handlers import Ctx, page
from billbridge.web.views import money as money_views

LIMITS = (50, 200, 1000)


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One report of a run with its operations, as the run page lists them."""

    record: ReportRecord
    organization_name: str
    operations: list[OperationRecord]
    money: tuple[Amounts, ...] = ()

    @property
    def writes(self) -> list[OperationRecord]:
        return [op for op in self.operations if op.action != "unchanged"]

    def count(self, action: str) -> int:
        return sum(1 for op in self.operations if op.action == action)

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def needs_a_look(self) -> bool:
        return self.record.status in ("failed", "needs_attention") or any(
            op.action == "conflict" or op.state in ("failed", "unknown") for op in self.operations
        )


def runs(ctx: Ctx) -> Response:
    text = ctx.query("limit", str(LIMITS[0]))
    limit = int(text) if text.isdigit() and int(text) in LIMITS else LIMITS[0]
    with ctx.store.transaction() as uow:
        recent = uow.runs.recent(limit)
    bigger = next((n for n in LIMITS if n > limit), None)
    return ctx.render(
        "runs.html",
        title="Runs",
        runs=recent,
        more=bigger if len(recent) == limit else None,
        **money_views.run_money(ctx, [r.id for r in recent]),
    )


def run(ctx: Ctx) -> Response:
    run_id = ctx.number_param("run_id")
    with ctx.store.transaction() as uow:
        detail = uow.runs.get(run_id)
        result = stored_run(uow, run_id) if detail is not None else None
    if detail is None or result is None:
        return ctx.not_found(f"There is no run {run_id}.")
    names = {r.organization_id: r.organization_name or r.organization_id for r in result.reports}
    money = {r.report_id: r.money for r in result.reports}
    by_report: dict[str, list[OperationRecord]] = {}
    for op in detail.operations:
        by_report.setdefault(op.report_id, []).append(op)
    blocks = [
        ReportBlock(
            r,
            names.get(r.organization_id, r.organization_id),
            by_report.get(r.report_id, []),
            money.get(r.report_id, ()),
        )
        for r in detail.reports
    ]
    writes = [op for op in detail.operations if op.state not in ("none",)]
    return ctx.render(
        "run.html",
        title=f"Run {detail.summary.id}",
        run=detail.summary,
        run_money=result.money,
        left_out=result.left_out,
        money=money_text,
        blocks=blocks,
        conflicts=[op for op in detail.operations if op.action == "conflict"],
        failures=[op for op in detail.operations if op.state in ("failed", "unknown")],
        failed_reports=[b for b in blocks if b.record.status == "failed"],
        skipped=[b for b in blocks if b.record.status == "skipped"],
        warnings=[
            (b.record.report_id, w)
            for b in blocks
            if b.record.status != "skipped"  # their one warning says why, shown with them
            for w in b.record.warnings
        ],
        writes_total=len(writes),
        writes_settled=sum(1 for op in writes if op.state in ("done", "failed", "unknown")),
        refresh=detail.summary.status == "running",
    )


def run_json(ctx: Ctx) -> Response:
    run_id = ctx.number_param("run_id")
    with ctx.store.transaction() as uow:
        detail = stored_run(uow, run_id)
    if detail is None:
        return JSONResponse({"error": f"there is no run {run_id}"}, status_code=404)
    return JSONResponse(detail.to_json())


routes = [
    Route("/runs", page(runs), methods=["GET"]),
    Route("/runs/{run_id}.json", page(run_json), methods=["GET"]),
    Route("/runs/{run_id}", page(run), methods=["GET"]),
]

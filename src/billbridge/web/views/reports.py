"""Reports: where each stands, a plan preview of one, and exporting now."""

from __future__ import annotations

import time
from collections import Counter
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from billbridge.domain.schedule import ReportVersion, due_reports
from billbridge.export.engine import ExportEngine, Selection
from billbridge.export.results import RunResult
from billbridge.web.handlers import Ctx, action, page, safe_local_path
from billbridge.web.jobs import EXPECTED_ERRORS, ExportJob, explain_error
from billbridge.web.paging import Pager
from billbridge.web.rendering import plural
from billbridge.web.status import STATES, ReportState, report_states
from billbridge.web.views import money as money_views

PAGE_SIZE = 100
RUN_APPEARS_S = 10.0
"""How long an export that goes on is given to record its run before the page is shown."""


def reports(ctx: Ctx) -> Response:
    search = ctx.query("q")
    wanted = ctx.query("state")
    wanted = wanted if wanted in STATES else ""
    states = _states(ctx)
    counts = Counter(s.state for s in states)
    shown = [s for s in states if (not wanted or s.state == wanted) and _matches(s, search)]
    pager = Pager.of(ctx, len(shown), PAGE_SIZE)
    return ctx.render(
        "reports.html",
        title="Reports",
        rows=shown[pager.start : pager.stop],
        pager=pager,
        search=search,
        state=wanted,
        states=STATES,
        counts=counts,
        total=len(states),
        due_count=len(_due_ids(ctx)),
        lag_days=ctx.settings.export.lag_days,
        **money_views.report_money(ctx, [s.report_id for s in shown[pager.start : pager.stop]]),
    )


def report(ctx: Ctx) -> Response:
    report_id = ctx.path_param("report_id")
    with ctx.store.transaction() as uow:
        stored = uow.reports.get(report_id)
        revisions = uow.reports.revisions(report_id)
        organization = uow.organizations.get(stored.report.organization_id) if stored else None
    if stored is None:
        return ctx.not_found(f"There is no report {report_id!r}.")
    [state] = _states(ctx, report_id=report_id, organization_id=stored.report.organization_id)
    plan: RunResult | None = None
    plan_error = None
    try:
        with ctx.admin.client_factory(ctx.settings) as client:
            plan = ExportEngine(ctx.store, ctx.settings, client).plan(
                Selection(report_ids=(report_id,))
            )
    except EXPECTED_ERRORS as exc:
        plan_error = explain_error(exc)
    planned = plan.reports[0] if plan and plan.reports else None
    return ctx.render(
        "report.html",
        title=f"Report {report_id}",
        stored=stored,
        report=stored.report,
        organization=organization,
        revisions=revisions,
        state=state,
        plan=plan,
        planned=planned,
        plan_error=plan_error,
        writes=[op for op in planned.operations if op.action != "unchanged"] if planned else [],
    )


def export_one(ctx: Ctx) -> Response:
    report_id = ctx.path_param("report_id")
    job = ctx.admin.exports.start(Selection(report_ids=(report_id,)))
    return _after_start(ctx, job, back=f"/reports/{quote(report_id)}")


def export_many(ctx: Ctx) -> Response:
    back = safe_local_path(ctx.field("return_to"), "/reports")
    if ctx.field("due"):
        if not _due_ids(ctx):
            ctx.flash("ok", "Nothing is due: every report due today is exported.")
            return ctx.back("/reports")
        selection = Selection(due=True, today=ctx.admin.today())
    else:
        chosen = tuple(dict.fromkeys(ctx.fields("report_id")))
        if not chosen:
            ctx.flash("warn", "Select the reports to export first.")
            return ctx.back("/reports")
        selection = Selection(report_ids=chosen)
    return _after_start(ctx, ctx.admin.exports.start(selection), back=back)


def _after_start(ctx: Ctx, job: ExportJob, *, back: str) -> Response:
    """Show the run when the export finishes soon; else its page, which follows the export."""
    if job.wait(ctx.admin.export_wait_s):
        if job.error is not None:
            if job.result is not None and job.result.run_id is not None:
                ctx.flash("error", job.error)
                return ctx.redirect(f"/runs/{job.result.run_id}")
            ctx.flash("error", f"The export did not run: {job.error}")
            return ctx.back(back)
        result = job.result
        assert result is not None and result.run_id is not None
        _flash_outcome(ctx, result)
        return ctx.redirect(f"/runs/{result.run_id}")
    # Still going: show its run, as soon as the export has recorded it.
    deadline = time.monotonic() + RUN_APPEARS_S
    run_id = ctx.admin.exports.running_run_id()
    while run_id is None and time.monotonic() < deadline:
        if job.wait(0.05):
            return _after_start(ctx, job, back=back)
        run_id = ctx.admin.exports.running_run_id()
    job.report_late_errors_to(lambda error: ctx.flash("error", f"The export stopped: {error}"))
    ctx.flash("ok", "The export is running; this page follows it until it has finished.")
    return ctx.redirect(f"/runs/{run_id}" if run_id is not None else "/runs")


def _flash_outcome(ctx: Ctx, result: RunResult) -> None:
    s = result.summary
    counts = (
        f"{s.created} created, {s.updated} updated, {s.unchanged} unchanged,"
        f" {plural(s.conflicts, 'conflict')}, {plural(s.failed_reports, 'failed report')}"
    )
    if not result.reports:
        ctx.flash("ok", f"Run {result.run_id}: nothing was due.")
    elif result.exit_code == 0:
        ctx.flash("ok", f"Run {result.run_id} finished: {counts}.")
    else:
        ctx.flash("error", f"Run {result.run_id} needs a look: {counts}.")
    for note in result.notes:
        ctx.flash("warn", f"Run {result.run_id}: {note}")


def _states(
    ctx: Ctx, *, report_id: str | None = None, organization_id: str | None = None
) -> list[ReportState]:
    today = ctx.admin.today()
    with ctx.store.transaction() as uow:
        summaries = uow.reports.summaries(organization_id=organization_id)
        if report_id is not None:
            summaries = [s for s in summaries if s.report_id == report_id]
        exported = uow.exports.exported_hashes()
        organizations = uow.organizations.get_many({s.organization_id for s in summaries})
        last_runs = uow.runs.last_run_of_reports(s.report_id for s in summaries)
    return report_states(
        summaries,
        exported=exported,
        last_runs=last_runs,
        organizations=organizations,
        today=today,
        lag_days=ctx.settings.export.lag_days,
    )


def _due_ids(ctx: Ctx) -> list[str]:
    today = ctx.admin.today()
    with ctx.store.transaction() as uow:
        summaries = uow.reports.summaries(generated_on_or_before=today)
        exported = uow.exports.exported_hashes()
    versions = [ReportVersion(s.report_id, s.generated_on, s.content_hash) for s in summaries]
    return due_reports(versions, exported, today, ctx.settings.export.lag_days)


def _matches(state: ReportState, search: str) -> bool:
    if not search:
        return True
    needle = search.casefold()
    return any(
        needle in text.casefold()
        for text in (state.report_id, state.organization_name, state.summary.organization_id)
    )


routes = [
    Route("/reports", page(reports), methods=["GET"]),
    Route("/reports/export", action(export_many), methods=["POST"]),
    Route("/reports/{report_id:path}/export", action(export_one), methods=["POST"]),
    Route("/reports/{report_id:path}", page(report), methods=["GET"]),
]

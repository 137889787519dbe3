"""The dashboard: the daily check, what is due, what needs a person, the latest runs."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from billbridge.domain.schedule import ReportVersion, due_reports
from billbridge.web.handlers import Ctx, page
from billbridge.web.status import report_states
from billbridge.web.views import money as money_views

RECENT_RUNS = 8
SHOWN = 10


def dashboard(ctx: Ctx) -> Response:
    admin = ctx.admin
    today = admin.today()
    lag_days = ctx.settings.export.lag_days
    with ctx.store.transaction() as uow:
        runs = uow.runs.recent(RECENT_RUNS)
        daily_runs = [r for r in uow.runs.recent(200) if r.trigger == "daily"]
        summaries = uow.reports.summaries()
        exported = uow.exports.exported_hashes()
        organizations = {o.organization_id: o for o in uow.organizations.all()}
        versions = [ReportVersion(s.report_id, s.generated_on, s.content_hash) for s in summaries]
        due_ids = set(due_reports(versions, exported, today, lag_days))
        due = [s for s in summaries if s.report_id in due_ids]
        last_runs = uow.runs.last_run_of_reports(due_ids)
    due_states = report_states(
        due,
        exported=exported,
        last_runs=last_runs,
        organizations=organizations,
        today=today,
        lag_days=lag_days,
    )
    due_states.sort(key=lambda s: (not s.exportable, s.summary.generated_on, s.report_id))
    with_reports = {s.organization_id for s in summaries}
    unlinked = [
        o for o in organizations.values() if o.active and not o.is_linked
    ]  # every active one without a company; those with reports first
    unlinked.sort(key=lambda o: (o.organization_id not in with_reports, o.name.casefold()))
    daily = admin.daily
    return ctx.render(
        "dashboard.html",
        title="Dashboard",
        check_time=ctx.settings.export.check_time,
        daily_running=daily is not None,
        next_check=daily.next_at() if daily else None,
        last_daily_run=daily_runs[0] if daily_runs else None,
        last_daily_error=daily.last_error if daily else None,
        runs=runs,
        due=due_states[:SHOWN],
        due_count=len(due_states),
        due_blocked=sum(1 for s in due_states if not s.exportable),
        unlinked=unlinked[:SHOWN],
        unlinked_count=len(unlinked),
        unlinked_with_reports=sum(1 for o in unlinked if o.organization_id in with_reports),
        report_count=len(summaries),
        organization_count=len(organizations),
        today=today,
        **money_views.run_money(ctx, [r.id for r in runs]) | money_views.dashboard_money(ctx),
    )


routes = [Route("/", page(dashboard), methods=["GET"])]

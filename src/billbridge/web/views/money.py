"""Money pages: reconciliation per period, needs attention, and the charts of the last year."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from billbridge.domain.money import canonical
from billbridge.domain.reconcile import Reconciliation, Row, Status
from billbridge.domain.totals import Amounts, by_month, changes_since, money_text, totals_by
from billbridge.export.attention import UnknownItemError, needs_attention, resolve_item
from billbridge.export.money import (
    MonthlyMoney,
    all_charges,
    monthly_money,
    report_amounts,
    run_amounts,
)
from billbridge.export.reconcile import (
    PeriodError,
    ReconcileResult,
    parse_period,
    reconcile_period,
    reconcile_sheets,
    rows_sheet,
)
from billbridge.export.sheets import write_csv, write_xlsx
from billbridge.web import charts
from billbridge.web.handlers import Ctx, action, page
from billbridge.web.jobs import EXPECTED_ERRORS, explain_error

STATUS_LABEL = {
    "matched": "matched",
    "over_billed": "over-billed",
    "under_billed": "under-billed",
    "not_in_autotask": "not in Autotask",
    "autotask_only": "Autotask only",
}
STATUS_CLASS = {
    "matched": "good",
    "over_billed": "bad",
    "under_billed": "bad",
    "not_in_autotask": "warn",
    "autotask_only": "info",
}
CUSTOMER_LINES = 6
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -- reconciliation --------------------------------------------------------------------------


def reconcile_page(ctx: Ctx) -> Response:
    periods = _periods(ctx)
    period = ctx.query("period") or (periods[0] if periods else "")
    status = ctx.query("status")
    company = ctx.query("company")
    result, error = _reconcile(ctx, period) if period else (None, None)
    rows: list[Row] = []
    companies: list[tuple[str, str]] = []
    if result is not None:
        every = result.reconciliation.rows
        companies = sorted(
            {(r.organization_id or "", r.organization_name or "") for r in every},
            key=lambda pair: pair[1].casefold(),
        )
        rows = [
            r
            for r in every
            if (not status or r.status.value == status)
            and (not company or r.organization_id == company)
        ]
    query = urlencode({"period": period})
    return ctx.render(
        "reconcile.html",
        title=f"Reconciliation {period}".strip(),
        period=period,
        periods=periods,
        status_filter=status,
        company=company,
        statuses=STATUS_LABEL,
        status_class=STATUS_CLASS,
        companies=companies,
        result=result,
        reconciliation=result.reconciliation if result else None,
        rows=rows,
        error=error,
        csv_link=f"/reconcile/export.csv?{query}",
        money=money_text,
        qty=canonical,
        xlsx_link=f"/reconcile/export.xlsx?{query}",
    )


def reconcile_export(ctx: Ctx) -> Response:
    kind = ctx.path_param("kind")
    if kind not in ("csv", "xlsx"):
        return ctx.not_found("Reconciliations are exported as .csv or .xlsx.")
    period = ctx.query("period")
    result, error = _reconcile(ctx, period)
    if result is None:
        return ctx.render("error.html", status=400, title="Cannot reconcile", message=error)
    name = f"billbridge-reconcile-{result.reconciliation.period}.{kind}"
    with tempfile.TemporaryDirectory(prefix="billbridge-") as folder:
        path = Path(folder) / name
        if kind == "csv":
            write_csv(path, rows_sheet(result.reconciliation))
        else:
            write_xlsx(path, reconcile_sheets(result.reconciliation))
        content = path.read_bytes()
    return Response(
        content,
        media_type="text/csv; charset=utf-8" if kind == "csv" else XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _reconcile(ctx: Ctx, period: str) -> tuple[ReconcileResult | None, str | None]:
    try:
        parse_period(period)
    except PeriodError as exc:
        return None, str(exc).removeprefix("--period: ")
    try:
        with ctx.admin.client_factory(ctx.settings) as client:
            return reconcile_period(ctx.store, ctx.settings, client, period), None
    except EXPECTED_ERRORS as exc:
        return None, explain_error(exc)


def _periods(ctx: Ctx) -> list[str]:
    with ctx.store.transaction() as uow:
        summaries = uow.reports.summaries()
    return sorted({f"{s.period_start:%Y-%m}" for s in summaries}, reverse=True)


# -- needs attention -------------------------------------------------------------------------


def attention_page(ctx: Ctx) -> Response:
    attention = needs_attention(ctx.store, ctx.settings, ctx.admin.today())
    kinds = [
        ("conflict", "Conflicts", "A billed charge that a corrected report would change."),
        ("failed_report", "Failed reports", "Autotask refused a write; its text is below."),
        ("unlinked", "Unlinked organizations with billing", "Not exported until linked."),
        ("below_cost", "Sold below cost", "The price is under the cost."),
        ("margin_below_floor", "Margin under the floor", "Under `reconcile.margin_floor`."),
        ("term_ending", "Terms ending within 30 days", "Renew, or stop billing them."),
    ]
    groups = [
        (kind, label, note, [i for i in attention.open if i.kind == kind])
        for kind, label, note in kinds
    ]
    return ctx.render(
        "attention.html",
        title="Needs attention",
        groups=groups,
        open_count=len(attention.open),
        resolved=attention.resolved,
        money=money_text,
        floor=ctx.settings.reconcile.margin_floor,
    )


def resolve(ctx: Ctx) -> Response:
    key = ctx.field("key")
    note = ctx.field("note")
    by = ctx.field("by") or "admin"
    if not note:
        ctx.flash("warn", "Write a note that says what was done about it.")
        return ctx.back("/attention")
    try:
        item = resolve_item(
            ctx.store, ctx.settings, ctx.admin.today(), key, note, by, ctx.admin.clock()
        )
    except UnknownItemError as exc:
        ctx.flash("error", f"{exc}; it may have been resolved or changed meanwhile.")
        return ctx.back("/attention")
    ctx.flash("ok", f"Resolved: {item.title}.")
    return ctx.back("/attention")


# -- charts ------------------------------------------------------------------------------------


def money_page(ctx: Ctx) -> Response:
    with ctx.store.transaction() as uow:
        names = {o.organization_id: o.name for o in uow.organizations.all()}
    views = [_chart_view(m, names) for m in monthly_money(all_charges(ctx.store))]
    return ctx.render("money.html", title="Money", views=views, money=money_text)


def _chart_view(money: MonthlyMoney, names: dict[str, str]) -> dict[str, object]:
    currency = money.currency
    ranked = sorted(money.customers.items(), key=lambda item: -sum(a.price for a in item[1]))
    top = ranked[:CUSTOMER_LINES]
    series = {names.get(o, o): [a.price for a in amounts] for o, amounts in top}
    rest = ranked[CUSTOMER_LINES:]
    if rest:
        series[f"{len(rest)} others"] = [
            sum((amounts[i].price for _, amounts in rest), Decimal(0))
            for i in range(len(money.months))
        ]
    azure = sorted(
        ((names.get(o, o), sum(v, Decimal(0))) for o, v in money.azure.items()),
        key=lambda item: -item[1],
    )
    customers = [(names.get(o, o), o, _sum(amounts), amounts[-1]) for o, amounts in ranked]
    first, last = money.months[0], money.months[-1]
    return {
        "currency": currency,
        "months": money.months,
        "totals": money.totals,
        "year": _sum(money.totals),
        "customers": customers,
        "azure": azure,
        "azure_latest": {names.get(o, o): v[-1] for o, v in money.azure.items()},
        "total_chart": charts.monthly_bars(
            money.months,
            [a.price for a in money.totals],
            [a.cost for a in money.totals],
            currency,
            title=f"Revenue, cost and margin per month, {first} to {last}, {currency}",
        ),
        "customer_chart": charts.customer_lines(
            money.months,
            series,
            currency,
            title=f"Revenue per customer per month, {first} to {last}, {currency}",
        ),
        "azure_chart": charts.horizontal_bars(
            azure, currency, title=f"Azure spend per customer, {first} to {last}, {currency}"
        )
        if azure
        else None,
    }


def _sum(amounts: Sequence[Amounts]) -> Amounts:
    total = Amounts(amounts[0].currency) if amounts else Amounts("")
    for item in amounts:
        total = total + item
    return total


def status_label(row: Row) -> str:
    return STATUS_LABEL[row.status.value]


def matched(reconciliation: Reconciliation) -> int:
    return sum(1 for r in reconciliation.rows if r.status is Status.MATCHED)


routes = [
    Route("/reconcile", page(reconcile_page), methods=["GET"]),
    Route("/reconcile/export.{kind:str}", page(reconcile_export), methods=["GET"]),
    Route("/attention", page(attention_page), methods=["GET"]),
    Route("/attention/resolve", action(resolve), methods=["POST"]),
    Route("/money", page(money_page), methods=["GET"]),
]


# -- money on the other pages (one line in each of their views) ------------------------------


def report_money(ctx: Ctx, report_ids: Sequence[str]) -> dict[str, Any]:
    """`report_money`: each report's cost, price and margin per currency (reports list)."""
    return {"report_money": report_amounts(ctx.store, report_ids), "money": money_text}


def run_money(ctx: Ctx, run_ids: Sequence[int]) -> dict[str, Any]:
    """`run_money`: what each run's reports bill, per currency (runs table)."""
    return {"run_money": run_amounts(ctx.store, run_ids), "money": money_text}


def dashboard_money(ctx: Ctx) -> dict[str, Any]:
    """`month_money`: the newest period's totals per currency, with the one before."""
    charges = all_charges(ctx.store)
    months = sorted({c.period for c in charges}, reverse=True)
    per_month = totals_by(charges, by_month)
    return {
        "month_money": [(m, per_month[m]) for m in months[:2]],
        "money": money_text,
    }


def organization_money(ctx: Ctx, organization_id: str) -> dict[str, Any]:
    """`organization_money`: (month, amounts per currency), newest first; and the changes of
    the newest month against the one before (`organization_changes`)."""
    charges = all_charges(ctx.store, organization_id=organization_id)
    per_month = totals_by(charges, by_month)
    months = sorted(per_month, reverse=True)
    changes = []
    if len(months) >= 2:
        changes = changes_since(
            [c for c in charges if c.period == months[1]],
            [c for c in charges if c.period == months[0]],
        )
    return {
        "organization_money": [(m, per_month[m]) for m in months],
        "organization_changes": changes,
        "money": money_text,
        "qty": canonical,
    }

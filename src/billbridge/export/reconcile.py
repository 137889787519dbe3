"""`billbridge reconcile`: the imported billing of one period against Autotask's charges now.

Autotask is read in batches like the export (`in` filters of a few hundred values, one query
per entity per batch) and never written. Contracts are found by the subscription UDF (the
subscriptions billed in the period) and by company (the companies linked to organizations,
for charges that nothing billed names); their charges by contract id and purchase date.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from billbridge.autotask import AutotaskClient, F, Filter
from billbridge.config import Settings
from billbridge.domain.organization import Organization
from billbridge.domain.reconcile import (
    Expected,
    HeldCharge,
    Reason,
    Reconciliation,
    period_window,
    reconcile,
)
from billbridge.domain.records import ActualContract
from billbridge.domain.subscription import SubscriptionType
from billbridge.domain.totals import SubscriptionCharge, subscription_charges
from billbridge.export import records
from billbridge.export.errors import ExportSetupError
from billbridge.export.sheets import Sheet
from billbridge.export.tenant import find_udf
from billbridge.store import Store

BATCH = 200
PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


class PeriodError(ValueError):
    """A period that is not `YYYY-MM`."""


def parse_period(text: str) -> date:
    """The first day of `YYYY-MM`."""
    match = PERIOD.fullmatch(text.strip())
    if match is None:
        raise PeriodError(f"--period: {text!r} is not a month as YYYY-MM, e.g. 2026-10")
    return date(int(match[1]), int(match[2]), 1)


def month_end(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class PeriodBilling:
    """What the store says about one period: the charges the rules call for, and where each
    should be (or why it is not exported)."""

    period_start: date
    expected: tuple[Expected, ...]
    linked: dict[int, tuple[str, str]]
    """Company id -> (organization id, name), for every linked organization."""


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    reconciliation: Reconciliation
    requests: int
    """Autotask requests the reconcile made (reads only)."""

    def to_json(self) -> dict[str, Any]:
        return {**self.reconciliation.to_json(), "requests": self.requests}

    @property
    def exit_code(self) -> int:
        return 0 if self.reconciliation.all_matched else 1


def period_billing(store: Store, settings: Settings, period_start: date) -> PeriodBilling:
    """The period's expected charges, each with the reason it would be missing."""
    types = set(settings.export.subscription_types)
    with store.transaction() as uow:
        summaries = [
            s
            for s in uow.reports.summaries()
            if (s.period_start.year, s.period_start.month)
            == (period_start.year, period_start.month)
        ]
        stored = uow.reports.get_many([s.report_id for s in summaries])
        organizations = {o.organization_id: o for o in uow.organizations.all()}
        skus = {line.sku for r in stored for line in r.report.lines}
        price_list = uow.price_list.get_many(skus)
        last_runs = uow.runs.last_run_of_reports(s.report_id for s in summaries)
        exported = uow.exports.exported_hashes()
    expected: list[Expected] = []
    for item in stored:
        report = item.report
        organization = organizations.get(report.organization_id)
        last = last_runs.get(report.report_id)
        for charge in subscription_charges(
            report, price_list, azure_product_name=settings.export.azure_product_name
        ):
            reason, detail = _absent_reason(
                charge,
                organization,
                types,
                last,
                exported.get(report.report_id) == item.content_hash,
            )
            expected.append(
                Expected(
                    charge=charge,
                    organization_name=organization.name if organization else report.organization_id,
                    company_id=organization.autotask_company_id if organization else None,
                    absent_reason=reason,
                    absent_detail=detail,
                )
            )
    linked = {
        o.autotask_company_id: (o.organization_id, o.name)
        for o in sorted(organizations.values(), key=lambda o: o.organization_id, reverse=True)
        if o.autotask_company_id is not None
    }
    return PeriodBilling(period_start, tuple(expected), linked)


def _absent_reason(
    charge: SubscriptionCharge,
    organization: Organization | None,
    types: set[SubscriptionType],
    last_run: tuple[int, str, str | None] | None,
    exported_as_is: bool,
) -> tuple[Reason, str]:
    if organization is None:
        return Reason.UNMAPPED, f"organization {charge.organization_id} is not imported"
    if not organization.active:
        return Reason.INACTIVE, f"{organization.name} is inactive"
    if organization.autotask_company_id is None:
        return Reason.UNMAPPED, f"{organization.name} is not linked to an Autotask company"
    if charge.subscription_type not in types:
        return Reason.FILTERED, f"type {charge.subscription_type.value} is not exported"
    if last_run is not None and last_run[1] == "failed":
        return Reason.FAILED, f"run {last_run[0]}: {last_run[2] or 'failed'}"
    if exported_as_is:
        return Reason.MISSING, "exported, but Autotask holds no charge for it now"
    return Reason.NOT_YET_EXPORTED, ""


def read_period_charges(
    client: AutotaskClient, billing: PeriodBilling, udf_name: str
) -> list[HeldCharge]:
    """Every charge of the period on the contracts that name a billed subscription or belong
    to a linked company, with the subscription each contract names."""
    subscriptions = sorted(
        {e.charge.subscription_id for e in billing.expected if e.company_id is not None}
    )
    contracts: dict[int, ActualContract] = {}
    if subscriptions:
        for record in client.query_in(
            "Contracts", udf_name, subscriptions, udf=True, batch_size=BATCH
        ):
            contract = records.contract(record, udf_name)
            contracts[contract.id] = contract
    if billing.linked:
        for record in client.query_in(
            "Contracts",
            "companyID",
            sorted(billing.linked),
            extra=[F.udf("exist", udf_name)],
            batch_size=BATCH,
        ):
            contract = records.contract(record, udf_name)
            contracts[contract.id] = contract
    if not contracts:
        return []
    first, last = period_window(billing.period_start, month_end(billing.period_start))
    held = []
    for record in client.query_in(
        "ContractCharges",
        "contractID",
        sorted(contracts),
        extra=_purchased_between(first, last),
        batch_size=BATCH,
    ):
        charge = records.charge(record)
        owner = contracts.get(charge.contract_id)
        if owner is None:
            continue
        held.append(
            HeldCharge(
                charge_id=charge.id,
                contract_id=charge.contract_id,
                company_id=owner.company_id,
                subscription_id=owner.subscription_id,
                name=charge.name,
                date_purchased=charge.date_purchased,
                quantity=charge.unit_quantity or Decimal(0),
                unit_cost=charge.unit_cost or Decimal(0),
                unit_price=charge.unit_price or Decimal(0),
                is_billed=charge.is_billed,
            )
        )
    return held


def reconcile_period(
    store: Store, settings: Settings, client: AutotaskClient, period: str
) -> ReconcileResult:
    """Compare one period's imported billing with what Autotask holds now; writes nothing."""
    period_start = parse_period(period)
    billing = period_billing(store, settings, period_start)
    before = client.stats.total
    held: list[HeldCharge] = []
    if billing.linked:
        held = read_period_charges(client, billing, contract_udf(client, settings))
    currencies = Counter(e.charge.currency for e in billing.expected)
    result = reconcile(
        f"{period_start:%Y-%m}",
        billing.expected,
        held,
        linked=billing.linked,
        margin_floor=settings.reconcile.margin_floor,
        default_currency=currencies.most_common(1)[0][0] if currencies else "USD",
    )
    return ReconcileResult(result, client.stats.total - before)


def contract_udf(client: AutotaskClient, settings: Settings) -> str:
    """The subscription UDF's name as the tenant spells it."""
    wanted = settings.autotask.subscription_udf
    name, _ = find_udf(client.udfs("Contracts"), wanted)
    if name is not None:
        return name
    raise ExportSetupError(
        f"autotask.subscription_udf: Autotask has no contract user-defined field {wanted!r}"
    )


def _purchased_between(first: date, last: date) -> Sequence[Filter]:
    return [
        F.gte("datePurchased", f"{first.isoformat()}T00:00:00Z"),
        F.lte("datePurchased", f"{last.isoformat()}T23:59:59Z"),
    ]


ROW_COLUMNS = (
    "organization_id",
    "organization_name",
    "company_id",
    "subscription_id",
    "subscription_type",
    "product",
    "currency",
    "report_id",
    "source_quantity",
    "source_cost",
    "source_price",
    "autotask_charge_id",
    "autotask_quantity",
    "autotask_cost",
    "autotask_price",
    "margin",
    "margin_percent",
    "difference",
    "billed",
    "status",
    "flags",
    "reason",
)
_ROW_MONEY = frozenset(
    ROW_COLUMNS.index(name)
    for name in (
        "source_cost",
        "source_price",
        "autotask_cost",
        "autotask_price",
        "margin",
        "margin_percent",
        "difference",
    )
)


def rows_sheet(reconciliation: Reconciliation) -> Sheet:
    """The rows, one line each, as in `--json` (flags joined by spaces)."""
    lines = []
    for row in reconciliation.rows:
        data = row.to_json()
        data["flags"] = " ".join(data["flags"])
        lines.append([data[name] for name in ROW_COLUMNS])
    return Sheet(f"Rows {reconciliation.period}", ROW_COLUMNS, lines, _ROW_MONEY)


def reconcile_sheets(reconciliation: Reconciliation) -> list[Sheet]:
    """The views of the spreadsheet: rows, per company, totals, tie-out."""
    return [
        rows_sheet(reconciliation),
        _company_sheet(reconciliation),
        _totals_sheet(reconciliation),
        _tie_out_sheet(reconciliation),
    ]


def _company_sheet(reconciliation: Reconciliation) -> Sheet:
    companies = [c.to_json() for c in reconciliation.companies()]
    header = tuple(companies[0]) if companies else ("organization_id",)
    lines = [list(c.values()) for c in companies]
    return Sheet("By company", header, lines, frozenset(range(5, len(header))))


def _totals_sheet(reconciliation: Reconciliation) -> Sheet:
    header = tuple(reconciliation.totals[0].to_json()) if reconciliation.totals else ("currency",)
    lines = [list(t.to_json().values()) for t in reconciliation.totals]
    return Sheet("Totals", header, lines, frozenset(range(1, len(header))))


def _tie_out_sheet(reconciliation: Reconciliation) -> Sheet:
    header = ("currency", "line", "count", "amount")
    lines: list[list[Any]] = []
    for tie in reconciliation.tie_out:
        lines.append([tie.currency, "imported", tie.imported_count, tie.imported])
        lines.append([tie.currency, "in Autotask", tie.in_autotask_count, tie.in_autotask])
        for reason, (count, amount) in sorted(tie.left_out.items()):
            lines.append([tie.currency, f"left out: {reason}", count, amount])
        lines.append([tie.currency, "balanced", None, "yes" if tie.balanced else "NO"])
        lines.append([tie.currency, "Autotask minus source", None, tie.autotask_difference])
        lines.append([tie.currency, "Autotask only", None, tie.autotask_only])
    return Sheet("Tie-out", header, lines, frozenset({3}))

"""`billbridge reconcile`: the imported billing of one period against Autotask's charges now.

Autotask is read in batches like the export (`in` filters of a few hundred values, one query
per entity per batch) and never written. Contracts are found by the subscription UDF (the
subscriptions billed in the period) and by company (the companies linked to organizations,
for charges that nothing billed names); their charges by contract id and purchase date.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from billbridge.autotask import AutotaskClient, F, Filter
from billbridge.config import Settings
from billbridge.domain.organization import Organization
from billbridge.domain.price_list import PriceListItem
from billbridge.domain.reconcile import (
    Expected,
    HeldCharge,
    Reason,
    Reconciliation,
    period_window,
    reconcile,
)
from billbridge.domain.records import ActualContract
from billbridge.domain.report import BillingReport
from billbridge.domain.subscription import SubscriptionType
from billbridge.domain.totals import SubscriptionCharge, subscription_charges
from billbridge.export import records
from billbridge.export.engine import unstored
from billbridge.export.errors import ExportSetupError
from billbridge.export.sheets import Sheet
from billbridge.export.tenant import find_udf
from billbridge.store import Store
from billbridge.store.reports import StoredReport
from billbridge.store.unit_of_work import UnitOfWork

BATCH = 200
PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
MONTH_TO_DATE = "the month to date, which Microsoft invoices once the month has ended"
"""Why a charge of the month to date is not in Autotask yet."""
LastRun = tuple[int, str, str | None]
"""A report's latest run: (run id, status, reason)."""


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
    """Company id -> (organization id, name), for every linked organization whose charges
    that no billing names count as `autotask_only`."""


@dataclass(frozen=True, slots=True)
class StoredPeriod:
    """What the store holds about one period, for its expected charges."""

    reports: list[StoredReport]
    organizations: dict[str, Organization]
    price_list: dict[str, PriceListItem]
    last_runs: dict[str, LastRun]
    exported: dict[str, str]
    """Report id -> the content hash it was last exported in."""


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    reconciliation: Reconciliation
    requests: int
    """Autotask requests the reconcile made (reads only)."""
    unbilled: str | None = None
    """`current` when the source side is Microsoft's month to date, not the store's reports."""

    def to_json(self) -> dict[str, Any]:
        marked = {"unbilled": self.unbilled} if self.unbilled else {}
        return {**marked, **self.reconciliation.to_json(), "requests": self.requests}

    @property
    def exit_code(self) -> int:
        return 0 if self.reconciliation.all_matched else 1


def period_billing(store: Store, settings: Settings, period_start: date) -> PeriodBilling:
    """The period's expected charges, each with the reason it would be missing."""
    stored = read_period(store, period_start)
    expected = expected_charges(
        stored.reports,
        stored.organizations,
        stored.price_list,
        stored.last_runs,
        stored.exported,
        settings,
    )
    return PeriodBilling(period_start, expected, linked_companies(stored.organizations.values()))


def read_period(store: Store, period_start: date) -> StoredPeriod:
    """The period's reports, with what their expected charges depend on."""
    with store.transaction() as uow:
        summaries = [
            s
            for s in uow.reports.summaries()
            if (s.period_start.year, s.period_start.month)
            == (period_start.year, period_start.month)
        ]
        stored = uow.reports.get_many([s.report_id for s in summaries])
        organizations, price_list = _organizations_and_prices(uow, [r.report for r in stored])
        last_runs = uow.runs.last_run_of_reports(s.report_id for s in summaries)
        exported = uow.exports.exported_hashes()
    return StoredPeriod(stored, organizations, price_list, last_runs, exported)


def unbilled_billing(
    store: Store,
    settings: Settings,
    reports: Sequence[BillingReport],
    names: Mapping[str, str] | None = None,
) -> PeriodBilling:
    """The month to date's expected charges. They are never exported, so one missing from
    Autotask is not yet exported (unless its organization or type keeps it out). Only the
    subscriptions it names are compared: the unbilled usage export holds no licences, whose
    charges for the month would otherwise all count as `autotask_only`. `names` names the
    organizations the store does not have."""
    period_start = _latest_period(reports) or store.clock().date().replace(day=1)
    current = [r for r in reports if r.period_start.replace(day=1) == period_start]
    with store.transaction() as uow:
        organizations, price_list = _organizations_and_prices(uow, current)
    at = store.clock()
    expected = expected_charges(
        [unstored(report, at) for report in current],
        organizations,
        price_list,
        {},
        {},
        settings,
        pending=MONTH_TO_DATE,
        names=names,
    )
    return PeriodBilling(period_start, expected, {})


def _latest_period(reports: Iterable[BillingReport]) -> date | None:
    """The first day of the latest month the reports cover (Microsoft's current period)."""
    return max((r.period_start.replace(day=1) for r in reports), default=None)


def _organizations_and_prices(
    uow: UnitOfWork, reports: Sequence[BillingReport]
) -> tuple[dict[str, Organization], dict[str, PriceListItem]]:
    organizations = {o.organization_id: o for o in uow.organizations.all()}
    price_list = uow.price_list.get_many({line.sku for r in reports for line in r.lines})
    return organizations, price_list


def expected_charges(
    reports: Sequence[StoredReport],
    organizations: Mapping[str, Organization],
    price_list: Mapping[str, PriceListItem],
    last_runs: Mapping[str, LastRun],
    exported: Mapping[str, str],
    settings: Settings,
    *,
    pending: str = "",
    names: Mapping[str, str] | None = None,
) -> tuple[Expected, ...]:
    """Each subscription charge the reports call for, with the reason it would be missing
    from Autotask; `pending` says more about one that is simply not exported yet, `names`
    names organizations that are not in `organizations`."""
    types = set(settings.export.subscription_types)
    expected: list[Expected] = []
    for item in reports:
        report = item.report
        organization = organizations.get(report.organization_id)
        name = organization.name if organization else (names or {}).get(report.organization_id)
        company_id = organization.autotask_company_id if organization else None
        last = last_runs.get(report.report_id)
        exported_as_is = exported.get(report.report_id) == item.content_hash
        for charge in subscription_charges(
            report, price_list, azure_product_name=settings.export.azure_product_name
        ):
            reason, detail = _absent_reason(charge, organization, types, last, exported_as_is)
            if reason is Reason.NOT_YET_EXPORTED:
                detail = pending
            expected.append(
                Expected(charge, name or report.organization_id, company_id, reason, detail)
            )
    return tuple(expected)


def linked_companies(organizations: Iterable[Organization]) -> dict[int, tuple[str, str]]:
    """Company id -> (organization id, name) of every linked organization (the first by
    organization id where several share a company)."""
    return {
        o.autotask_company_id: (o.organization_id, o.name)
        for o in sorted(organizations, key=lambda o: o.organization_id, reverse=True)
        if o.autotask_company_id is not None
    }


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
    billing = period_billing(store, settings, parse_period(period))
    return _against_autotask(billing, settings, client)


def reconcile_unbilled(
    store: Store,
    settings: Settings,
    client: AutotaskClient,
    reports: Sequence[BillingReport],
    names: Mapping[str, str] | None = None,
) -> ReconcileResult:
    """Compare the month to date (`reports`, read from Microsoft's unbilled usage and never
    stored) with what Autotask holds now; writes nothing. `names`: organization id -> name
    as Microsoft names them, for organizations the store does not have."""
    billing = unbilled_billing(store, settings, reports, names)
    return replace(_against_autotask(billing, settings, client), unbilled="current")


def _against_autotask(
    billing: PeriodBilling, settings: Settings, client: AutotaskClient
) -> ReconcileResult:
    before = client.stats.total
    held: list[HeldCharge] = []
    if billing.linked or any(e.company_id is not None for e in billing.expected):
        held = read_period_charges(client, billing, contract_udf(client, settings))
    currencies = Counter(e.charge.currency for e in billing.expected)
    result = reconcile(
        f"{billing.period_start:%Y-%m}",
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


def rows_sheet(reconciliation: Reconciliation, unbilled: str | None = None) -> Sheet:
    """The rows, one line each, as in `--json` (flags joined by spaces). Rows of the month
    to date (`unbilled`) say so in a last column, as `--json` does at its top."""
    lines = []
    for row in reconciliation.rows:
        data = row.to_json()
        data["flags"] = " ".join(data["flags"])
        lines.append([data[name] for name in ROW_COLUMNS] + ([unbilled] if unbilled else []))
    if unbilled:
        header = (*ROW_COLUMNS, "unbilled")
        return Sheet(f"Rows {reconciliation.period} to date", header, lines, _ROW_MONEY)
    return Sheet(f"Rows {reconciliation.period}", ROW_COLUMNS, lines, _ROW_MONEY)


def reconcile_sheets(reconciliation: Reconciliation, unbilled: str | None = None) -> list[Sheet]:
    """The views of the spreadsheet: rows, per company, totals, tie-out."""
    return [
        rows_sheet(reconciliation, unbilled),
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

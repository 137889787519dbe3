"""Money of the imported billing as pages and commands show it: per report, run, company and
month, from the store (the rules' charges; no Autotask request)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billbridge.domain.subscription import SubscriptionType
from billbridge.domain.totals import (
    Amounts,
    SubscriptionCharge,
    by_month,
    by_organization,
    by_report,
    subscription_charges,
    total,
    totals_by,
)
from billbridge.store import Store

MONTHS = 12


def charges_of_reports(store: Store, report_ids: Iterable[str]) -> list[SubscriptionCharge]:
    with store.transaction() as uow:
        reports = uow.reports.get_many(list(dict.fromkeys(report_ids)))
    return [c for stored in reports for c in subscription_charges(stored.report)]


def all_charges(store: Store, *, organization_id: str | None = None) -> list[SubscriptionCharge]:
    """The charges of every current report (of one organization)."""
    with store.transaction() as uow:
        ids = [s.report_id for s in uow.reports.summaries(organization_id=organization_id)]
    return charges_of_reports(store, ids)


def report_amounts(store: Store, report_ids: Iterable[str]) -> dict[str, list[Amounts]]:
    """Cost, price and margin of each report, per currency."""
    return totals_by(charges_of_reports(store, report_ids), by_report)


def run_amounts(store: Store, run_ids: Iterable[int]) -> dict[int, list[Amounts]]:
    """Each run's reports, at the revision the run exported, summed per currency."""
    wanted = set(run_ids)
    with store.transaction() as uow:
        revisions: dict[int, list[tuple[str, int]]] = {}
        for run_id in wanted:
            detail = uow.runs.get(run_id)
            if detail is not None:
                revisions[run_id] = [(r.report_id, r.revision) for r in detail.reports]
        found: dict[int, list[SubscriptionCharge]] = {}
        for run_id, pairs in revisions.items():
            for report_id, revision in pairs:
                stored = uow.reports.get(report_id, revision=revision)
                if stored is not None:
                    found.setdefault(run_id, []).extend(subscription_charges(stored.report))
    return {run_id: total(charges) for run_id, charges in found.items()}


@dataclass(frozen=True, slots=True)
class MonthlyMoney:
    """The last months of one currency: totals, per customer, and Azure per customer."""

    currency: str
    months: tuple[str, ...]
    totals: tuple[Amounts, ...]
    customers: dict[str, tuple[Amounts, ...]]
    """Organization id -> its amounts in each month (zero where it had no billing)."""
    azure: dict[str, tuple[Decimal, ...]]
    """Organization id -> its Azure price in each month."""


def last_months(latest: date, count: int = MONTHS) -> tuple[str, ...]:
    months = []
    year, month = latest.year, latest.month
    for _ in range(count):
        months.append(f"{year:04}-{month:02}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return tuple(reversed(months))


def monthly_money(
    charges: Sequence[SubscriptionCharge], latest: date | None = None, count: int = MONTHS
) -> list[MonthlyMoney]:
    """Per currency, the `count` months up to `latest` (default: the newest period billed)."""
    if not charges:
        return []
    newest = latest or max(c.period_start for c in charges)
    months = last_months(newest, count)
    shown = [c for c in charges if c.period in months]
    result = []
    for currency in sorted({c.currency for c in shown}):
        mine = [c for c in shown if c.currency == currency]
        per_month = totals_by(mine, by_month)
        totals = tuple(_one(per_month.get(m), currency) for m in months)
        customers = {}
        for organization, group in _grouped(mine).items():
            by = totals_by(group, by_month)
            customers[organization] = tuple(_one(by.get(m), currency) for m in months)
        azure = {}
        for organization, group in _grouped(
            [c for c in mine if c.subscription_type is SubscriptionType.AZURE]
        ).items():
            by = totals_by(group, by_month)
            azure[organization] = tuple(_one(by.get(m), currency).price for m in months)
        result.append(MonthlyMoney(currency, months, totals, customers, azure))
    return result


def organization_totals(charges: Sequence[SubscriptionCharge]) -> dict[str, list[Amounts]]:
    return totals_by(charges, by_organization)


def _grouped(charges: Iterable[SubscriptionCharge]) -> dict[str, list[SubscriptionCharge]]:
    groups: dict[str, list[SubscriptionCharge]] = {}
    for charge in charges:
        groups.setdefault(charge.organization_id, []).append(charge)
    return groups


def _one(amounts: list[Amounts] | None, currency: str) -> Amounts:
    return amounts[0] if amounts else Amounts(currency)

"""Organizations and billing reports out of the lines and meters read.

One report per customer, billing period and kind of file, with an id that depends only on
those, so the same file imported twice gives the same reports:

- `pc-invoice-YYYY-MM-<customer>`: licences, Marketplace and perpetual software from the
  invoice reconciliation; the period is the calendar month being invoiced.
- `pc-usage-YYYY-MM-<customer>` (`YYYY-MM-DD` when a cycle does not start on the 1st): Azure
  from the daily-rated usage file; the period is Microsoft's billing cycle.

The two kinds never share a subscription: the reconciliation's Azure plan lines are left out
(they summarise, per Azure plan, what the usage file details per Azure subscription), so an
Azure subscription's charge for a period comes from the usage file alone, and importing the two
files in either order, together or apart, never makes one overwrite the other.

The billing period of an invoice is the latest one among its lines: for the reconciliation the
month of the latest `ChargeStartDate`, for usage the latest `ChargeStartDate`..`ChargeEndDate`.
Older lines on the same invoice (late usage, a charge event from the end of the previous month)
are billed in that period: they were invoiced then, and must not make a report of an earlier
period that would replace the one its own invoice made.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import reduce

from billbridge.domain.organization import Organization
from billbridge.domain.report import BillingReport, ReportLine
from billbridge.domain.subscription import SubscriptionType
from billbridge.sources.partner_center.charges import licence_charge
from billbridge.sources.partner_center.invoice import InvoiceLine
from billbridge.sources.partner_center.numbers import EXACT, tidy
from billbridge.sources.partner_center.prices import Pricing
from billbridge.sources.partner_center.usage import (
    CUSTOMER_DOMAIN,
    CUSTOMER_NAME,
    UNIT,
    MeterUsage,
    UsageKey,
)
from billbridge.sources.problems import ProblemLog
from billbridge.sources.reports import LocatedReport

MAX_USAGE_UNIT = 100
MAX_NAME = 500

_ZERO = Decimal(0)

Where = tuple[int, int]
"""(file index, line): where something was first seen, comparable across files."""


@dataclass(slots=True)
class UsageMeters:
    """The meters of every usage file read, merged as each file is read: a pull reads one file
    per blob of Microsoft's export, and each would otherwise hold nearly every meter again."""

    merged: dict[UsageKey, tuple[MeterUsage, Where]] = field(default_factory=dict)

    def add(self, index: int, meters: dict[UsageKey, MeterUsage]) -> None:
        """File `index`'s meters, merged with those of the files before."""
        merged = self.merged
        for key, meter in meters.items():
            where = (index, meter.line)
            found = merged.get(key)
            if found is None:
                merged[key] = (meter, where)
            else:
                found[0].absorb(meter)
                merged[key] = (found[0], min(found[1], where))


@dataclass(slots=True)
class _Customer:
    where: Where
    name: str | None = None
    name_where: Where | None = None
    domain: str | None = None

    def offer(self, where: Where, name: str | None, domain: str | None) -> None:
        self.where = min(self.where, where)
        if name and (self.name_where is None or where < self.name_where):
            self.name, self.name_where = name, where
            self.domain = domain or self.domain
        elif domain and self.domain is None:
            self.domain = domain


@dataclass(slots=True)
class Builder:
    """Collects what the files say, then makes organizations and reports."""

    files: Sequence[str]
    generated_on: date
    pricing: Pricing
    log: ProblemLog
    warnings: list[str] = field(default_factory=list)
    customers: dict[str, _Customer] = field(default_factory=dict)

    def customer(
        self, customer_id: str, where: Where, name: str | None, domain: str | None
    ) -> None:
        found = self.customers.get(customer_id)
        if found is None:
            found = self.customers[customer_id] = _Customer(where)
        found.offer(where, name, domain)

    def organizations(self) -> list[Organization]:
        result = []
        for customer_id, customer in sorted(self.customers.items(), key=lambda c: c[1].where):
            name = customer.name or customer.domain or customer_id
            if customer.name is None:
                self.warnings.append(
                    f"customer {customer_id} has no CustomerName in the files; it is named {name}"
                )
            result.append(Organization(customer_id, name[:MAX_NAME], customer.domain))
        return result

    def invoice_reports(self, lines: Sequence[InvoiceLine]) -> list[LocatedReport]:
        months: dict[str, date] = {}
        for line in lines:
            self.customer(
                line.customer.customer_id, line.order, line.customer.name, line.customer.domain
            )
            month = line.charge_start.replace(day=1)
            months[line.invoice_number] = max(months.get(line.invoice_number, month), month)
        by_report: dict[tuple[str, date], list[InvoiceLine]] = defaultdict(list)
        for line in lines:
            by_report[(line.customer.customer_id, months[line.invoice_number])].append(line)
        skipped: dict[str, int] = defaultdict(int)
        reports = []
        for (customer_id, month), own in sorted(
            by_report.items(), key=lambda item: min(line.order for line in item[1])
        ):
            currency = self._one_currency([(line.currency, line.order) for line in own], "Currency")
            period_end = month.replace(day=calendar.monthrange(month.year, month.month)[1])
            subscriptions: dict[str, list[InvoiceLine]] = defaultdict(list)
            for line in own:
                if line.subscription_type is SubscriptionType.AZURE:
                    skipped[line.file] += 1
                else:
                    subscriptions[line.subscription_id].append(line)
            report_lines = [
                self._licence_line(subscription_lines, currency)
                for _, subscription_lines in sorted(subscriptions.items())
            ]
            kept = tuple(line for line in report_lines if line is not None)
            if currency is None or not kept:
                continue
            first = min(own, key=lambda line: line.order)
            report = BillingReport(
                report_id=f"pc-invoice-{month:%Y-%m}-{customer_id}",
                organization_id=customer_id,
                generated_on=self.generated_on,
                period_start=month,
                period_end=period_end,
                currency=currency,
                lines=kept,
            )
            reports.append(LocatedReport(report, first.file, first.line))
        for file, count in skipped.items():
            self.warnings.append(
                f"{file}: {count} Azure plan line{'s' if count > 1 else ''} left out: Azure is"
                " imported from the daily-rated usage file, which details them per Azure"
                " subscription"
            )
        return reports

    def _licence_line(self, lines: list[InvoiceLine], currency: str | None) -> ReportLine | None:
        outcome = licence_charge(lines)
        self.warnings.extend(outcome.warnings)
        charge = outcome.charge
        if charge is None or currency is None:
            return None
        line = charge.line
        starts = [x.subscription_start for x in lines if x.subscription_start is not None]
        ends = [x.subscription_end for x in lines if x.subscription_end is not None]
        return ReportLine(
            subscription_id=line.subscription_id,
            subscription_type=line.subscription_type,
            sku=line.sku,
            product_name=line.product_name[:MAX_NAME],
            quantity=tidy(charge.quantity),
            unit_cost=tidy(charge.unit_cost),
            unit_price=tidy(
                self.pricing.licence_price(
                    line.sku, line.product_name, currency, charge.unit_cost, charge.proration
                )
            ),
            subscription_start=line.subscription_start or (min(starts) if starts else None),
            subscription_end=line.subscription_end or (max(ends) if ends else None),
            charge_start=charge.charge_start,
            charge_end=charge.charge_end,
        )

    def usage_reports(self, usage: UsageMeters) -> list[LocatedReport]:
        merged = usage.merged
        cycles: dict[str, tuple[date, date]] = {}
        for key in merged:
            cycle = (key.charge_start, key.charge_end)
            cycles[key.invoice_number] = max(cycles.get(key.invoice_number, cycle), cycle)
        by_report: dict[tuple[str, date, date], list[tuple[UsageKey, MeterUsage, Where]]] = (
            defaultdict(list)
        )
        for key, (meter, where) in merged.items():
            self.customer(
                key.customer_id,
                where,
                meter.label(CUSTOMER_NAME),
                _lower(meter.label(CUSTOMER_DOMAIN)),
            )
            start, end = cycles[key.invoice_number]
            by_report[(key.customer_id, start, end)].append((key, meter, where))
        reports = []
        for (customer_id, start, end), meters in sorted(
            by_report.items(), key=lambda r: min(m[2] for m in r[1])
        ):
            currency = self._one_currency(
                [(key.currency, where) for key, _, where in meters], "BillingCurrency"
            )
            if currency is None:
                continue
            lines = self._usage_lines(meters, start, end)
            first = min(where for _, _, where in meters)
            label = f"{start:%Y-%m}" if start.day == 1 else f"{start:%Y-%m-%d}"
            report = BillingReport(
                report_id=f"pc-usage-{label}-{customer_id}",
                organization_id=customer_id,
                generated_on=self.generated_on,
                period_start=start,
                period_end=end,
                currency=currency,
                lines=lines,
            )
            reports.append(LocatedReport(report, self.files[first[0]], first[1]))
        return reports

    def _usage_lines(
        self, meters: list[tuple[UsageKey, MeterUsage, Where]], start: date, end: date
    ) -> tuple[ReportLine, ...]:
        """One line per Azure subscription and meter: quantity 1, the exact totals as unit
        cost and price, the quantity used for drill-down."""
        by_slot: dict[tuple[str, str], list[MeterUsage]] = {}
        for key, meter, _ in meters:
            by_slot.setdefault((key.entitlement_id, key.meter), []).append(meter)
        lines = []
        for (entitlement_id, meter_id), same in sorted(by_slot.items()):
            # From 0 even for one meter (0 + -0 is 0), by EXACT's own methods: a
            # `localcontext` per line cost more than the sums.
            cost = reduce(EXACT.add, [m.cost for m in same], _ZERO)
            list_price = reduce(EXACT.add, [m.list_price for m in same], _ZERO)
            quantity = reduce(EXACT.add, [m.quantity for m in same], _ZERO)
            if len(same) == 1:  # the usual case: one invoice and cycle per meter
                meter_name, unit = same[0].meter_name, same[0].label(UNIT) or ""
            else:
                meter_name, unit = min((m.meter_name, m.label(UNIT) or "") for m in same)
            lines.append(
                ReportLine(
                    subscription_id=entitlement_id,
                    subscription_type=SubscriptionType.AZURE,
                    sku=meter_id,
                    product_name=(meter_name or meter_id)[:MAX_NAME],
                    quantity=Decimal(1),
                    unit_cost=tidy(cost),
                    unit_price=tidy(self.pricing.azure_price(cost, list_price)),
                    charge_start=start,
                    charge_end=end,
                    usage_quantity=tidy(quantity),
                    usage_unit=unit[:MAX_USAGE_UNIT] if unit else None,
                )
            )
        return tuple(lines)

    def _one_currency(self, seen: list[tuple[str, Where]], column: str) -> str | None:
        """The report's one currency, or None with a problem at the first line of each other."""
        first_at: dict[str, Where] = {}
        for currency, where in seen:
            if currency not in first_at or where < first_at[currency]:
                first_at[currency] = where
        ordered = sorted(first_at.items(), key=lambda item: item[1])
        currency, where = ordered[0]
        for other, other_where in ordered[1:]:
            self.log.add(
                self.files[other_where[0]],
                other_where[1],
                column,
                f"'{other}' differs from '{currency}' at {self.files[where[0]]}:{where[1]}:"
                " one customer's billing for one period must be in one currency",
            )
        return None if len(ordered) > 1 else currency


def _lower(text: str | None) -> str | None:
    return text.lower() if text else None

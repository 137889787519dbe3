"""Builders of domain values for the rule and plan tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TypedDict, Unpack

from billbridge.domain.organization import Organization
from billbridge.domain.price_list import PriceListItem
from billbridge.domain.report import BillingReport, ReportLine
from billbridge.domain.rules import ExportRules
from billbridge.domain.subscription import SubscriptionType

OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))
CONTOSO = Organization("org-1", "Contoso Ltd", "contoso.com", 101)
RULES = ExportRules(
    subscription_types=frozenset(SubscriptionType),
    azure_product_name="Azure Plan",
    open_ended_years=10,
    product_billing_code_id=29682801,
)
BASIC = PriceListItem(
    "CFQ7TTC0LH18:0001",
    "Microsoft 365 Business Basic",
    SubscriptionType.CSP365,
    Decimal("5.40"),
    Decimal("6.00"),
    "USD",
)


class LineDates(TypedDict, total=False):
    """The optional dates of a report line, passed through to `ReportLine`."""

    subscription_start: date
    subscription_end: date
    charge_start: date
    charge_end: date


def line(
    subscription_id: str = "sub-1",
    kind: SubscriptionType = SubscriptionType.CSP365,
    quantity: str = "10",
    unit_cost: str = "5.40",
    unit_price: str = "6.00",
    sku: str = "CFQ7TTC0LH18:0001",
    product_name: str = "Microsoft 365 Business Basic",
    **dates: Unpack[LineDates],
) -> ReportLine:
    return ReportLine(
        subscription_id,
        kind,
        sku,
        product_name,
        Decimal(quantity),
        Decimal(unit_cost),
        Decimal(unit_price),
        subscription_start=dates.get("subscription_start"),
        subscription_end=dates.get("subscription_end"),
        charge_start=dates.get("charge_start"),
        charge_end=dates.get("charge_end"),
    )


def report(
    *lines: ReportLine, period: tuple[date, date] = OCTOBER, report_id: str = "r-oct"
) -> BillingReport:
    return BillingReport(
        report_id=report_id,
        organization_id="org-1",
        generated_on=period[0],
        period_start=period[0],
        period_end=period[1],
        currency="USD",
        lines=lines,
    )

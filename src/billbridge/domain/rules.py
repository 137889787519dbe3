"""The FAQ's rules: one billing report becomes the contracts, charges and products it should
produce in Autotask (README, "What lands in Autotask"). Pure functions of their arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billbridge.domain.money import EXACT, canonical, exact_sum, round_cents
from billbridge.domain.organization import Organization, organization_exportable
from billbridge.domain.price_list import PriceListItem
from billbridge.domain.records import (
    ChargeKey,
    ChargeMarker,
    ContractKey,
    DesiredCharge,
    DesiredContract,
    DesiredProduct,
    DesiredState,
    ProductKey,
    Skipped,
)
from billbridge.domain.report import BillingReport, ReportLine
from billbridge.domain.subscription import SubscriptionType

CONTRACT_NAME_LIMIT = 100
CHARGE_NAME_LIMIT = 100
PRODUCT_NAME_LIMIT = 100


@dataclass(frozen=True, slots=True)
class ExportRules:
    """The settings the rules depend on, resolved against the tenant where needed."""

    subscription_types: frozenset[SubscriptionType]
    azure_product_name: str
    open_ended_years: int
    product_billing_code_id: int


def desired_state(
    report: BillingReport,
    organization: Organization,
    price_list: Mapping[str, PriceListItem],
    rules: ExportRules,
) -> DesiredState | Skipped:
    """What `report` should produce in Autotask, or why it is not exported."""
    refusal = organization_exportable(organization)
    if refusal is not None:
        reason, detail = refusal
        return Skipped(report.report_id, organization.organization_id, reason, detail)
    assert organization.autotask_company_id is not None
    company_id = organization.autotask_company_id
    contracts: list[DesiredContract] = []
    charges: list[DesiredCharge] = []
    products: dict[ProductKey, DesiredProduct] = {}
    warnings: list[str] = []
    for subscription_id, lines in report.subscriptions():
        kind = lines[0].subscription_type
        if kind not in rules.subscription_types:
            continue
        contract_key = ContractKey(company_id, subscription_id)
        if kind is SubscriptionType.AZURE:
            product = _azure_product(rules)
            charge = _azure_charge(report, contract_key, lines, rules)
        else:
            line = charge_line(lines)
            product = _licence_product(report, line, price_list, rules, warnings)
            charge = _licence_charge(report, contract_key, line, product)
        products.setdefault(product.key, product)
        contracts.append(_contract(report, contract_key, kind, product.name, lines, rules))
        charges.append(charge)
    return DesiredState(
        report_id=report.report_id,
        organization_id=organization.organization_id,
        company_id=company_id,
        contracts=tuple(contracts),
        charges=tuple(charges),
        products=tuple(products.values()),
        warnings=tuple(warnings),
    )


def charge_line(lines: Sequence[ReportLine]) -> ReportLine:
    """The line a licence charge takes its quantity and prices from.

    The largest quantity of the period is what the customer had at its peak; where several
    lines share it, the last one wins, as it reflects the latest price.
    """
    chosen = lines[0]
    for line in lines[1:]:
        if line.quantity >= chosen.quantity:
            chosen = line
    return chosen


def add_years(day: date, years: int) -> date:
    """`day` moved by whole years; February 29 becomes February 28 in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _contract(
    report: BillingReport,
    key: ContractKey,
    kind: SubscriptionType,
    product_name: str,
    lines: Sequence[ReportLine],
    rules: ExportRules,
) -> DesiredContract:
    if kind.has_term:
        starts = [line.subscription_start for line in lines if line.subscription_start]
        ends = [line.subscription_end for line in lines if line.subscription_end]
        start = min(starts) if starts else report.period_start
        end = max(ends) if ends else report.period_end
        synthetic = False
    else:
        start = report.period_start
        end = add_years(start, rules.open_ended_years)
        synthetic = True
    suffix = f" ({key.subscription_id[:8]})"
    return DesiredContract(
        key=key,
        subscription_type=kind,
        product_name=product_name,
        name=_fit(product_name, CONTRACT_NAME_LIMIT - len(suffix)) + suffix,
        description=f"{product_name}, {kind.value} subscription {key.subscription_id}."
        " Managed by billbridge.",
        start_date=start,
        end_date=end,
        synthetic_term=synthetic,
    )


def _licence_product(
    report: BillingReport,
    line: ReportLine,
    price_list: Mapping[str, PriceListItem],
    rules: ExportRules,
    warnings: list[str],
) -> DesiredProduct:
    item = price_list.get(line.sku)
    if item is None:
        warnings.append(
            f"sku {line.sku} ({line.product_name}) is not in the price list;"
            " its product takes the report's name and prices"
        )
        name, cost, price, description = line.product_name, line.unit_cost, line.unit_price, None
    elif item.currency != report.currency:
        warnings.append(
            f"sku {line.sku} is priced in {item.currency} in the price list but the report is in"
            f" {report.currency}; its product takes the report's prices"
        )
        name, cost, price, description = item.product_name, line.unit_cost, line.unit_price, None
    else:
        name, cost, price = item.product_name, item.unit_cost, item.unit_price
        description = item.description
    return DesiredProduct(
        key=ProductKey(sku=line.sku),
        name=_fit(name, PRODUCT_NAME_LIMIT),
        sku=line.sku,
        unit_cost=cost,
        unit_price=price,
        billing_code_id=rules.product_billing_code_id,
        description=description,
    )


def _azure_product(rules: ExportRules) -> DesiredProduct:
    return DesiredProduct(
        key=ProductKey(name=rules.azure_product_name),
        name=rules.azure_product_name,
        sku=None,
        unit_cost=Decimal(0),
        unit_price=Decimal(0),
        billing_code_id=rules.product_billing_code_id,
        description="Microsoft Azure plan usage, one charge per subscription and month.",
        create_only=True,
    )


def _licence_charge(
    report: BillingReport, contract: ContractKey, line: ReportLine, product: DesiredProduct
) -> DesiredCharge:
    key = ChargeKey(contract.subscription_id, report.period_start)
    seats = "seat" if line.quantity == 1 else "seats"
    return DesiredCharge(
        key=key,
        contract_key=contract,
        product_key=product.key,
        report_id=report.report_id,
        name=_charge_name(product.name, report),
        description=f"{product.name}, {canonical(line.quantity)} {seats}, {report.period_label}",
        notes=_bookkeeping(report, key),
        date_purchased=report.period_start,
        unit_quantity=line.quantity,
        unit_cost=line.unit_cost,
        unit_price=line.unit_price,
        currency=report.currency,
    )


def _azure_charge(
    report: BillingReport, contract: ContractKey, lines: Sequence[ReportLine], rules: ExportRules
) -> DesiredCharge:
    # Summed exactly, rounded once: rounding each meter would drift by cents on big tenants.
    cost = round_cents(exact_sum(EXACT.multiply(line.quantity, line.unit_cost) for line in lines))
    price = round_cents(exact_sum(EXACT.multiply(line.quantity, line.unit_price) for line in lines))
    key = ChargeKey(contract.subscription_id, report.period_start)
    return DesiredCharge(
        key=key,
        contract_key=contract,
        product_key=ProductKey(name=rules.azure_product_name),
        report_id=report.report_id,
        name=_charge_name(rules.azure_product_name, report),
        description=f"{rules.azure_product_name}, usage {report.period_label}",
        notes=_bookkeeping(report, key, f"{len(lines)} usage lines"),
        date_purchased=report.period_start,
        unit_quantity=Decimal(1),
        unit_cost=cost,
        unit_price=price,
        currency=report.currency,
    )


def _charge_name(product_name: str, report: BillingReport) -> str:
    suffix = f" {report.period_label}"
    return _fit(product_name, CHARGE_NAME_LIMIT - len(suffix)) + suffix


def _bookkeeping(report: BillingReport, key: ChargeKey, detail: str = "") -> str:
    """What billbridge needs to find the charge again, for the charge's `notes`: the marker,
    and for a person in Autotask the report and period it came from."""
    marker = ChargeMarker(report.report_id, key.subscription_id, key.period_label)
    extra = f", {detail}" if detail else ""
    return (
        f"Exported by billbridge from report {report.report_id}"
        f" ({report.period_start}..{report.period_end}{extra}).\n{marker.render()}"
    )


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

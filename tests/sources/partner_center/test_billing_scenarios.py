"""Microsoft's documented New Commerce billing scenarios, as invoice reconciliation files.

`ms_docs_nce_billing_scenarios.csv` transcribes the tables of Microsoft's "Billing scenarios for
one-time and select recurring purchases in new commerce experience". Each scenario becomes a
reconciliation CSV (one invoice per month, as Microsoft issues them), and the charge billbridge
makes of it is checked against what Microsoft says the customer has: the seat count, and the
price of one seat for a whole charge cycle.

The doc's known inconsistencies do not change these results: scenario E's prose says 112.8 for
the charge line where its table says 112.89 (billbridge uses the unit price, 10.08, either way),
scenario G's prorated prices are rounded where other scenarios truncate (only the full-cycle
price, 12.00, is billed), and L/M's annual-to-monthly proration basis is unexplained (the
`changeBillingPlan` line's own price is the new cycle's price).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billbridge.domain.report import ReportLine
from billbridge.domain.subscription import SubscriptionType
from billbridge.sources.partner_center import PartnerCenterImport

from .builders import RECON_COLUMNS, SCENARIOS, read, recon_row, us_date, write_csv

PRODUCTS = {
    "Microsoft 365 Business Standard": ("CFQ7TTC0LDPB", "0001"),
    "Office 365 E1": ("CFQ7TTC0LF8R", "0001"),
    "Dynamics 365 Guides": ("CFQ7TTC0LH0R", "0002"),
    "Dynamics 365 Commerce": ("CFQ7TTC0MCM0", "0001"),
}
DEFAULT_SUBSCRIPTION = "0a0a0a0a-0000-4000-8000-00000000000{}"
BASE = "284b0ff0-0e74-4f65-cb23-f8ad95867994"
UPGRADE_TARGET = "6759acd5-a8a9-4402-94b7-803baa64a78e"


def scenario(name: str) -> list[dict[str, str]]:
    with SCENARIOS.open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return [row for row in rows if row["scenario"] == name]


def recon_rows(name: str, *, subscription_index: int = 1) -> list[dict[str, str]]:
    """The scenario's rows as reconciliation lines, invoiced in the month each line starts."""
    lines = []
    for row in scenario(name):
        product = row["product"] or "Microsoft 365 Business Standard"
        product_id, sku_id = PRODUCTS[product]
        start, end = row["charge_start_date"], row["charge_end_date"]
        price = row["effective_unit_price"]
        lines.append(
            recon_row(
                CustomerId="5c0e0000-0000-4000-8000-0000000000aa",
                CustomerName=f"Scenario {name[0]}",
                InvoiceNumber=f"G{start[:7].replace('-', '')}",
                OrderDate=us_date(row["order_date"] or start),
                ProductId=product_id,
                SkuId=sku_id,
                SkuName=product,
                ProductName=product,
                ChargeType=row["charge_type"],
                UnitPrice=row["unit_price"] or price,
                EffectiveUnitPrice=price,
                Quantity=row["billable_quantity"],
                BillableQuantity=row["billable_quantity"],
                Subtotal=row["total"],
                Total=row["total"],
                Currency=row["currency"] or "EUR",
                PricingCurrency=row["currency"] or "EUR",
                SubscriptionId=row["subscription_id"]
                or DEFAULT_SUBSCRIPTION.format(subscription_index),
                ReferenceId=row["reference_id"],
                ChargeStartDate=us_date(start),
                ChargeEndDate=us_date(end),
                BillingFrequency=row["billing_frequency"],
                ProductQualifiers=row["product_qualifiers"] or "[]",
                SubscriptionStartDate=us_date(row["subscription_start_date"] or start),
                SubscriptionEndDate=us_date(row["subscription_end_date"] or end),
            )
        )
    return lines


def charges(result: PartnerCenterImport) -> dict[tuple[date, str], ReportLine]:
    """The charge line of each (period, subscription): one line per subscription per report."""
    found: dict[tuple[date, str], list[ReportLine]] = defaultdict(list)
    for located in result.reports:
        for line in located.report.lines:
            found[(located.report.period_start, line.subscription_id)].append(line)
    assert all(len(lines) == 1 for lines in found.values())
    return {key: lines[0] for key, lines in found.items()}


def run(tmp_path: Path, rows: list[dict[str, str]], **options: object) -> PartnerCenterImport:
    path = write_csv(tmp_path / "recon.csv", rows, RECON_COLUMNS)
    return read(path, license_markup=Decimal(20), **options)  # type: ignore[arg-type]


def only(result: PartnerCenterImport) -> ReportLine:
    lines = [line for located in result.reports for line in located.report.lines]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize(
    ("name", "quantity", "unit_cost"),
    [
        ("A_monthly_new", "10", "10.08"),
        ("B_monthly_renew", "10", "10.08"),
        ("C_annual_term_monthly_billing_cycleCharge", "10", "10.08"),
        ("D_annual_prepaid", "10", "120.96"),
    ],
)
def test_whole_cycle_purchases(tmp_path: Path, name: str, quantity: str, unit_cost: str) -> None:
    line = only(run(tmp_path, recon_rows(name)))
    assert (line.quantity, line.unit_cost) == (Decimal(quantity), Decimal(unit_cost))
    assert line.subscription_type is SubscriptionType.CSP365
    assert line.sku == "CFQ7TTC0LDPB:0001"
    assert line.unit_price == Decimal(unit_cost) * Decimal("1.2")


def test_prepaid_year_keeps_its_charge_dates(tmp_path: Path) -> None:
    line = only(run(tmp_path, recon_rows("D_annual_prepaid")))
    assert (line.charge_start, line.charge_end) == (date(2021, 6, 18), date(2022, 6, 17))


def test_seats_added_mid_cycle_are_billed_at_the_full_price(tmp_path: Path) -> None:
    """E: 10 seats bought, 12 two days later: 12 seats at 10.08, never the prorated 9.408."""
    result = run(tmp_path, recon_rows("E_add_seats_monthly"))
    line = only(result)
    assert (line.quantity, line.unit_cost) == (Decimal(12), Decimal("10.08"))
    assert result.warnings == []


def test_seats_removed_within_the_cycle(tmp_path: Path) -> None:
    """F after its purchase (12 seats on June 18, as E's table implies): 8 seats at 10.08."""
    purchase = recon_rows("E_add_seats_monthly")[0] | {"Quantity": "12", "BillableQuantity": "12"}
    line = only(run(tmp_path, [purchase, *recon_rows("F_remove_seats_monthly")]))
    assert (line.quantity, line.unit_cost) == (Decimal(8), Decimal("10.08"))


def test_a_removal_in_a_cycle_billed_earlier_is_not_exported(tmp_path: Path) -> None:
    """F's two lines alone: a net refund of 4 seats; no charge, and a warning says so."""
    result = run(tmp_path, recon_rows("F_remove_seats_monthly"))
    assert result.reports == []
    assert len(result.warnings) == 1
    assert "4 seats removed or cancelled" in result.warnings[0]


def test_several_seat_changes_in_one_period_end_at_microsofts_count(tmp_path: Path) -> None:
    """G: 10 seats, then +5, +10, -2, -3, +10: Microsoft's expected count is 30."""
    rows = recon_rows("G_multiple_seat_changes_one_period")
    line = only(run(tmp_path, rows))
    assert (line.quantity, line.unit_cost) == (Decimal(30), Decimal("12.00"))
    assert line.subscription_id == BASE


def test_the_seat_count_does_not_depend_on_line_order(tmp_path: Path) -> None:
    """The file is not in chronological order: reversed lines give the same charge."""
    rows = recon_rows("G_multiple_seat_changes_one_period")
    forward = only(run(tmp_path, rows))
    backward = only(run(tmp_path, rows[::-1]))
    assert (backward.quantity, backward.unit_cost) == (forward.quantity, forward.unit_cost)


def test_cancellation_within_seven_days_leaves_no_seats(tmp_path: Path) -> None:
    """H: bought, cancelled two days later: quantity 0 (correcting any earlier charge)."""
    result = run(tmp_path, recon_rows("H_cancel_within_7_days"))
    line = only(result)
    assert (line.quantity, line.unit_cost) == (Decimal(0), Decimal("10.08"))
    assert any("no seats left" in warning for warning in result.warnings)


def test_full_upgrade_bills_the_new_product_at_its_full_price(tmp_path: Path) -> None:
    """I: all 300 seats converted to Office 365 E1 on the same subscription. E1 appears only
    prorated (4.92 for 23 of 30 days), which matches its UnitPrice 6.43: that is the cost."""
    line = only(run(tmp_path, recon_rows("I_full_upgrade_convert")))
    assert line.subscription_id == BASE
    assert line.product_name == "Office 365 E1"
    assert line.sku == "CFQ7TTC0LF8R:0001"
    assert (line.quantity, line.unit_cost) == (Decimal(300), Decimal("6.43"))


def test_partial_upgrade_splits_the_seats(tmp_path: Path) -> None:
    """J: 100 of 300 seats move to a new E1 subscription; the base keeps 200 seats. The new
    subscription's first charge covers the rest of the base's cycle at the prorated price."""
    result = run(tmp_path, recon_rows("J_partial_upgrade_convert"))
    found = charges(result)
    base = found[(date(2021, 6, 1), BASE)]
    target = found[(date(2021, 6, 1), UPGRADE_TARGET)]
    assert (base.quantity, base.unit_cost) == (Decimal(200), Decimal("10.08"))
    assert (target.quantity, target.unit_cost) == (Decimal(100), Decimal("4.92"))
    assert (target.charge_start, target.charge_end) == (date(2021, 6, 25), date(2021, 7, 17))
    assert target.unit_price == Decimal("5.904")  # cost x 1.2: the markup needs no proration


def test_prorated_top_up_with_a_price_list_price(tmp_path: Path) -> None:
    from billbridge.domain.price_list import PriceListItem

    item = PriceListItem(
        "CFQ7TTC0LF8R:0001",
        "Office 365 E1",
        SubscriptionType.CSP365,
        Decimal("6.43"),
        Decimal("8.00"),
        "EUR",
    )
    result = run(tmp_path, recon_rows("J_partial_upgrade_convert"), price_list={item.sku: item})
    target = charges(result)[(date(2021, 6, 1), UPGRADE_TARGET)]
    assert target.unit_price == Decimal("6.13")  # 8.00 x 23 / 30 days, rounded half-up


def test_trial_converted_to_paid(tmp_path: Path) -> None:
    """K: a free trial of 25 seats converted to paid the same day: 25 seats at 52.61."""
    line = only(run(tmp_path, recon_rows("K_trial_to_paid_convert")))
    assert (line.quantity, line.unit_cost) == (Decimal(25), Decimal("52.61"))


def test_a_trial_alone_is_not_billed(tmp_path: Path) -> None:
    result = run(tmp_path, recon_rows("K_trial_to_paid_convert")[:1])
    assert result.reports == []
    assert any("is a trial" in warning for warning in result.warnings)


@pytest.mark.parametrize(
    ("name", "periods"),
    [
        (
            "L_changeBillingPlan_annual_to_monthly",
            {date(2021, 9, 1): ("10", "250"), date(2022, 9, 1): ("10", "20")},
        ),
        (
            "M_changeBillingPlan_monthly_to_annual",
            {date(2021, 9, 1): ("10", "20"), date(2021, 10, 1): ("10", "229.16")},
        ),
    ],
)
def test_billing_plan_changes(
    tmp_path: Path, name: str, periods: dict[date, tuple[str, str]]
) -> None:
    """L and M: each cycle is billed in the month it starts, at that cycle's price."""
    found = charges(run(tmp_path, recon_rows(name)))
    got = {period: (line.quantity, line.unit_cost) for (period, _), line in found.items()}
    assert got == {p: (Decimal(q), Decimal(c)) for p, (q, c) in periods.items()}


def test_end_of_month_cycles_land_in_the_month_they_start(tmp_path: Path) -> None:
    """O: an annual term billed monthly, bought on January 31: one charge per month, each for
    the cycle Microsoft bills that month (Feb 28 - Mar 30, Mar 31 - Apr 29, ...)."""
    rows = [
        row
        | {"Quantity": "5", "BillableQuantity": "5", "EffectiveUnitPrice": "20", "UnitPrice": "20"}
        for row in recon_rows("O_annual_term_monthly_billing_bought_last_day_of_month")
    ]
    found = charges(run(tmp_path, rows))
    months = sorted(period for period, _ in found)
    assert len(months) == 12 and months[0] == date(2021, 1, 1) and months[-1] == date(2021, 12, 1)
    february = found[(date(2021, 2, 1), DEFAULT_SUBSCRIPTION.format(1))]
    assert (february.charge_start, february.charge_end) == (date(2021, 2, 28), date(2021, 3, 30))
    assert (february.subscription_start, february.subscription_end) == (
        date(2021, 1, 31),
        date(2022, 1, 30),
    )
    assert all(line.quantity == 5 and line.unit_cost == 20 for line in found.values())

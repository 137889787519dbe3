"""The charge rules on their own, for the cases Microsoft's documented scenarios do not show."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from billbridge.domain.subscription import SubscriptionType
from billbridge.sources.partner_center.charges import licence_charge
from billbridge.sources.partner_center.invoice import Customer, InvoiceLine

_counter = iter(range(1, 10_000))


def line(**values: Any) -> InvoiceLine:
    number = next(_counter)
    fields: dict[str, Any] = {
        "file": "recon.csv",
        "line": number,
        "order": (0, number),
        "invoice_number": "G1",
        "customer": Customer("c1", "Contoso", None),
        "subscription_id": "s1",
        "subscription_type": SubscriptionType.CSP365,
        "currency": "USD",
        "charge_start": date(2025, 11, 1),
        "charge_end": date(2025, 11, 30),
        "product_id": "P1",
        "sku_id": "0001",
        "product_name": "Product One",
        "charge_type": "renew",
        "charge_type_written": "renew",
        "unit_price": Decimal("10.00"),
        "effective_unit_price": Decimal("10.00"),
        "quantity": Decimal(10),
    }
    fields.update(values)
    return InvoiceLine(**fields)


def test_a_price_split_over_two_lines_is_one_event() -> None:
    """Microsoft 365 E5 comes as two lines (telco and non-telco) of the same product."""
    outcome = licence_charge(
        [
            line(charge_type="new", effective_unit_price=Decimal("30.00"), reference_id="r1"),
            line(charge_type="new", effective_unit_price=Decimal("8.00"), reference_id="r1"),
        ]
    )
    assert outcome.charge is not None
    assert (outcome.charge.quantity, outcome.charge.unit_cost) == (Decimal(10), Decimal("38.00"))


def test_refunds_written_as_negative_quantities() -> None:
    """Some tools write a refund as a negative quantity at a positive price."""
    outcome = licence_charge(
        [
            line(charge_type="new"),
            line(charge_type="addQuantity", quantity=Decimal(-10), charge_start=date(2025, 11, 9)),
            line(charge_type="addQuantity", quantity=Decimal(14), charge_start=date(2025, 11, 9)),
        ]
    )
    assert outcome.charge is not None
    assert (outcome.charge.quantity, outcome.charge.unit_cost) == (Decimal(14), Decimal("10.00"))


def test_an_earlier_cycle_in_the_same_report_is_history() -> None:
    outcome = licence_charge(
        [
            line(
                charge_start=date(2025, 10, 18), charge_end=date(2025, 11, 17), quantity=Decimal(8)
            ),
            line(
                charge_start=date(2025, 11, 18), charge_end=date(2025, 12, 17), quantity=Decimal(9)
            ),
        ]
    )
    assert outcome.charge is not None
    assert outcome.charge.quantity == 9
    assert outcome.charge.charge_start == date(2025, 11, 18)


def test_an_unexplained_prorated_price_is_scaled_with_a_warning() -> None:
    """An upgrade to a discounted product: its prorated price (15 of 30 days) does not match
    its list price, so the full price is estimated from the days, and said so."""
    outcome = licence_charge(
        [
            line(charge_type="new", quantity=Decimal(5)),
            line(
                charge_type="convert",
                effective_unit_price=Decimal("-5.00"),
                quantity=Decimal(5),
                charge_start=date(2025, 11, 16),
            ),
            line(
                charge_type="convert",
                product_id="P2",
                product_name="Product Two",
                unit_price=Decimal("20.00"),
                effective_unit_price=Decimal("9.00"),
                quantity=Decimal(5),
                charge_start=date(2025, 11, 16),
            ),
        ]
    )
    assert outcome.charge is not None
    assert outcome.charge.line.sku == "P2:0001"
    assert (outcome.charge.quantity, outcome.charge.unit_cost) == (Decimal(5), Decimal("18.00"))
    assert "estimated as 18.00 (9.00 x 30 / 15 days)" in outcome.warnings[0]


def test_seats_of_two_products_at_the_end_of_a_cycle() -> None:
    outcome = licence_charge(
        [line(quantity=Decimal(10)), line(product_id="P2", quantity=Decimal(3))]
    )
    assert outcome.charge is not None
    assert (outcome.charge.line.sku, outcome.charge.quantity) == ("P1:0001", Decimal(10))
    assert "seats of several products" in outcome.warnings[0]


def test_top_ups_at_several_prorated_prices() -> None:
    annual = {
        "charge_type": "addQuantity",
        "charge_end": date(2026, 6, 14),
        "billing_frequency": "annual",
        "unit_price": Decimal("120.00"),
    }
    outcome = licence_charge(
        [
            line(
                **annual,
                charge_start=date(2025, 11, 3),
                effective_unit_price=Decimal("-73.64"),
                quantity=Decimal(10),
            ),
            line(
                **annual,
                charge_start=date(2025, 11, 3),
                effective_unit_price=Decimal("73.64"),
                quantity=Decimal(12),
            ),
            line(
                **annual,
                charge_start=date(2025, 11, 24),
                effective_unit_price=Decimal("-66.74"),
                quantity=Decimal(12),
            ),
            line(
                **annual,
                charge_start=date(2025, 11, 24),
                effective_unit_price=Decimal("66.74"),
                quantity=Decimal(13),
            ),
        ]
    )
    assert outcome.charge is not None
    assert (outcome.charge.quantity, outcome.charge.unit_cost) == (Decimal(3), Decimal("66.74"))
    assert outcome.charge.proration == (203, 365)
    assert "several prorated prices" in outcome.warnings[0]


def test_one_time_purchase_added_to() -> None:
    """A perpetual purchase topped up with a (rare) change line: no cycle to prorate over."""
    outcome = licence_charge(
        [
            line(
                subscription_type=SubscriptionType.PERPETUAL,
                charge_type="addQuantity",
                charge_end=None,
                quantity=Decimal(2),
            )
        ]
    )
    assert outcome.charge is not None
    assert (outcome.charge.quantity, outcome.charge.proration) == (Decimal(2), None)


def test_only_credits() -> None:
    outcome = licence_charge(
        [
            line(
                charge_type="customercredit",
                charge_type_written="customerCredit",
                subtotal=Decimal("-5"),
            )
        ]
    )
    assert outcome.charge is None
    assert outcome.warnings == (
        "recon.csv:"
        f"{outcome.warnings[0].split(':')[1]}: customerCredit of subscription s1 (-5 USD) is not"
        " exported; credit the customer by hand if it is due",
    )


def test_a_cycle_with_only_refunds_of_its_last_product() -> None:
    """Defensive: no paid line to take a price from (a refund of zero seats, in the file)."""
    outcome = licence_charge(
        [
            line(charge_type="new", quantity=Decimal(0)),
            line(
                charge_type="convert",
                product_id="P2",
                effective_unit_price=Decimal("-4"),
                quantity=Decimal(0),
                charge_start=date(2025, 11, 5),
            ),
        ]
    )
    assert outcome.charge is None
    assert "only refunds" in outcome.warnings[0]

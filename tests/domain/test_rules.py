"""Each rule of the README's "What lands in Autotask", on its own."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from billbridge.domain.organization import Organization
from billbridge.domain.price_list import PriceListItem
from billbridge.domain.records import ChargeMarker, DesiredState, ProductKey, Skipped
from billbridge.domain.report import ReportLine
from billbridge.domain.rules import ExportRules, add_years, desired_state
from billbridge.domain.subscription import SubscriptionType
from tests.domain.builders import BASIC, CONTOSO, OCTOBER, RULES, LineDates, line, report

AZURE = SubscriptionType.AZURE


def desired(
    *lines: ReportLine,
    price_list: dict[str, PriceListItem] | None = None,
    rules: ExportRules = RULES,
    organization: Organization = CONTOSO,
    period: tuple[date, date] = OCTOBER,
) -> DesiredState:
    result = desired_state(
        report(*lines, period=period), organization, price_list or {BASIC.sku: BASIC}, rules
    )
    assert isinstance(result, DesiredState)
    return result


# 1. Company


def test_unlinked_organization_is_skipped_as_unmapped() -> None:
    result = desired_state(report(line()), CONTOSO.linked_to(None), {}, RULES)
    assert isinstance(result, Skipped)
    assert result.reason == "unmapped" and "billbridge map" in result.detail


def test_inactive_organization_is_skipped_as_inactive() -> None:
    result = desired_state(report(line()), replace(CONTOSO, active=False), {}, RULES)
    assert isinstance(result, Skipped) and result.reason == "inactive"


def test_records_belong_to_the_linked_company() -> None:
    state = desired(line())
    assert state.company_id == 101
    assert state.contracts[0].key.company_id == 101


# 2. Types


def test_types_not_exported_are_left_out() -> None:
    rules = replace(RULES, subscription_types=frozenset({SubscriptionType.CSP365}))
    state = desired(line(), line("az-1", AZURE, "1", "3", "4", "m1", "VM"), rules=rules)
    assert [c.key.subscription_id for c in state.contracts] == ["sub-1"]
    assert [str(p.key) for p in state.products] == [BASIC.sku]


def test_a_report_with_only_left_out_types_has_nothing_to_do() -> None:
    rules = replace(RULES, subscription_types=frozenset({SubscriptionType.CSP365}))
    state = desired(line("az-1", AZURE), rules=rules)
    assert (state.contracts, state.charges, state.products) == ((), (), ())


# 3. Contracts


def test_one_contract_per_subscription() -> None:
    state = desired(line("sub-1"), line("sub-1", quantity="12"), line("sub-2"))
    assert [c.key.subscription_id for c in state.contracts] == ["sub-1", "sub-2"]
    assert "Microsoft 365 Business Basic" in state.contracts[0].name


def test_licence_contract_uses_the_subscription_term() -> None:
    term: LineDates = {
        "subscription_start": date(2026, 3, 15),
        "subscription_end": date(2027, 3, 14),
    }
    [contract] = desired(line(**term)).contracts
    assert (contract.start_date, contract.end_date) == (date(2026, 3, 15), date(2027, 3, 14))
    assert not contract.synthetic_term


def test_licence_contract_without_a_term_uses_the_report_period() -> None:
    [contract] = desired(line()).contracts
    assert (contract.start_date, contract.end_date) == (date(2026, 10, 1), date(2026, 10, 31))


def test_a_renewed_line_extends_the_term_to_the_latest_end() -> None:
    old = line(subscription_start=date(2025, 11, 1), subscription_end=date(2026, 10, 31))
    new = line(subscription_start=date(2026, 11, 1), subscription_end=date(2027, 10, 31))
    [contract] = desired(old, new).contracts
    assert (contract.start_date, contract.end_date) == (date(2025, 11, 1), date(2027, 10, 31))


@pytest.mark.parametrize("kind", [SubscriptionType.AZURE, SubscriptionType.PERPETUAL])
def test_azure_and_perpetual_get_a_synthetic_term(kind: SubscriptionType) -> None:
    dates: LineDates = {
        "subscription_start": date(2020, 1, 1),
        "subscription_end": date(2021, 1, 1),
    }
    [contract] = desired(line("s", kind, **dates)).contracts
    assert contract.synthetic_term
    assert (contract.start_date, contract.end_date) == (date(2026, 10, 1), date(2036, 10, 1))


def test_add_years_on_february_29() -> None:
    assert add_years(date(2028, 2, 29), 10) == date(2038, 2, 28)
    assert add_years(date(2028, 2, 29), 4) == date(2032, 2, 29)


# 4. Charges


def test_charge_takes_the_largest_quantity_and_that_lines_prices() -> None:
    lines = (
        line(quantity="10", unit_cost="5.40", unit_price="6.00"),
        line(quantity="14", unit_cost="5.10", unit_price="5.90"),
        line(quantity="12", unit_cost="4.00", unit_price="4.50"),
    )
    [charge] = desired(*lines).charges
    assert (charge.unit_quantity, charge.unit_cost, charge.unit_price) == (
        Decimal("14"),
        Decimal("5.10"),
        Decimal("5.90"),
    )


def test_the_last_of_several_largest_lines_gives_the_prices() -> None:
    lines = (line(quantity="14", unit_price="6.00"), line(quantity="14", unit_price="6.50"))
    [charge] = desired(*lines).charges
    assert charge.unit_price == Decimal("6.50")


def test_charge_is_named_for_product_and_period_and_carries_its_key() -> None:
    [charge] = desired(line()).charges
    assert charge.name == "Microsoft 365 Business Basic 2026-10"
    assert charge.date_purchased == date(2026, 10, 1)
    assert charge.product_key == ProductKey(sku=BASIC.sku)
    marker = ChargeMarker.find(charge.notes)
    assert marker == ChargeMarker("r-oct", "sub-1", "2026-10")


def test_marker_survives_awkward_ids() -> None:
    marker = ChargeMarker("report 1/b]", "sub/x y%", "2026-10")
    assert ChargeMarker.find("text before\n" + marker.render() + " after") == marker
    assert ChargeMarker.find("no marker here") is None


def test_azure_rolls_usage_into_one_charge_rounded_once() -> None:
    # Each meter rounded on its own would give 0.00 + 0.00 + 0.00; summed first, 0.01.
    meters = [line("az-1", AZURE, "1", "0.004", "0.004", f"m{i}", "Meter") for i in range(3)]
    meters.append(line("az-1", AZURE, "7.10833E-05", "100", "120", "m9", "Storage"))
    [charge] = desired(*meters).charges
    assert charge.unit_quantity == 1
    assert charge.unit_cost == Decimal("0.02")  # 0.012 + 0.00710833 = 0.01910833
    assert charge.unit_price == Decimal("0.02")  # 0.012 + 0.008529996 = 0.020529996
    assert charge.product_key == ProductKey(name="Azure Plan")
    assert charge.name == "Azure Plan 2026-10"


def test_azure_rounding_is_half_up() -> None:
    [charge] = desired(line("az-1", AZURE, "1", "0.125", "0.135", "m", "M")).charges
    assert (charge.unit_cost, charge.unit_price) == (Decimal("0.13"), Decimal("0.14"))


# 5. Products


def test_products_only_for_skus_charged_on_the_report_with_the_billing_code() -> None:
    state = desired(line(), line("sub-2", sku="OTHER:0001", product_name="Visio Plan 2"))
    skus = [p.sku for p in state.products]
    assert skus == [BASIC.sku, "OTHER:0001"]
    assert {p.billing_code_id for p in state.products} == {29682801}


def test_product_prices_come_from_the_price_list() -> None:
    [product] = desired(line(unit_cost="1", unit_price="2")).products
    assert (product.name, product.unit_cost, product.unit_price) == (
        "Microsoft 365 Business Basic",
        Decimal("5.40"),
        Decimal("6.00"),
    )


def test_sku_missing_from_the_price_list_falls_back_to_the_line_with_a_warning() -> None:
    state = desired(
        line(sku="NEW:0001", product_name="Teams Premium", unit_cost="7", unit_price="8")
    )
    [product] = state.products
    assert (product.name, product.unit_cost, product.unit_price) == (
        "Teams Premium",
        Decimal("7"),
        Decimal("8"),
    )
    assert any("NEW:0001" in w and "not in the price list" in w for w in state.warnings)


def test_price_list_in_another_currency_is_not_used_for_prices() -> None:
    euro = replace(BASIC, currency="EUR")
    state = desired(line(unit_cost="5", unit_price="6"), price_list={BASIC.sku: euro})
    assert state.products[0].unit_price == Decimal("6")
    assert any("EUR" in w for w in state.warnings)


def test_azure_product_is_create_only_and_shared() -> None:
    state = desired(line("az-1", AZURE, sku="m1"), line("az-2", AZURE, sku="m2"))
    [product] = state.products
    assert product.key == ProductKey(name="Azure Plan") and product.create_only
    assert product.billing_code_id == 29682801


def test_azure_sums_are_exact_beyond_28_digits() -> None:
    # 29 significant digits: in Decimal's default 28-digit context this sum would become
    # 0.005 and round up to a cent; exactly, it is just below half a cent.
    nearly_half = "0.00" + "4" + "9" * 28
    usage = line("az-1", AZURE, "1", nearly_half, nearly_half, "m1", "Meter")
    [charge] = desired(usage, line("az-1", AZURE, "0", "1", "1", "m2", "Meter")).charges
    assert (charge.unit_cost, charge.unit_price) == (Decimal("0.00"), Decimal("0.00"))
    assert Decimal(0) + Decimal(nearly_half) == Decimal("0.005")  # what the default would do

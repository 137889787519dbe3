"""Report ids and periods, the Azure rule between the two kinds of file, prices, organizations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from billbridge.domain.price_list import PriceListItem
from billbridge.domain.subscription import SubscriptionType
from billbridge.importing import import_partner_center
from billbridge.sources.partner_center import PartnerCenterImport
from billbridge.store import Store

from .builders import (
    CONTOSO,
    FABRIKAM,
    RECON_COLUMNS,
    USAGE_COLUMNS,
    read,
    recon_row,
    usage_row,
    write_csv,
)

STANDARD = "a1a1a1a1-0000-4000-8000-000000000001"
AZURE_PLAN = "9b9b9b9b-0000-4000-8000-00000000aaaa"
AZURE_SUBSCRIPTION = "d9a3ce9e-cbc1-4674-b12d-1e51dd71029e"


def azure_plan_line(**values: str) -> dict[str, str]:
    """The reconciliation's summary of Contoso's Azure plan for October, on November's invoice."""
    return recon_row(
        SubscriptionId=AZURE_PLAN,
        SubscriptionDescription="Azure plan",
        ProductId="DZH318Z0BPVL",
        SkuId="00GM",
        ProductName="Dv3 Series Windows VM",
        ChargeType="new",
        UnitPrice="0.217",
        EffectiveUnitPrice="0.18445",
        Quantity="1",
        BillableQuantity="47.5",
        Subtotal="8.76",
        Total="8.76",
        MeterDescription="D2 v3/D2s v3",
        TermAndBillingCycle="",
        BillingFrequency="",
        **values,
    )


def lines_by_report(result: PartnerCenterImport) -> dict[str, set[str]]:
    return {
        located.report.report_id: {line.subscription_id for line in located.report.lines}
        for located in result.reports
    }


def hashes(result: PartnerCenterImport) -> dict[str, str]:
    return {located.report.report_id: located.report.content_hash for located in result.reports}


def test_recon_and_usage_never_share_an_azure_subscription(tmp_path: Path) -> None:
    recon = write_csv(tmp_path / "recon.csv", [recon_row(), azure_plan_line()], RECON_COLUMNS)
    usage = write_csv(tmp_path / "usage.csv", [usage_row(), usage_row()], USAGE_COLUMNS)
    result = read(recon, usage)
    assert lines_by_report(result) == {
        f"pc-invoice-2025-11-{CONTOSO}": {STANDARD},
        f"pc-usage-2025-11-{CONTOSO}": {AZURE_SUBSCRIPTION},
    }
    assert result.warnings[0] == (
        f"{recon}: 1 Azure plan line left out: Azure is imported from the daily-rated usage"
        " file, which details them per Azure subscription"
    )
    assert [o.organization_id for o in result.organizations] == [CONTOSO]


def test_separate_commands_keep_both_kinds(tmp_path: Path) -> None:
    """Usage, then the reconciliation, then both again: nothing overwrites anything."""
    recon = write_csv(tmp_path / "recon.csv", [recon_row(), azure_plan_line()], RECON_COLUMNS)
    usage = write_csv(tmp_path / "usage.csv", [usage_row()], USAGE_COLUMNS)
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        first = import_partner_center(store, [usage], generated_on=date(2025, 12, 6))
        second = import_partner_center(store, [recon], generated_on=date(2025, 12, 6))
        again = import_partner_center(store, [recon, usage], generated_on=date(2025, 12, 6))
        assert (first.reports.created, second.reports.created) == (1, 1)
        assert (again.reports.created, again.reports.corrected, again.reports.unchanged) == (
            0,
            0,
            2,
        )
        with store.transaction() as uow:
            stored = uow.reports.summaries()
            assert {summary.report_id for summary in stored} == {
                f"pc-invoice-2025-11-{CONTOSO}",
                f"pc-usage-2025-11-{CONTOSO}",
            }
    finally:
        store.close()


def test_importing_never_touches_a_company_link(tmp_path: Path) -> None:
    usage = write_csv(tmp_path / "usage.csv", [usage_row()], USAGE_COLUMNS)
    result = read(usage)
    assert all(o.autotask_company_id is None and o.active for o in result.organizations)
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    try:
        import_partner_center(store, [usage], generated_on=date(2025, 12, 6))
        with store.transaction() as uow:
            uow.organizations.link(CONTOSO, 4711)
        renamed = write_csv(
            tmp_path / "renamed.csv", [usage_row(CustomerName="Contoso Group")], USAGE_COLUMNS
        )
        import_partner_center(store, [renamed], generated_on=date(2025, 12, 6))
        with store.transaction() as uow:
            organization = uow.organizations.get(CONTOSO)
        assert organization is not None
        assert (organization.name, organization.autotask_company_id) == ("Contoso Group", 4711)
    finally:
        store.close()


def test_same_files_same_reports(tmp_path: Path) -> None:
    recon = write_csv(tmp_path / "recon.csv", [recon_row()], RECON_COLUMNS)
    usage = write_csv(tmp_path / "usage.csv", [usage_row()], USAGE_COLUMNS)
    assert hashes(read(recon, usage)) == hashes(read(recon, usage))
    assert hashes(read(usage, recon)) == hashes(read(recon, usage))


def test_line_order_does_not_change_a_report(tmp_path: Path) -> None:
    rows = [
        recon_row(),
        recon_row(SubscriptionId="b0000000-0000-4000-8000-000000000002", ProductId="CFQ7TTC0LCHC"),
        recon_row(SubscriptionId="c0000000-0000-4000-8000-000000000003", ProductId="CFQ7TTC0LH18"),
    ]
    forward = write_csv(tmp_path / "forward.csv", rows, RECON_COLUMNS)
    backward = write_csv(tmp_path / "backward.csv", rows[::-1], RECON_COLUMNS)
    assert hashes(read(forward)) == hashes(read(backward))


def test_generated_on_is_the_argument(tmp_path: Path) -> None:
    usage = write_csv(tmp_path / "usage.csv", [usage_row()], USAGE_COLUMNS)
    (located,) = read(usage, generated_on=date(2025, 12, 8)).reports
    assert located.report.generated_on == date(2025, 12, 8)


def test_late_usage_is_billed_with_its_invoice(tmp_path: Path) -> None:
    """Usage of October billed on November's invoice goes into November's report (a report
    for October would replace October's own); another invoice's October stays October's."""
    rows = [
        usage_row(),
        usage_row(ChargeStartDate="10/01/2025", ChargeEndDate="10/31/2025", UsageDate="10/30/2025"),
        usage_row(
            InvoiceNumber="G000099999",
            ChargeStartDate="10/01/2025",
            ChargeEndDate="10/31/2025",
            Quantity="1",
            BillingPreTaxTotal="0.18445",
        ),
    ]
    result = read(write_csv(tmp_path / "usage.csv", rows, USAGE_COLUMNS))
    reports = {located.report.report_id: located.report for located in result.reports}
    november = reports[f"pc-usage-2025-11-{CONTOSO}"]
    assert (november.period_start, november.period_end) == (date(2025, 11, 1), date(2025, 11, 30))
    (line,) = november.lines
    assert (line.unit_cost, line.usage_quantity) == (Decimal("8.8536"), Decimal(48))
    october = reports[f"pc-usage-2025-10-{CONTOSO}"]
    assert [line.unit_cost for line in october.lines] == [Decimal("0.18445")]


def test_a_cycle_not_starting_on_the_first(tmp_path: Path) -> None:
    rows = [usage_row(ChargeStartDate="11/15/2025", ChargeEndDate="12/14/2025")]
    (located,) = read(write_csv(tmp_path / "usage.csv", rows, USAGE_COLUMNS)).reports
    assert located.report.report_id == f"pc-usage-2025-11-15-{CONTOSO}"


def test_a_late_charge_event_is_billed_with_its_invoice(tmp_path: Path) -> None:
    """A renewal of October 31 (UTC) on November's invoice is part of November's report."""
    rows = [
        recon_row(),
        recon_row(
            SubscriptionId="b0000000-0000-4000-8000-000000000002",
            ChargeStartDate="10/31/2025",
            ChargeEndDate="11/29/2025",
            OrderDate="10/31/2025",
        ),
        recon_row(
            InvoiceNumber="G000099998", ChargeStartDate="10/1/2025", ChargeEndDate="10/31/2025"
        ),
    ]
    result = read(write_csv(tmp_path / "recon.csv", rows, RECON_COLUMNS))
    assert lines_by_report(result) == {
        f"pc-invoice-2025-11-{CONTOSO}": {STANDARD, "b0000000-0000-4000-8000-000000000002"},
        f"pc-invoice-2025-10-{CONTOSO}": {STANDARD},
    }


def test_each_customer_and_month_is_a_report(tmp_path: Path) -> None:
    rows = [
        recon_row(),
        recon_row(CustomerId=FABRIKAM, CustomerName="Fabrikam", SubscriptionId="f1"),
        recon_row(
            InvoiceNumber="G000099998", ChargeStartDate="10/1/2025", ChargeEndDate="10/31/2025"
        ),
    ]
    result = read(write_csv(tmp_path / "recon.csv", rows, RECON_COLUMNS))
    assert sorted(lines_by_report(result)) == sorted(
        [
            f"pc-invoice-2025-11-{CONTOSO}",
            f"pc-invoice-2025-11-{FABRIKAM}",
            f"pc-invoice-2025-10-{CONTOSO}",
        ]
    )


def item(sku: str, price: str, currency: str = "USD") -> PriceListItem:
    return PriceListItem(
        sku, "Business Standard", SubscriptionType.CSP365, Decimal("12.5"), Decimal(price), currency
    )


def test_licence_prices(tmp_path: Path) -> None:
    rows = [
        recon_row(),
        recon_row(
            SubscriptionId="b2", ProductId="CFQ7TTC0LCHC", SkuId="2", EffectiveUnitPrice="20.00"
        ),
        recon_row(SubscriptionId="b3", ProductId="CFQ7TTC0LH18", EffectiveUnitPrice="4.00"),
    ]
    path = write_csv(tmp_path / "recon.csv", rows, RECON_COLUMNS)
    price_list = {
        "CFQ7TTC0LDPB:0001": item("CFQ7TTC0LDPB:0001", "15.00"),
        "CFQ7TTC0LCHC:0002": item("CFQ7TTC0LCHC:0002", "30.00", currency="EUR"),
    }
    marked = read(path, price_list=price_list, license_markup=Decimal(25))
    prices = {
        line.subscription_id: line.unit_price for r in marked.reports for line in r.report.lines
    }
    assert prices == {STANDARD: Decimal("15.00"), "b2": Decimal("25.00"), "b3": Decimal("5.00")}
    assert marked.warnings == [
        "sku CFQ7TTC0LCHC:0002 (Microsoft 365 Business Standard) is priced in EUR in the price"
        " list but billed in USD; its price is not used"
    ]
    at_cost = read(path, price_list=price_list)
    prices = {
        line.subscription_id: line.unit_price for r in at_cost.reports for line in r.report.lines
    }
    assert prices == {STANDARD: Decimal("15.00"), "b2": Decimal("20.00"), "b3": Decimal("4.00")}
    assert at_cost.warnings[1:] == [
        "sku CFQ7TTC0LCHC:0002 (Microsoft 365 Business Standard) has no price in the price list"
        " and no --license-markup was given: it is billed at cost",
        "sku CFQ7TTC0LH18:0001 (Microsoft 365 Business Standard) has no price in the price list"
        " and no --license-markup was given: it is billed at cost",
    ]


def test_azure_prices_ignore_the_licence_rules(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "usage.csv", [usage_row()], USAGE_COLUMNS)
    listed = read(path, license_markup=Decimal(50)).reports[0].report.lines[0]
    assert (listed.unit_cost, listed.unit_price) == (Decimal("4.4268"), Decimal("5.208"))
    marked = read(path, azure_markup=Decimal(10)).reports[0].report.lines[0]
    assert marked.unit_price == Decimal("4.86948")


def test_a_customer_without_a_name(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "usage.csv", [usage_row(CustomerName="")], USAGE_COLUMNS)
    result = read(path)
    (organization,) = result.organizations
    assert organization.name == "contoso.onmicrosoft.com"
    assert result.warnings == [
        f"customer {CONTOSO} has no CustomerName in the files; it is named contoso.onmicrosoft.com"
    ]


def test_credits_are_reported_not_billed(tmp_path: Path) -> None:
    rows = [
        recon_row(),
        recon_row(ChargeType="customerCredit", EffectiveUnitPrice="-5", Subtotal="-50"),
    ]
    path = write_csv(tmp_path / "recon.csv", rows, RECON_COLUMNS)
    result = read(path, license_markup=Decimal(0))
    (line,) = result.reports[0].report.lines
    assert (line.quantity, line.unit_cost) == (Decimal(10), Decimal("12.5"))
    assert result.warnings == [
        f"{path}:3: customerCredit of subscription {STANDARD} (-50 USD) is not exported; credit"
        " the customer by hand if it is due"
    ]


def test_licence_unit_cost_in_the_billing_currency(tmp_path: Path) -> None:
    """Microsoft's formula for licences: ROUNDDOWN(EffectiveUnitPrice x PCToBCExchangeRate, 2)."""
    row = recon_row(Currency="EUR", PricingCurrency="USD", PCToBCExchangeRate="0.846202666")
    path = write_csv(tmp_path / "recon.csv", [row], RECON_COLUMNS)
    (line,) = read(path, license_markup=Decimal(0)).reports[0].report.lines
    assert line.unit_cost == Decimal("10.57")  # 12.50 x 0.846202666 = 10.5775...


def test_a_store_opened_while_the_files_are_read_keeps_re_imports_unchanged(
    tmp_path: Path,
) -> None:
    """The CLI passes a function that opens the store (in a thread, while the files are read);
    a later day's re-import keeps the reports' date and hash: nothing is corrected."""
    usage = write_csv(tmp_path / "usage.csv", [usage_row()], USAGE_COLUMNS)
    opened: list[Store] = []

    def open_store() -> Store:
        opened.append(Store(f"sqlite:///{tmp_path / 'state.db'}"))
        return opened[-1]

    try:
        first = import_partner_center(
            open_store, [usage], generated_on=None, today=date(2025, 12, 6)
        )
        again = import_partner_center(
            open_store, [usage], generated_on=None, today=date(2025, 12, 9)
        )
        assert (first.reports.created, again.reports.unchanged, again.reports.corrected) == (
            1,
            1,
            0,
        )
        with opened[-1].transaction() as uow:
            [summary] = uow.reports.summaries()
            assert summary.generated_on == date(2025, 12, 6)
    finally:
        for store in opened:
            store.close()

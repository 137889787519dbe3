"""Every shape of the two kinds of file gives the same reports: CSV, JSON, gzip, name variants."""

from __future__ import annotations

import gzip
import json
import os
import random
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billbridge.domain.subscription import SubscriptionType
from billbridge.sources.partner_center import PartnerCenterImport

from .builders import (
    API_EXAMPLES,
    CONTOSO,
    FABRIKAM,
    RECON_COLUMNS,
    USAGE_COLUMNS,
    api_items,
    camel,
    csv_text,
    json_lines,
    json_text,
    read,
    recon_row,
    usage_row,
    write_csv,
)

BUSINESS_PREMIUM = "b2b2b2b2-0000-4000-8000-000000000002"
SAAS = "c3c3c3c3-0000-4000-8000-000000000003"
SOFTWARE = "d4d4d4d4-0000-4000-8000-000000000004"
AZURE_PLAN = "e5e5e5e5-0000-4000-8000-000000000005"
SUB_A = "d9a3ce9e-cbc1-4674-b12d-1e51dd71029e"
SUB_B = "0c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5"


def recon_rows() -> list[dict[str, str]]:
    return [
        recon_row(),
        recon_row(
            SubscriptionId=BUSINESS_PREMIUM,
            ProductId="CFQ7TTC0LCHC",
            SkuId="0002",
            SkuName="Microsoft 365 Business Premium",
            ProductName="Microsoft 365 Business Premium",
            ChargeType="cycleCharge",
            UnitPrice="22.00",
            EffectiveUnitPrice="22.00",
            Quantity="5",
            BillableQuantity="5",
            Subtotal="110.00",
            Total="110.00",
            ChargeStartDate="11/12/2025",
            ChargeEndDate="12/11/2025",
            SubscriptionStartDate="6/12/2025",
            SubscriptionEndDate="6/11/2026",
            TermAndBillingCycle="One-Year commitment for monthly/yearly billing",
            ReferenceId="aa11",
        ),
        # Two more seats on November 20: the refund of 5 and the charge of 7 for the rest.
        recon_row(
            SubscriptionId=BUSINESS_PREMIUM,
            ProductId="CFQ7TTC0LCHC",
            SkuId="0002",
            ProductName="Microsoft 365 Business Premium",
            SkuName="Microsoft 365 Business Premium",
            ChargeType="addQuantity",
            UnitPrice="22.00",
            EffectiveUnitPrice="-16.13",
            Quantity="5",
            BillableQuantity="5",
            Subtotal="-80.65",
            Total="-80.65",
            OrderDate="11/20/2025",
            ChargeStartDate="11/20/2025",
            ChargeEndDate="12/11/2025",
            SubscriptionStartDate="6/12/2025",
            SubscriptionEndDate="6/11/2026",
            ReferenceId="bb22",
        ),
        recon_row(
            SubscriptionId=BUSINESS_PREMIUM,
            ProductId="CFQ7TTC0LCHC",
            SkuId="0002",
            ProductName="Microsoft 365 Business Premium",
            SkuName="Microsoft 365 Business Premium",
            ChargeType="addQuantity",
            UnitPrice="22.00",
            EffectiveUnitPrice="16.13",
            Quantity="7",
            BillableQuantity="7",
            Subtotal="112.91",
            Total="112.91",
            OrderDate="11/20/2025",
            ChargeStartDate="11/20/2025",
            ChargeEndDate="12/11/2025",
            SubscriptionStartDate="6/12/2025",
            SubscriptionEndDate="6/11/2026",
            ReferenceId="bb22",
        ),
        recon_row(
            CustomerId=FABRIKAM,
            CustomerName="Fabrikam Inc",
            CustomerDomainName="Fabrikam.onmicrosoft.com",
            SubscriptionId=SAAS,
            ProductId="DZH318Z0BXWC",
            SkuId="0002",
            ProductName="WAF-as-a-Service",
            SkuName="Medium Plan",
            PublisherName="Barracuda Networks, Inc.",
            PublisherId="21223810",
            ChargeType="new",
            UnitPrice="820",
            EffectiveUnitPrice="820",
            Quantity="1",
            BillableQuantity="1",
            Subtotal="820",
            Total="820",
            TermAndBillingCycle="1 Year Subscription",
            ChargeStartDate="11/4/2025",
            ChargeEndDate="12/3/2025",
        ),
        recon_row(
            CustomerId=FABRIKAM,
            CustomerName="Fabrikam Inc",
            CustomerDomainName="Fabrikam.onmicrosoft.com",
            SubscriptionId=SOFTWARE,
            ProductId="DG7GMGF0FKZV",
            SkuId="0001",
            ProductName="SQL Server 2022 Standard",
            SkuName="SQL Server 2022 Standard - 2 Core License Pack",
            ChargeType="new",
            UnitPrice="1859.00",
            EffectiveUnitPrice="1859.00",
            Quantity="4",
            BillableQuantity="4",
            Subtotal="7436.00",
            Total="7436.00",
            TermAndBillingCycle="",
            BillingFrequency="",
            ChargeStartDate="11/7/2025",
            ChargeEndDate="",
            SubscriptionStartDate="",
            SubscriptionEndDate="",
        ),
        recon_row(
            CustomerId=FABRIKAM,
            CustomerName="Fabrikam Inc",
            CustomerDomainName="Fabrikam.onmicrosoft.com",
            SubscriptionId=AZURE_PLAN,
            ProductId="DZH318Z0BNZ5",
            SkuId="006G",
            ProductName="Tables",
            SkuName="Tables - LRS",
            ChargeType="new",
            UnitPrice="0.045",
            EffectiveUnitPrice="0.03825",
            Quantity="1",
            BillableQuantity="0.005001",
            Subtotal="0",
            Total="0",
            SubscriptionDescription="Azure plan",
            MeterDescription="Tables - LRS Data Stored (GB/month)",
            PriceAdjustmentDescription='["15.0% Partner earned credit for services managed"]',
            TermAndBillingCycle="",
            BillingFrequency="",
            ChargeStartDate="10/1/2025",
            ChargeEndDate="10/31/2025",
        ),
    ]


def usage_rows() -> list[dict[str, str]]:
    storage = {
        "MeterCategory": "Storage",
        "MeterSubCategory": "Tables",
        "MeterName": "LRS Data Stored",
        "MeterId": "82cd70ab-1aee-4b30-bc04-8b71e1204dbc",
        "ProductId": "DZH318Z0BNZ5",
        "SkuId": "006G",
        "ProductName": "Tables",
        "SkuName": "Tables - LRS",
        "Unit": "1 GB/Month",
        "UnitPrice": "0.045",
        "EffectiveUnitPrice": "0.03825",
    }
    return [
        usage_row(),
        usage_row(UsageDate="11/18/2025", Quantity="23.5", BillingPreTaxTotal="4.334575"),
        usage_row(**storage, Quantity="0.001045343", BillingPreTaxTotal="3.99843698E-05"),
        usage_row(
            **storage,
            Quantity="7.10833E-05",
            BillingPreTaxTotal="2.71893623E-06",
            EntitlementId=SUB_B,
        ),
        usage_row(
            CustomerId=FABRIKAM,
            CustomerName="Fabrikam Inc",
            CustomerDomainName="fabrikam.onmicrosoft.com",
            EntitlementId="77777777-0000-4000-8000-000000000007",
            BillingCurrency="EUR",
            PCToBCExchangeRate="0.846202666",
            UnitPrice="0.08",
            Quantity="10",
            EffectiveUnitPrice="0.08",
            BillingPreTaxTotal="0.67696213",
            PartnerEarnedCreditPercentage="",
            CreditPercentage="",
            CreditType="Credit Not Applied",
        ),
    ]


def hashes(result: PartnerCenterImport) -> dict[str, str]:
    return {located.report.report_id: located.report.content_hash for located in result.reports}


@pytest.fixture
def recon_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "recon.csv", recon_rows(), RECON_COLUMNS)


@pytest.fixture
def usage_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "usage.csv", usage_rows(), USAGE_COLUMNS)


def test_invoice_reconciliation_csv(recon_csv: Path) -> None:
    result = read(recon_csv, license_markup=Decimal(15))
    reports = {located.report.report_id: located.report for located in result.reports}
    assert sorted(reports) == [f"pc-invoice-2025-11-{CONTOSO}", f"pc-invoice-2025-11-{FABRIKAM}"]
    contoso = reports[f"pc-invoice-2025-11-{CONTOSO}"]
    assert (contoso.period_start, contoso.period_end) == (date(2025, 11, 1), date(2025, 11, 30))
    lines = {line.subscription_id: line for line in contoso.lines}
    standard = lines["a1a1a1a1-0000-4000-8000-000000000001"]
    assert (standard.quantity, standard.unit_cost, standard.unit_price) == (
        Decimal(10),
        Decimal("12.50"),
        Decimal("14.375"),
    )
    premium = lines[BUSINESS_PREMIUM]
    assert (premium.quantity, premium.unit_cost) == (Decimal(7), Decimal("22.00"))
    assert (premium.subscription_start, premium.subscription_end) == (
        date(2025, 6, 12),
        date(2026, 6, 11),
    )
    assert (premium.charge_start, premium.charge_end) == (date(2025, 11, 12), date(2025, 12, 11))
    fabrikam = {
        line.subscription_id: line for line in reports[f"pc-invoice-2025-11-{FABRIKAM}"].lines
    }
    assert set(fabrikam) == {SAAS, SOFTWARE}  # the Azure plan line is left out
    assert fabrikam[SAAS].subscription_type is SubscriptionType.MARKETPLACE
    assert fabrikam[SAAS].product_name == "WAF-as-a-Service (Medium Plan)"
    assert fabrikam[SOFTWARE].subscription_type is SubscriptionType.PERPETUAL
    assert (fabrikam[SOFTWARE].quantity, fabrikam[SOFTWARE].unit_cost) == (
        Decimal(4),
        Decimal("1859.00"),
    )
    assert any("1 Azure plan line left out" in warning for warning in result.warnings)
    organizations = {o.organization_id: o for o in result.organizations}
    assert organizations[FABRIKAM].domain == "fabrikam.onmicrosoft.com"
    assert organizations[CONTOSO].name == "Contoso Ltd"


@pytest.mark.parametrize("shape", ["csv.gz", "api-json", "json-list", "json-lines.gz", "json.gz"])
def test_invoice_reconciliation_in_every_shape(tmp_path: Path, recon_csv: Path, shape: str) -> None:
    rows = recon_rows()
    path = tmp_path / f"recon.{shape}"
    if shape == "csv.gz":
        write_csv(path, rows, RECON_COLUMNS, gz=True)
    elif shape == "api-json":
        document = {"continuationToken": "abc", "totalCount": len(rows), "items": api_items(rows)}
        path.write_text(json_text(document), encoding="utf-8")
    elif shape == "json-list":
        path.write_text(json_text(api_items(rows)), encoding="utf-8")
    elif shape == "json-lines.gz":
        path.write_bytes(gzip.compress(json_lines(api_items(rows)).encode()))
    else:
        path.write_bytes(gzip.compress(json_text({"items": api_items(rows)}).encode()))
    expected = read(recon_csv)
    got = read(path)
    assert hashes(got) == hashes(expected)
    assert got.organizations == expected.organizations


def test_usage_csv(usage_csv: Path) -> None:
    result = read(usage_csv)
    reports = {located.report.organization_id: located.report for located in result.reports}
    contoso = reports[CONTOSO]
    assert contoso.report_id == f"pc-usage-2025-11-{CONTOSO}"
    by_line = {(line.subscription_id, line.sku): line for line in contoso.lines}
    vm = by_line[(SUB_A, "4855f157-570b-40df-b735-8c47505de5ac")]
    assert (vm.quantity, vm.unit_cost, vm.usage_quantity) == (
        Decimal(1),
        Decimal("8.761375"),
        Decimal("47.5"),
    )
    assert vm.unit_price == Decimal("0.217") * Decimal("47.5")
    assert vm.product_name == "Virtual Machines Dv3 Series Windows - D2 v3/D2s v3"
    assert vm.usage_unit == "1 Hour"
    tables = by_line[(SUB_A, "82cd70ab-1aee-4b30-bc04-8b71e1204dbc")]
    assert tables.unit_cost == Decimal("0.0000399843698")
    assert tables.unit_price == Decimal("0.045") * Decimal("0.001045343")
    fabrikam = reports[FABRIKAM]
    assert fabrikam.currency == "EUR"
    (line,) = fabrikam.lines
    assert line.unit_price == Decimal("0.08") * 10 * Decimal("0.846202666")


@pytest.mark.parametrize("shape", ["csv.gz", "graph-json-lines.gz", "api-json", "multi-member.gz"])
def test_usage_in_every_shape(tmp_path: Path, usage_csv: Path, shape: str) -> None:
    rows = usage_rows()
    path = tmp_path / f"usage.{shape}"
    if shape == "csv.gz":
        write_csv(path, rows, USAGE_COLUMNS, gz=True)
    elif shape == "graph-json-lines.gz":
        path.write_bytes(gzip.compress(json_lines(api_items(rows)).encode()))
    elif shape == "api-json":
        items = [
            item | {"attributes": {"objectType": "DailyRatedUsageLineItem"}}
            for item in api_items(rows)
        ]
        path.write_text(json_text({"totalCount": len(items), "items": items}), encoding="utf-8")
    else:
        text = csv_text(rows, USAGE_COLUMNS).encode()
        middle = text.index(b"\n", len(text) // 2) + 1
        path.write_bytes(gzip.compress(text[:middle]) + gzip.compress(text[middle:]))
    assert hashes(read(path)) == hashes(read(usage_csv))


def test_columns_in_any_order_case_and_spelling(
    tmp_path: Path, usage_csv: Path, recon_csv: Path
) -> None:
    """Lower case, shuffled, Microsoft's alternative names, a BOM, a garbled unused header,
    extra columns, a SkuId that lost its leading zeros, upper-case GUIDs."""
    shuffled = list(USAGE_COLUMNS)
    random.Random(7).shuffle(shuffled)
    renamed = {"Unit": "unitOfMeasure", "BillingCurrency": "Currency", "PartnerId": "ss"}
    rows = [
        {renamed.get(k, k).lower(): v for k, v in row.items()} | {"newcolumn2026": "x"}
        for row in usage_rows()
    ]
    rows[0]["customerid"] = rows[0]["customerid"].upper()
    columns = [renamed.get(c, c).lower() for c in shuffled] + ["newcolumn2026"]
    path = tmp_path / "variant-usage.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text(rows, columns).encode())
    assert hashes(read(path)) == hashes(read(usage_csv))

    recon = [
        {("TotalForCustomer" if k == "Total" else camel(k)): v for k, v in row.items()}
        for row in recon_rows()
    ]
    recon[0]["skuId"] = "1"  # "0001" after a trip through Excel
    recon[0]["subscriptionId"] = recon[0]["subscriptionId"].upper()
    header = [("TotalForCustomer" if c == "Total" else camel(c)) for c in reversed(RECON_COLUMNS)]
    variant = tmp_path / "variant-recon.csv"
    variant.write_text(csv_text(recon, header), encoding="utf-8")
    assert hashes(read(variant)) == hashes(read(recon_csv))


def test_numbers_and_dates_as_microsoft_writes_them(tmp_path: Path, recon_csv: Path) -> None:
    """Exponent notation, an Excel guard apostrophe, ISO dates with times and offsets."""
    rows = recon_rows()
    rows[0] |= {
        "EffectiveUnitPrice": "1.25E+01",
        "BillableQuantity": "'10",
        "ChargeStartDate": "2025-11-01T00:00:00Z",
        "ChargeEndDate": "2025-11-30T09:22:40.1767993-08:00",
        "SubscriptionStartDate": "11/01/2025 12:00:00 AM",
    }
    path = write_csv(tmp_path / "recon.csv", rows, RECON_COLUMNS)
    assert hashes(read(path)) == hashes(read(recon_csv))


def test_a_quoted_value_spanning_lines_keeps_line_numbers(tmp_path: Path, usage_csv: Path) -> None:
    rows = usage_rows()
    rows[1]["AdditionalInfo"] = '{"ImageType": null,\n "ServiceType": "Standard_D2_v3"}'
    rows[3]["Quantity"] = "many"
    path = write_csv(tmp_path / "usage.csv", rows, USAGE_COLUMNS)
    with pytest.raises(Exception) as raised:
        read(path)
    assert f"{path}:6: Quantity: 'many' is not a number" in str(raised.value)
    rows[3]["Quantity"] = "7.10833E-05"
    path = write_csv(tmp_path / "usage.csv", rows, USAGE_COLUMNS)
    assert hashes(read(path)) == hashes(read(usage_csv))


def test_a_row_longer_than_polars_reads_at_a_time_is_read_in_columns(
    tmp_path: Path, usage_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The columnar reader has polars scan a CSV a few MiB at a time (to bound its memory); a
    row longer than that (under the longest line accepted) is still read by it, the same."""
    from billbridge.sources.partner_center import usage

    def fail(*args: object) -> None:
        raise AssertionError("the row reader should not be needed for this file")

    chunk = int(os.environ["POLARS_CSV_CHUNK_SIZE"])
    assert chunk <= 8 << 20
    rows = usage_rows()
    rows[2]["Tags"] = "x" * (chunk + chunk // 2)
    path = write_csv(tmp_path / "usage.csv", rows, USAGE_COLUMNS)
    monkeypatch.setattr(usage, "read_rows", fail)
    assert hashes(read(path)) == hashes(read(usage_csv))


def test_concatenated_exports_repeat_their_header(tmp_path: Path, usage_csv: Path) -> None:
    text = csv_text(usage_rows()[:2], USAGE_COLUMNS) + csv_text(usage_rows()[2:], USAGE_COLUMNS)
    path = tmp_path / "joined.csv"
    path.write_text(text, encoding="utf-8")
    assert hashes(read(path)) == hashes(read(usage_csv))


def test_blobs_of_one_export_import_together(tmp_path: Path, usage_csv: Path) -> None:
    """A Graph export split over several blobs: imported in one command, one report each."""
    items = api_items(usage_rows())
    first, second = tmp_path / "part-00000.json.gz", tmp_path / "part-00001.json.gz"
    first.write_bytes(gzip.compress(json_lines(items[:3]).encode()))
    second.write_bytes(gzip.compress(json_lines(items[3:]).encode()))
    assert hashes(read(first, second)) == hashes(read(usage_csv))


@pytest.mark.skipif(not API_EXAMPLES.exists(), reason="reference samples not present")
def test_microsofts_own_api_example(tmp_path: Path) -> None:
    """The OneTime billing line items of the Partner Center REST docs, as published (numbers
    as strings and as numbers, "new" and "New", ISO times with offsets)."""
    examples = json.loads(API_EXAMPLES.read_text(encoding="utf-8"))["examples"]
    response = next(
        e["response"]
        for e in examples
        if "OneTime/BillingLineItems?size=2&offset=0" in e["request"]
    )
    path = tmp_path / "onetime.json"
    path.write_text(json.dumps(response, indent=2), encoding="utf-8")
    result = read(path, license_markup=Decimal(10))
    lines = {
        (located.report.report_id, line.sku): line
        for located in result.reports
        for line in located.report.lines
    }
    power_bi = lines[
        ("pc-invoice-2021-05-835a59a7-3172-47b5-bdef-d9cc65f4d0e4", "CFQ7TTC0HL8W:0001")
    ]
    assert (power_bi.quantity, power_bi.unit_cost, power_bi.unit_price) == (
        Decimal(50),
        Decimal("14.40"),
        Decimal("15.84"),
    )
    office = lines[
        ("pc-invoice-2021-01-org:9060d13d-c5ed-482e-b059-a15a38cbb28e", "CFQ7TTC01234:0001")
    ]
    assert (office.quantity, office.unit_cost) == (Decimal(1), Decimal(16))
    assert len(lines) == 2  # the trial is not billed; the metered WAF line is Azure plan usage
    assert any("is a trial" in warning for warning in result.warnings)
    assert len(result.organizations) == 3


BASIC_ATTRIBUTES = (
    "AdditionalInfo,BenefitOrderID,BenefitType,BillingCurrency,BillingPreTaxTotal,ChargeEndDate,"
    "ChargeStartDate,ChargeType,CreditPercentage,CreditType,CustomerId,CustomerName,"
    "EffectiveUnitPrice,EntitlementId,InvoiceNumber,PartnerId,PartnerName,PCToBCExchangeRate,"
    "PricingCurrency,PricingPreTaxTotal,ProductId,PublisherName,Quantity,ResourceURI,SkuId,"
    "SkuName,SubscriptionId,UnitPrice,UnitType,UsageDate"
).split(",")


def test_the_graph_exports_basic_attribute_set(tmp_path: Path) -> None:
    """No meter columns: meters are told apart by ProductId:SkuId and named by SkuName."""
    rows = [{k: v for k, v in row.items() if k in BASIC_ATTRIBUTES} for row in usage_rows()]
    path = tmp_path / "part-00049.json.gz"
    path.write_bytes(gzip.compress(json_lines(api_items(rows)).encode()))
    result = read(path)
    contoso = next(r.report for r in result.reports if r.report.organization_id == CONTOSO)
    lines = {(line.subscription_id, line.sku): line for line in contoso.lines}
    vm = lines[(SUB_A, "DZH318Z0BPVL:00GM")]
    assert (vm.product_name, vm.usage_unit, vm.unit_cost) == (
        "D2 v3",
        "1 Hour",
        Decimal("8.761375"),
    )
    organization = next(o for o in result.organizations if o.organization_id == CONTOSO)
    assert (organization.name, organization.domain) == ("Contoso Ltd", None)

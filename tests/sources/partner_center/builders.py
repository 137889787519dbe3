"""Builders of Partner Center files for the tests, in Microsoft's own shapes."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import billbridge.sources.partner_center as package
from billbridge.domain.price_list import PriceListItem
from billbridge.sources.partner_center import PartnerCenterImport, columnar, read_partner_center

SAMPLES = Path(__file__).parent / "data"
# Microsoft's documented billing scenarios, copied from the project's reference samples (a
# transcription of public Microsoft docs, see its comment lines): the golden tests always run.
SCENARIOS = SAMPLES / "ms_docs_nce_billing_scenarios.csv"
# Microsoft's public samples, copied from the project's reference folder (see data/README.md):
# a real, anonymised Azure plan usage export of 89,780 rows, and the Partner Center API's
# documented line items. BILLBRIDGE_REFERENCE_SAMPLES may point at another copy.
REFERENCE = Path(os.environ.get("BILLBRIDGE_REFERENCE_SAMPLES", SAMPLES))
REAL_USAGE = REFERENCE / "azure-billed-usage-2025-11-anonymised.csv.gz"
API_EXAMPLES = REFERENCE / "ms_docs_partnercenter_invoice_api_examples.json"

# The New Commerce invoice reconciliation columns, in the order of Microsoft's 2021 field list.
RECON_COLUMNS = (
    "PartnerId,CustomerId,CustomerName,CustomerDomainName,CustomerCountry,InvoiceNumber,MpnId,"
    "ResellerMpnId,OrderId,OrderDate,ProductId,SkuId,AvailabilityId,SkuName,ProductName,"
    "ChargeType,UnitPrice,Quantity,Subtotal,TaxTotal,Total,Currency,PriceAdjustmentDescription,"
    "PublisherName,PublisherId,SubscriptionDescription,SubscriptionId,ChargeStartDate,"
    "ChargeEndDate,TermAndBillingCycle,EffectiveUnitPrice,UnitType,AlternateId,BillableQuantity,"
    "BillingFrequency,PricingCurrency,PCToBCExchangeRate,PCToBCExchangeRateDate,MeterDescription,"
    "ReservationOrderId,CreditReasonCode,SubscriptionStartDate,SubscriptionEndDate,ReferenceId,"
    "ProductQualifiers,PromotionId"
).split(",")

# The daily-rated usage columns, exactly as in the real November 2025 export.
USAGE_COLUMNS = (
    "PartnerId,PartnerName,CustomerId,CustomerName,CustomerDomainName,CustomerCountry,MpnId,"
    "Tier2MpnId,InvoiceNumber,ProductId,SkuId,AvailabilityId,SkuName,ProductName,PublisherName,"
    "PublisherId,SubscriptionDescription,SubscriptionId,ChargeStartDate,ChargeEndDate,UsageDate,"
    "MeterType,MeterCategory,MeterId,MeterSubCategory,MeterName,MeterRegion,Unit,"
    "ResourceLocation,ConsumedService,ResourceGroup,ResourceURI,ChargeType,UnitPrice,Quantity,"
    "UnitType,BillingPreTaxTotal,BillingCurrency,PricingPreTaxTotal,PricingCurrency,ServiceInfo1,"
    "ServiceInfo2,Tags,AdditionalInfo,EffectiveUnitPrice,PCToBCExchangeRate,"
    "PCToBCExchangeRateDate,EntitlementId,EntitlementDescription,PartnerEarnedCreditPercentage,"
    "CreditPercentage,CreditType,BenefitId,BenefitOrderId,BenefitType"
).split(",")

PARTNER = "5291e0c8-7c1a-42dc-b4de-d1fc7662f249"
CONTOSO = "3f1b2c4d-1111-4aaa-8bbb-000000000001"
FABRIKAM = "3f1b2c4d-2222-4aaa-8bbb-000000000002"


def us_date(day: date | str) -> str:
    """Microsoft's CSV way: 11/7/2025 (no leading zeros)."""
    value = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{value.month}/{value.day}/{value.year}"


def recon_row(**values: Any) -> dict[str, str]:
    """A licence line of the invoice reconciliation; keyword arguments override columns."""
    row = {
        "PartnerId": PARTNER,
        "CustomerId": CONTOSO,
        "CustomerName": "Contoso Ltd",
        "CustomerDomainName": "contoso.onmicrosoft.com",
        "CustomerCountry": "US",
        "InvoiceNumber": "G000100100",
        "MpnId": "6034453",
        "OrderId": "6dc5c039750a",
        "OrderDate": "11/1/2025",
        "ProductId": "CFQ7TTC0LDPB",
        "SkuId": "0001",
        "AvailabilityId": "CFQ7TTC0K5DJ",
        "SkuName": "Microsoft 365 Business Standard",
        "ProductName": "Microsoft 365 Business Standard",
        "ChargeType": "renew",
        "UnitPrice": "12.50",
        "Quantity": "10",
        "Subtotal": "125.00",
        "TaxTotal": "0",
        "Total": "125.00",
        "Currency": "USD",
        "PriceAdjustmentDescription": "[]",
        "PublisherName": "Microsoft Corporation",
        "SubscriptionDescription": "Business Standard",
        "SubscriptionId": "a1a1a1a1-0000-4000-8000-000000000001",
        "ChargeStartDate": "11/1/2025",
        "ChargeEndDate": "11/30/2025",
        "TermAndBillingCycle": "One-Month commitment for monthly billing",
        "EffectiveUnitPrice": "12.50",
        "UnitType": "Licenses",
        "BillableQuantity": "10",
        "BillingFrequency": "Monthly",
        "PricingCurrency": "USD",
        "PCToBCExchangeRate": "1",
        "PCToBCExchangeRateDate": "11/1/2025",
        "SubscriptionStartDate": "11/1/2025",
        "SubscriptionEndDate": "11/30/2025",
        "ProductQualifiers": "[]",
    }
    row.update({key: str(value) for key, value in values.items()})
    return row


def usage_row(**values: Any) -> dict[str, str]:
    """A row of the daily-rated usage file; keyword arguments override columns."""
    row = {
        "PartnerId": PARTNER,
        "PartnerName": "Example Partner Ltd",
        "CustomerId": CONTOSO,
        "CustomerName": "Contoso Ltd",
        "CustomerDomainName": "contoso.onmicrosoft.com",
        "CustomerCountry": "US",
        "InvoiceNumber": "G000100200",
        "ProductId": "DZH318Z0BPVL",
        "SkuId": "00GM",
        "AvailabilityId": "DZH318XZN9ZL",
        "SkuName": "D2 v3",
        "ProductName": "Dv3 Series Windows VM",
        "PublisherName": "Microsoft",
        "SubscriptionId": "9b9b9b9b-0000-4000-8000-00000000aaaa",
        "ChargeStartDate": "11/01/2025",
        "ChargeEndDate": "11/30/2025",
        "UsageDate": "11/17/2025",
        "MeterType": "1 Compute Hour",
        "MeterCategory": "Virtual Machines",
        "MeterId": "4855f157-570b-40df-b735-8c47505de5ac",
        "MeterSubCategory": "Virtual Machines Dv3 Series Windows",
        "MeterName": "D2 v3/D2s v3",
        "MeterRegion": "US East",
        "Unit": "1 Hour",
        "ResourceLocation": "eastus",
        "ConsumedService": "Microsoft.Compute",
        "ResourceGroup": "rg-app",
        "ResourceURI": "/subscriptions/x/resourceGroups/rg-app/providers/vm-1",
        "ChargeType": "Usage",
        "UnitPrice": "0.217",
        "Quantity": "24",
        "UnitType": "1 Hour",
        "BillingPreTaxTotal": "4.4268",
        "BillingCurrency": "USD",
        "PricingPreTaxTotal": "4.4268",
        "PricingCurrency": "USD",
        "EffectiveUnitPrice": "0.18445",
        "PCToBCExchangeRate": "1",
        "PCToBCExchangeRateDate": "11/01/2025",
        "EntitlementId": "d9a3ce9e-cbc1-4674-b12d-1e51dd71029e",
        "EntitlementDescription": "Azure subscription 01",
        "PartnerEarnedCreditPercentage": "15",
        "CreditPercentage": "15",
        "CreditType": "Partner Earned Credit Applied",
        "BenefitType": "Charge",
    }
    row.update({key: str(value) for key, value in values.items()})
    return row


def csv_text(rows: Iterable[Mapping[str, str]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=list(columns), lineterminator="\r\n", extrasaction="raise"
    )
    writer.writeheader()
    for row in rows:
        writer.writerow({column: row.get(column, "") for column in columns})
    return out.getvalue()


def write_csv(
    path: Path, rows: Iterable[Mapping[str, str]], columns: Sequence[str], *, gz: bool = False
) -> Path:
    data = csv_text(rows, columns).encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def camel(column: str) -> str:
    """`CustomerId` -> `customerId`, `PCToBCExchangeRate` -> `pcToBCExchangeRate`."""
    if column.startswith("PCTo"):
        return "pc" + column[2:]
    return column[0].lower() + column[1:]


def api_items(rows: Iterable[Mapping[str, str]]) -> list[dict[str, Any]]:
    """Rows as the REST API's line items: camelCase keys, numbers as JSON numbers, ISO dates."""
    items = []
    for row in rows:
        item: dict[str, Any] = {}
        for column, value in row.items():
            key = camel(column)
            if column.endswith("Date") and value:
                month, day, year = value.split("/")
                item[key] = f"{int(year):04d}-{int(month):02d}-{int(day):02d}T00:00:00Z"
            elif column == "ProductQualifiers":
                item[key] = json.loads(value) if value else []
            elif _is_number(value) and column not in ("SkuId", "MpnId", "InvoiceNumber"):
                item[key] = Decimal(value)
            else:
                item[key] = value
        items.append(item)
    return items


def json_text(value: Any, indent: str | None = "") -> str:
    """JSON with Decimals written as exact JSON numbers: pretty, one key per line (so that each
    object starts on a line of its own, as the API's responses do), or compact (indent None)."""
    inner = None if indent is None else indent + "  "
    if isinstance(value, (dict, list)) and value:
        if isinstance(value, dict):
            parts = [f"{json.dumps(k)}: {json_text(v, inner)}" for k, v in value.items()]
            opening, closing = "{", "}"
        else:
            parts = [json_text(item, inner) for item in value]
            opening, closing = "[", "]"
        if indent is None or inner is None:
            return opening + ",".join(parts) + closing
        body = ",\n".join(inner + part for part in parts)
        return f"{opening}\n{body}\n{indent}{closing}"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)


def json_lines(items: Iterable[Mapping[str, Any]]) -> str:
    """The Graph export's shape: one compact object per line."""
    return "".join(json_text(dict(item), None) + "\n" for item in items)


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return bool(text) and text.strip() == text


def read(
    *paths: Path,
    generated_on: date = date(2025, 12, 6),
    azure_markup: Decimal | None = None,
    license_markup: Decimal | None = None,
    price_list: Mapping[str, PriceListItem] | None = None,
) -> PartnerCenterImport:
    return read_partner_center(
        list(paths),
        generated_on=generated_on,
        azure_markup=azure_markup,
        license_markup=license_markup,
        price_list=price_list or {},
    )


def hashes(result: PartnerCenterImport) -> dict[str, str]:
    return {located.report.report_id: located.report.content_hash for located in result.reports}


def located(result: PartnerCenterImport) -> list[tuple[str, int | None]]:
    return [(located.report.report_id, located.line) for located in result.reports]


def spy(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What each call of the columnar reader returned (None: the row reader's turn)."""
    outcomes: list[object] = []
    real: Callable[..., Any] = columnar.read_usage_csv

    def recorded(*args: Any) -> Any:
        outcome = real(*args)
        outcomes.append(outcome)
        return outcome

    monkeypatch.setattr(package, "read_usage_csv", recorded)
    return outcomes


def by_rows(path: Path, monkeypatch: pytest.MonkeyPatch) -> PartnerCenterImport:
    with monkeypatch.context() as patch:
        patch.setattr(package, "read_usage_csv", lambda *_: None)
        return read(path)

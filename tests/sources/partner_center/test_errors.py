"""Bad or unexpected files: `InputError` listing every problem as `FILE:LINE: column: problem`."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from billbridge.sources.problems import InputError

from .builders import (
    API_EXAMPLES,
    CONTOSO,
    RECON_COLUMNS,
    USAGE_COLUMNS,
    api_items,
    csv_text,
    json_lines,
    read,
    recon_row,
    usage_row,
    write_csv,
)


def problems(*paths: Path) -> list[str]:
    with pytest.raises(InputError) as raised:
        read(*paths)
    return [str(problem) for problem in raised.value.problems]


def usage_file(tmp_path: Path, *rows: dict[str, str], name: str = "usage.csv") -> Path:
    return write_csv(tmp_path / name, rows or [usage_row()], USAGE_COLUMNS)


def recon_file(tmp_path: Path, *rows: dict[str, str], name: str = "recon.csv") -> Path:
    return write_csv(tmp_path / name, rows or [recon_row()], RECON_COLUMNS)


def test_unknown_header(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("report_id,organization_id\nr1,o1\n", encoding="utf-8")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:1: is not a Partner Center file billbridge knows")


def test_legacy_files_are_named(tmp_path: Path) -> None:
    licence = tmp_path / "legacy.csv"
    licence.write_text(
        "PartnerId,CustomerId,SyndicationPartnerSubscriptionNumber,DurableOfferId,Amount\n"
        "p,c,s,d,1\n",
        encoding="utf-8",
    )
    usage = tmp_path / "legacy-usage.csv"
    usage.write_text("CustomerId,ConsumedQuantity,PretaxCharges\nc,1,1\n", encoding="utf-8")
    assert problems(licence, usage) == [
        f"{licence}:1: is a legacy licence-based reconciliation file, which billbridge does not"
        " read; use the New Commerce invoice reconciliation file",
        f"{usage}:1: is a legacy usage-based reconciliation file, which billbridge does not read;"
        " use the daily-rated usage file",
    ]


def test_missing_required_columns(tmp_path: Path) -> None:
    usage_columns = [c for c in USAGE_COLUMNS if c not in ("EntitlementId", "UnitPrice")]
    usage = write_csv(tmp_path / "usage.csv", [usage_row()], usage_columns)
    recon_columns = [
        c for c in RECON_COLUMNS if c not in ("SubscriptionId", "Quantity", "BillableQuantity")
    ]
    recon = write_csv(tmp_path / "recon.csv", [recon_row()], recon_columns)
    assert problems(usage, recon) == [
        f"{usage}:1: EntitlementId: required column is missing",
        f"{usage}:1: UnitPrice: required column is missing",
        f"{recon}:1: SubscriptionId: required column is missing",
        f"{recon}:1: BillableQuantity: required column is missing",
    ]


def test_a_column_twice(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    text = csv_text([usage_row()], USAGE_COLUMNS)
    header, rest = text.split("\r\n", 1)
    path.write_text(header + ",quantity\r\n" + rest.replace("\r\n", ",1\r\n"), encoding="utf-8")
    assert problems(path) == [f"{path}:1: Quantity: column appears twice in the header"]


def test_every_bad_value_of_every_row_and_file(tmp_path: Path) -> None:
    usage = usage_file(
        tmp_path,
        usage_row(),
        usage_row(Quantity="abc", BillingPreTaxTotal="1,5"),
        usage_row(ChargeStartDate="31/11/2025", BillingCurrency="EUD", EntitlementId=""),
        usage_row(UnitPrice="1E+99", PCToBCExchangeRate="0", MeterId=""),
        usage_row(ChargeStartDate="Nov 1 2025", ChargeEndDate="10/1/2025"),
    )
    recon = recon_file(
        tmp_path,
        recon_row(ChargeType="Cycle fee"),
        recon_row(EffectiveUnitPrice="", BillableQuantity="ten", ChargeStartDate="2025-13-01"),
        recon_row(CustomerId="", Currency="", PricingCurrency="EUR", PCToBCExchangeRate=""),
    )
    assert problems(usage, recon) == [
        f"{usage}:3: Quantity: 'abc' is not a number",
        f"{usage}:3: BillingPreTaxTotal: '1,5' uses a decimal comma; Microsoft writes 1.5",
        f"{usage}:4: ChargeStartDate: '31/11/2025' is not a real date (Microsoft writes"
        " month/day/year)",
        f"{usage}:4: BillingCurrency: 'EUD' is not an ISO 4217 currency code",
        f"{usage}:4: EntitlementId: is required",
        f"{usage}:5: MeterId: is required",
        f"{usage}:5: UnitPrice: '1E+99' is out of range",
        f"{usage}:5: PCToBCExchangeRate: must be positive (got 0)",
        f"{usage}:6: ChargeStartDate: 'Nov 1 2025' is not a date; Microsoft writes 11/17/2025"
        " or 2025-11-17",
        f"{recon}:2: ChargeType: 'Cycle fee' is not a New Commerce charge type billbridge knows"
        " (new, renew, cycleCharge, addQuantity, removeQuantity, moveQuantity, convert,"
        " cancelImmediate, changeBillingPlan, extendTerm, customerCredit)",
        f"{recon}:3: ChargeStartDate: '2025-13-01' is not a real date",
        f"{recon}:3: EffectiveUnitPrice: is required",
        f"{recon}:3: BillableQuantity: 'ten' is not a number",
        f"{recon}:4: CustomerId: is required",
        f"{recon}:4: Currency: is required",
    ]


def test_charge_end_before_start(tmp_path: Path) -> None:
    usage = usage_file(tmp_path, usage_row(ChargeEndDate="10/31/2025"))
    recon = recon_file(tmp_path, recon_row(ChargeEndDate="10/1/2025"))
    assert problems(usage, recon) == [
        f"{usage}:2: ChargeEndDate: 2025-10-31 is before ChargeStartDate 2025-11-01",
        f"{recon}:2: ChargeEndDate: 2025-10-01 is before ChargeStartDate 2025-11-01",
    ]


def test_exchange_rate_needed_across_currencies(tmp_path: Path) -> None:
    recon = recon_file(
        tmp_path, recon_row(Currency="EUR", PricingCurrency="USD", PCToBCExchangeRate="")
    )
    assert problems(recon) == [
        f"{recon}:2: PCToBCExchangeRate: is required: PricingCurrency USD differs from Currency EUR"
    ]


def test_too_many_fields(tmp_path: Path) -> None:
    text = csv_text([usage_row(), usage_row()], USAGE_COLUMNS)
    lines = text.split("\r\n")
    lines[2] += ",extra"
    path = tmp_path / "usage.csv"
    path.write_text("\r\n".join(lines), encoding="utf-8")
    assert problems(path) == [
        f"{path}:3: has 56 fields where the header has 55 (an unquoted comma in a value?)"
    ]


@pytest.mark.parametrize("kind", ["usage", "recon"])
def test_not_utf8(tmp_path: Path, kind: str) -> None:
    path = (
        usage_file(tmp_path, usage_row(), usage_row())
        if kind == "usage"
        else recon_file(tmp_path, recon_row(), recon_row(SubscriptionId="other"))
    )
    path.write_bytes(path.read_bytes().replace(b"Contoso Ltd", b"Contoso \xff", 1))
    (problem,) = problems(path)
    assert problem == f"{path}:2: is not UTF-8 (byte 0xff); save it as UTF-8"


def test_not_utf8_json(tmp_path: Path) -> None:
    path = tmp_path / "usage.json"
    path.write_bytes(b'[\n{"customerId": "\xff"}\n]')
    assert problems(path) == [f"{path}:2: is not UTF-8 (byte 0xff); save it as UTF-8"]


def test_broken_gzip(tmp_path: Path) -> None:
    data = gzip.compress(csv_text([usage_row()] * 200, USAGE_COLUMNS).encode())
    path = tmp_path / "usage.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:")
    assert "broken gzip: " in problem


def test_broken_gzip_header(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:1: broken gzip: ")


def test_broken_json_document(tmp_path: Path) -> None:
    path = tmp_path / "recon.json"
    path.write_text('{"items": [\n  {"customerId": "x",}\n]}', encoding="utf-8")
    (problem,) = problems(path)
    assert problem.startswith(f"{path}:2: broken JSON: ")


def test_broken_json_line(tmp_path: Path) -> None:
    items = api_items([usage_row(), usage_row()])
    path = tmp_path / "part-00000.json.gz"
    text = json_lines(items).splitlines()
    broken = [text[0], text[1][:-5], text[0], "[1, 2]", text[1][:9]]
    path.write_bytes(gzip.compress("\n".join(broken).encode()))
    found = problems(path)
    assert [problem.split(": ")[0] for problem in found] == [f"{path}:2", f"{path}:4", f"{path}:5"]
    assert found[0].startswith(f"{path}:2: broken JSON: ")
    assert found[1] == f"{path}:4: each JSON line must be an object (a line item)"


def test_json_that_is_not_line_items(tmp_path: Path) -> None:
    numbers, operation = tmp_path / "numbers.json", tmp_path / "operation.json"
    numbers.write_text("[\n1,\n2\n]", encoding="utf-8")
    operation.write_text('{"id": "6fe687d7", "status": "succeeded"}', encoding="utf-8")
    assert problems(numbers, operation) == [
        f"{numbers}:1: item 1 is not an object",
        f"{numbers}:1: item 2 is not an object",
        f"{operation}:1: is not a Partner Center file billbridge knows: expected the New Commerce"
        " invoice reconciliation (columns ChargeType, EffectiveUnitPrice, BillableQuantity, ...)"
        " or the daily-rated usage file (columns BillingPreTaxTotal, EntitlementId, ...)",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"  \r\n\n", "is empty"),
        (gzip.compress(b""), "is empty"),
        (b"[]", "has no line items"),
        (b'{"totalCount": 0, "items": []}', "has no line items"),
    ],
)
def test_empty_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    assert problems(path) == [f"{path}: {message}"]


def test_a_header_without_rows(tmp_path: Path) -> None:
    usage = write_csv(tmp_path / "usage.csv", [], USAGE_COLUMNS)
    recon = write_csv(tmp_path / "recon.csv", [], RECON_COLUMNS)
    assert problems(usage, recon) == [
        f"{usage}: has a header but no rows",
        f"{recon}: has a header but no lines",
    ]


def test_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.csv"
    assert problems(path) == [f"{path}: cannot be read: No such file or directory"]


def test_mixed_currencies_within_one_customer_and_period(tmp_path: Path) -> None:
    usage = usage_file(
        tmp_path,
        usage_row(),
        usage_row(EntitlementId="0c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5", BillingCurrency="EUR"),
    )
    recon = recon_file(
        tmp_path,
        recon_row(),
        recon_row(SubscriptionId="other", Currency="EUR", PricingCurrency="EUR"),
    )
    assert problems(usage, recon) == [
        f"{recon}:3: Currency: 'EUR' differs from 'USD' at {recon}:2: one customer's billing for"
        " one period must be in one currency",
        f"{usage}:3: BillingCurrency: 'EUR' differs from 'USD' at {usage}:2: one customer's billing"
        " for one period must be in one currency",
    ]


def test_columns_are_named_as_the_file_writes_them(tmp_path: Path) -> None:
    item = api_items([usage_row(Quantity="lots")])[0]
    path = tmp_path / "usage.json"
    path.write_text(json.dumps([{k: str(v) for k, v in item.items()}], indent=1), encoding="utf-8")
    assert problems(path) == [f"{path}:2: quantity: 'lots' is not a number"]


def test_one_bad_file_stops_the_whole_command(tmp_path: Path) -> None:
    good = usage_file(tmp_path, name="good.csv")
    bad = usage_file(tmp_path, usage_row(CustomerId=""), name="bad.csv")
    assert problems(good, bad) == [f"{bad}:2: CustomerId: is required"]


def test_json_numbers_must_be_numbers(tmp_path: Path) -> None:
    rows = api_items([recon_row()])
    rows[0]["effectiveUnitPrice"] = True
    rows[0]["billableQuantity"] = [1]
    path = tmp_path / "recon.json"
    path.write_text(json.dumps(rows, default=str, indent=1), encoding="utf-8")
    assert problems(path) == [
        f"{path}:2: effectiveUnitPrice: 'True' is not a number",
        f"{path}:2: billableQuantity: a list is not a number",
    ]


@pytest.mark.skipif(not API_EXAMPLES.exists(), reason="reference samples not present")
def test_microsofts_usage_api_example_has_no_customer(tmp_path: Path) -> None:
    """The docs' DailyRatedUsageLineItem samples leave customerId blank: reported per item."""
    examples = json.loads(API_EXAMPLES.read_text(encoding="utf-8"))["examples"]
    response = next(
        e["response"]
        for e in examples
        if isinstance(e["response"], dict)
        and e["response"].get("items")
        and e["response"]["items"][0].get("attributes", {}).get("objectType")
        == "DailyRatedUsageLineItem"
    )
    path = tmp_path / "usage.json"
    path.write_text(json.dumps(response, indent=1), encoding="utf-8")
    found = problems(path)
    assert found == [
        f"{path}:4: customerId: is required",
        f"{path}:4: entitlementId: is required",
        f"{path}:4: pcToBCExchangeRate: is required",
        f"{path}:56: customerId: is required",
    ]


def test_blank_customer_in_an_otherwise_good_usage_file(tmp_path: Path) -> None:
    path = usage_file(tmp_path, usage_row(), usage_row(CustomerId=" "), usage_row())
    assert problems(path) == [f"{path}:3: CustomerId: is required"]
    assert CONTOSO  # the good rows' customer is not reported


def test_the_same_file_twice_counts_once(tmp_path: Path) -> None:
    """Its rows would be added up twice: the same path, or a copy under another name."""
    usage = usage_file(tmp_path)
    copy = tmp_path / "usage (1).csv"
    copy.write_bytes(usage.read_bytes())
    assert problems(usage, usage, copy) == [
        f"{usage}: is the same file as {usage}: each file counts once",
        f"{copy}: is the same file as {usage}: each file counts once",
    ]

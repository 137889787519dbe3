"""The reports reader: what it accepts, and a clear FILE:LINE error for what it does not."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billbridge.domain.subscription import SubscriptionType
from billbridge.sources.problems import InputError
from billbridge.sources.reports import read_reports
from tests.foundation.helpers import GOOD_LINE, REPORT_HEADER, csv_file, write


def problems_of(paths: list[Path]) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_reports(paths)
    return [str(p) for p in caught.value.problems]


def test_reads_a_csv_report_with_exact_decimals(tmp_path: Path) -> None:
    azure = "r1,org-1,2026-10-06,2026-10-01,2026-10-31,usd,az-1,azure,m1,Blob,7.10833E-05,0.1,.2"
    path = csv_file(tmp_path, "r.csv", REPORT_HEADER, GOOD_LINE, azure)
    [located] = read_reports([path])
    report = located.report
    assert (located.file, located.line) == (str(path), 2)
    assert report.currency == "USD"
    assert report.period_start == date(2026, 10, 1)
    assert [line.subscription_type for line in report.lines] == [
        SubscriptionType.CSP365,
        SubscriptionType.AZURE,
    ]
    assert report.lines[1].quantity == Decimal("0.0000710833")
    assert report.lines[1].unit_price == Decimal("0.2")
    assert report.lines[0].unit_cost == Decimal("5.40")


def test_csv_and_json_of_the_same_report_have_the_same_content_hash(tmp_path: Path) -> None:
    csv_path = csv_file(tmp_path, "r.csv", REPORT_HEADER, GOOD_LINE)
    document = {
        "reports": [
            {
                "report_id": "r1",
                "organization_id": "org-1",
                "generated_on": "2026-10-06",
                "period_start": "2026-10-01",
                "period_end": "2026-10-31",
                "currency": "USD",
                "lines": [
                    {
                        "subscription_id": "sub-1",
                        "subscription_type": "csp365",
                        "sku": "CFQ7TTC0LH18:0001",
                        "product_name": "Microsoft 365 Business Basic",
                        "quantity": 10,
                        "unit_cost": 5.4,
                        "unit_price": "6.00",
                    }
                ],
            }
        ]
    }
    json_path = write(tmp_path, "r.json", json.dumps(document, indent=2))
    [from_csv] = read_reports([csv_path])
    [from_json] = read_reports([json_path])
    assert from_csv.report.content_hash == from_json.report.content_hash
    assert from_json.report.lines[0].unit_cost == Decimal("5.4")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (GOOD_LINE.replace(",10,", ",ten,"), "r.csv:2: quantity: 'ten' is not a number"),
        (GOOD_LINE.replace("5.40", '"5,40"'), "r.csv:2: unit_cost: '5,40' uses a decimal comma"),
        (GOOD_LINE.replace("6.00", "-6.00"), "r.csv:2: unit_price: must not be negative"),
        (GOOD_LINE.replace("csp365", "o365"), "r.csv:2: subscription_type: 'o365' is not one of"),
        (GOOD_LINE.replace("2026-10-06", "10/06/2026"), "r.csv:2: generated_on: '10/06/2026'"),
        (GOOD_LINE.replace("2026-10-31", "2026-02-30"), "r.csv:2: period_end: '2026-02-30' is not"),
        (
            GOOD_LINE.replace("2026-10-31", "2026-09-30"),
            "r.csv:2: period_end: 2026-09-30 is before",
        ),
        (GOOD_LINE.replace("USD", "EUD"), "r.csv:2: currency: 'EUD' is not an ISO 4217"),
        (GOOD_LINE.replace(",sub-1,", ",,"), "r.csv:2: subscription_id: is required"),
        (GOOD_LINE.replace(",10,", ",NaN,"), "r.csv:2: quantity: 'NaN' is not a number"),
        (GOOD_LINE.replace(",10,", ",1e999,"), "r.csv:2: quantity: '1e999' is out of range"),
        (GOOD_LINE + ",extra", "r.csv:2: has 14 fields where the header has 13"),
    ],
)
def test_bad_values_are_reported_with_file_line_and_column(
    tmp_path: Path, row: str, expected: str
) -> None:
    path = csv_file(tmp_path, "r.csv", REPORT_HEADER, row)
    found = problems_of([path])
    assert any(p.startswith(f"{tmp_path}/{expected}") for p in found), found


def test_rows_of_one_report_must_agree(tmp_path: Path) -> None:
    other_currency = GOOD_LINE.replace("USD", "EUR").replace("sub-1", "sub-2")
    other_org = GOOD_LINE.replace("org-1", "org-2").replace("sub-1", "sub-3")
    path = csv_file(tmp_path, "r.csv", REPORT_HEADER, GOOD_LINE, other_currency, other_org)
    found = problems_of([path])
    assert f"{path}:3: currency: 'EUR' disagrees with 'USD' at {path}:2" in found[0]
    assert found[1].startswith(f"{path}:4: organization_id: 'org-2' disagrees")


def test_one_subscription_has_one_type(tmp_path: Path) -> None:
    second = GOOD_LINE.replace("csp365", "marketplace")
    path = csv_file(tmp_path, "r.csv", REPORT_HEADER, GOOD_LINE, second)
    assert problems_of([path]) == [
        f"{path}:3: subscription_type: subscription 'sub-1' is csp365 at {path}:2"
    ]


def test_missing_and_unknown_columns(tmp_path: Path) -> None:
    header = REPORT_HEADER.replace(",unit_price", ",unit_prise")
    path = csv_file(tmp_path, "r.csv", header, GOOD_LINE)
    found = problems_of([path])
    assert any(p.startswith(f"{path}:1: unit_prise: unknown column") for p in found)
    assert f"{path}:1: unit_price: required column is missing" in found


def test_a_report_split_over_two_files_is_refused(tmp_path: Path) -> None:
    first = csv_file(tmp_path, "a.csv", REPORT_HEADER, GOOD_LINE)
    second = csv_file(tmp_path, "b.csv", REPORT_HEADER, GOOD_LINE.replace("sub-1", "sub-2"))
    [problem] = problems_of([first, second])
    assert problem.startswith(f"{second}:2: report_id: report 'r1' is also in {first}:2")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"  \n\n", "is empty"),
        (REPORT_HEADER.encode() + b"\n", "has a header but no rows"),
        (
            REPORT_HEADER.encode() + b"\n" + GOOD_LINE.encode().replace(b"Basic", b"B\xe4sic"),
            "is not UTF-8",
        ),
    ],
)
def test_unreadable_csv_files(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(content)
    [problem] = problems_of([path])
    assert expected in problem


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (REPORT_HEADER + "\n" + GOOD_LINE + "\n").encode())
    assert len(read_reports([path])) == 1


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ('{"reports": [', "r.json:1: broken JSON"),
        ("[]", 'r.json:1: must be an object {"reports": [...]}'),
        ('{"reports": {}}', 'r.json:1: "reports" must be a list of objects, not an object'),
        ('{"reports": [7]}', 'r.json:1: "reports" item 1 must be an object, not a number'),
        ('{"reports": [{"report_id": "x"}]}', "r.json:1: organization_id: required key is missing"),
    ],
)
def test_wrongly_shaped_json(tmp_path: Path, document: str, expected: str) -> None:
    path = write(tmp_path, "r.json", document)
    found = problems_of([path])
    assert any(p.startswith(f"{tmp_path}/{expected}") for p in found), found


def test_json_problems_point_at_the_line_of_the_object(tmp_path: Path) -> None:
    text = """{"reports": [
  {"report_id": "r1", "organization_id": "o", "generated_on": "2026-10-06",
   "period_start": "2026-10-01", "period_end": "2026-10-31", "currency": "USD",
   "lines": [
     {"subscription_id": "s", "subscription_type": "csp365", "sku": "a",
      "product_name": "b", "quantity": 1, "unit_cost": 1, "unit_price": 1},
     {"subscription_id": "s", "subscription_type": "csp365", "sku": "a",
      "product_name": "b", "quantity": true, "unit_cost": 1, "unit_price": 1}
   ]}
]}"""
    path = write(tmp_path, "r.json", text)
    assert problems_of([path]) == [f"{path}:7: quantity: 'True' is not a number"]


def test_unknown_file_type(tmp_path: Path) -> None:
    path = write(tmp_path, "r.xlsx", "x")
    assert problems_of([path]) == [f"{path}: unknown file type; use a .csv or .json file"]

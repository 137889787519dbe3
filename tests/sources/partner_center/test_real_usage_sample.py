"""The real daily-rated usage export (November 2025, 89,780 rows, anonymised).

Expected totals are computed here with the csv module and Decimal, independently of the
reader: per Azure subscription, the cost is the sum of `BillingPreTaxTotal` and the list price
the sum of `UnitPrice` x `Quantity` x `PCToBCExchangeRate`, exactly and to the cent.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import pytest

from billbridge.domain.subscription import SubscriptionType
from billbridge.importing import import_partner_center
from billbridge.sources.partner_center import PartnerCenterImport, columnar
from billbridge.store import Store

from .builders import REAL_USAGE, read

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not REAL_USAGE.exists(), reason="reference samples not present"),
]
CENT = Decimal("0.01")


class Expected:
    def __init__(self) -> None:
        self.cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.list_price: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        self.meters: set[tuple[str, str]] = set()
        self.names: dict[str, str] = {}
        self.rows = 0


@pytest.fixture(scope="module")
def expected() -> Expected:
    result = Expected()
    with localcontext() as context:
        context.prec = 100
        with gzip.open(REAL_USAGE, "rt", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                key = (row["CustomerId"], row["EntitlementId"])
                result.cost[key] += Decimal(row["BillingPreTaxTotal"])
                result.list_price[key] += (
                    Decimal(row["UnitPrice"])
                    * Decimal(row["Quantity"])
                    * Decimal(row["PCToBCExchangeRate"])
                )
                result.meters.add((row["EntitlementId"], row["MeterId"]))
                result.names.setdefault(row["CustomerId"], row["CustomerName"])
                result.rows += 1
    return result


@pytest.fixture(scope="module")
def imported() -> PartnerCenterImport:
    return read(REAL_USAGE)


def totals(result: PartnerCenterImport) -> tuple[dict[tuple[str, str], Decimal], ...]:
    cost: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    price: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with localcontext() as context:
        context.prec = 100
        for located in result.reports:
            report = located.report
            for line in report.lines:
                key = (report.organization_id, line.subscription_id)
                cost[key] += line.quantity * line.unit_cost
                price[key] += line.quantity * line.unit_price
    return cost, price


def test_the_sample_is_what_the_reference_describes(expected: Expected) -> None:
    assert expected.rows == 89_780
    assert len(expected.names) == 24
    assert len({entitlement for _, entitlement in expected.cost}) == 33


def test_one_report_per_customer_with_stable_ids(imported: PartnerCenterImport) -> None:
    ids = [located.report.report_id for located in imported.reports]
    assert len(ids) == len(set(ids)) == 24
    assert all(report_id.startswith("pc-usage-2025-11-") for report_id in ids)
    for located in imported.reports:
        report = located.report
        assert report.report_id == f"pc-usage-2025-11-{report.organization_id}"
        assert (str(report.period_start), str(report.period_end)) == ("2025-11-01", "2025-11-30")
        assert report.currency == "USD"
        assert located.file == str(REAL_USAGE) and located.line >= 2


def test_cost_is_the_sum_of_billing_pre_tax_total(
    imported: PartnerCenterImport, expected: Expected
) -> None:
    cost, _ = totals(imported)
    assert cost == expected.cost  # exactly, not only to the cent
    for key, amount in expected.cost.items():
        cents = amount.quantize(CENT, rounding=ROUND_HALF_UP)
        assert cost[key].quantize(CENT, rounding=ROUND_HALF_UP) == cents


def test_sale_price_is_azure_list_price_before_partner_earned_credit(
    imported: PartnerCenterImport, expected: Expected
) -> None:
    cost, price = totals(imported)
    assert price == expected.list_price
    # Partner-earned credit (15%) is on most rows: list price is above cost for every customer.
    assert all(price[key] >= cost[key] for key in cost)
    total_cost, total_price = sum(cost.values()), sum(price.values())
    assert Decimal("1.10") < total_price / total_cost < Decimal("1.18")


def test_azure_markup_makes_the_price_cost_plus_percent(expected: Expected) -> None:
    cost, price = totals(read(REAL_USAGE, azure_markup=Decimal("12.5")))
    with localcontext() as context:
        context.prec = 100
        assert price == {key: amount * Decimal("1.125") for key, amount in expected.cost.items()}
    assert cost == expected.cost


def test_one_line_per_subscription_and_meter(
    imported: PartnerCenterImport, expected: Expected
) -> None:
    lines = [line for located in imported.reports for line in located.report.lines]
    assert {(line.subscription_id, line.sku) for line in lines} == expected.meters
    assert len(lines) == len(expected.meters) == 1005
    assert all(line.subscription_type is SubscriptionType.AZURE for line in lines)
    assert all(line.quantity == 1 for line in lines)
    assert all(line.usage_quantity is not None and line.usage_unit for line in lines)
    assert all(line.product_name for line in lines)
    assert "Blob Storage - All Other Operations" in {line.product_name for line in lines}


def test_organizations_come_from_the_file_without_company_links(
    imported: PartnerCenterImport, expected: Expected
) -> None:
    organizations = {o.organization_id: o for o in imported.organizations}
    assert {key: o.name for key, o in organizations.items()} == expected.names
    assert all(o.autotask_company_id is None and o.active for o in organizations.values())
    assert all(o.domain and o.domain.endswith(".onmicrosoft.com") for o in organizations.values())


def test_the_row_reader_agrees_with_the_columnar_reader(
    imported: PartnerCenterImport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both readers, to the digit: same reports, same content hashes."""
    calls: list[object] = []

    def refuse(*args: object) -> None:
        calls.append(args)

    monkeypatch.setattr(columnar, "read_usage_csv", refuse)
    import billbridge.sources.partner_center as package

    monkeypatch.setattr(package, "read_usage_csv", refuse)
    by_rows = read(REAL_USAGE)
    assert calls, "the columnar reader was not bypassed"
    assert hashes(by_rows) == hashes(imported)
    assert by_rows.organizations == imported.organizations


def test_the_columnar_reader_takes_the_real_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import billbridge.sources.partner_center as package
    from billbridge.sources.partner_center import usage

    def fail(*args: object) -> None:
        raise AssertionError("the row reader should not be needed for this file")

    monkeypatch.setattr(usage, "read_rows", fail)
    assert len(read(REAL_USAGE).reports) == 24
    del package


def test_same_file_twice_same_reports(imported: PartnerCenterImport, tmp_path: Path) -> None:
    """Idempotence, also across the gzipped and the plain file."""
    plain = tmp_path / "usage.csv"
    plain.write_bytes(gzip.decompress(REAL_USAGE.read_bytes()))
    assert hashes(read(REAL_USAGE)) == hashes(imported)
    assert hashes(read(plain)) == hashes(imported)


def test_the_file_read_as_text_rows_matches(tmp_path: Path, expected: Expected) -> None:
    """Re-written by Python's csv module with every field quoted: same totals."""
    text = gzip.decompress(REAL_USAGE.read_bytes()).decode("utf-8")
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    for row in csv.reader(io.StringIO(text, newline="")):
        writer.writerow(row)
    path = tmp_path / "quoted.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    cost, price = totals(read(path))
    assert cost == expected.cost and price == expected.list_price


def hashes(result: PartnerCenterImport) -> dict[str, str]:
    return {located.report.report_id: located.report.content_hash for located in result.reports}


def test_the_reports_are_stored_exactly_on_each_backend(store_url: str) -> None:
    """The import stores every line of the real file's reports as read, on SQLite and on
    PostgreSQL (the lines are written by one driver-level executemany per report)."""
    store = Store(store_url)
    try:
        counts = import_partner_center(store, [REAL_USAGE], generated_on=date(2025, 12, 6))
        read_back = read(REAL_USAGE)
        with store.transaction() as uow:
            stored = uow.reports.get_many([r.report.report_id for r in read_back.reports])
        assert counts.reports.created == len(read_back.reports)
        assert [s.report for s in stored] == [r.report for r in read_back.reports]
        assert [s.content_hash for s in stored] == [
            r.report.content_hash for r in read_back.reports
        ]
        again = import_partner_center(store, [REAL_USAGE], generated_on=date(2025, 12, 6))
        assert again.reports.unchanged == len(read_back.reports)
    finally:
        store.close()

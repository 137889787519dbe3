"""A report's content hash: stored with every report and every export, so its text must never
change from one billbridge to the next (a changed hash would make every report look corrected
and due again). `_digest` writes the JSON by hand; these tests hold it to `json.dumps`."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billbridge.domain.report import BillingReport, ReportLine
from billbridge.domain.subscription import SubscriptionType


def reference_hash(report: BillingReport) -> str:
    """The content hash as billbridge has always computed it."""
    payload = {
        "report_id": report.report_id,
        "organization_id": report.organization_id,
        "generated_on": report.generated_on.isoformat(),
        "period_start": report.period_start.isoformat(),
        "period_end": report.period_end.isoformat(),
        "currency": report.currency,
        "lines": [line.canonical_fields() for line in report.lines],
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def report(*lines: ReportLine, report_id: str = "pc-usage-2025-11-c1") -> BillingReport:
    return BillingReport(
        report_id=report_id,
        organization_id="c1",
        generated_on=date(2025, 12, 6),
        period_start=date(2025, 11, 1),
        period_end=date(2025, 11, 30),
        currency="EUR",
        lines=lines,
    )


def line(**changes: object) -> ReportLine:
    values: dict[str, object] = {
        "subscription_id": "sub-1",
        "subscription_type": SubscriptionType.AZURE,
        "sku": "meter-1",
        "product_name": "Virtual Machines - D2 v3",
        "quantity": Decimal(1),
        "unit_cost": Decimal("12.50"),
        "unit_price": Decimal("15E-1"),
    }
    values.update(changes)
    return ReportLine(**values)  # type: ignore[arg-type]


def test_the_hash_of_a_known_report_is_unchanged() -> None:
    # Computed by the json.dumps implementation this replaced: a change here means
    # every stored report would look different.
    known = report(
        line(),
        line(sku="meter-2", usage_quantity=Decimal("0.000071"), usage_unit="1 GB/Month"),
        line(charge_start=date(2025, 11, 1), charge_end=date(2025, 11, 30)),
    )
    assert known.content_hash == reference_hash(known)
    assert known.content_hash == (
        "a4febad896b64ea07ca84e3d01bfdcb772e0a9c3b36dd10940ea6000b062d672"
    )


def test_a_report_without_lines_hashes_as_json_writes_it() -> None:
    empty = report()
    assert empty.content_hash == reference_hash(empty)


def test_text_that_json_escapes_hashes_as_json_writes_it() -> None:
    odd = 'Azure "Plan" \\ \n\t\x00 Zürich 東京 \U0001f600 \u2028'
    tricky = report(
        line(product_name=odd, sku=odd, usage_unit=odd, subscription_id=odd),
        report_id=odd,
    )
    assert tricky.content_hash == reference_hash(tricky)


_TEXT = st.text(max_size=20)
_AMOUNT = st.decimals(allow_nan=False, allow_infinity=False, places=None)


@settings(max_examples=200, deadline=None)
@given(
    texts=st.tuples(_TEXT, _TEXT, _TEXT),
    amounts=st.tuples(_AMOUNT, _AMOUNT, _AMOUNT),
    usage=st.none() | _AMOUNT,
    unit=st.none() | _TEXT,
    dates=st.lists(st.none() | st.dates(), min_size=4, max_size=4),
    kind=st.sampled_from(SubscriptionType),
)
def test_any_line_hashes_as_json_writes_it(
    texts: tuple[str, str, str],
    amounts: tuple[Decimal, Decimal, Decimal],
    usage: Decimal | None,
    unit: str | None,
    dates: list[date | None],
    kind: SubscriptionType,
) -> None:
    built = line(
        subscription_id=texts[0],
        subscription_type=kind,
        sku=texts[1],
        product_name=texts[2],
        quantity=amounts[0],
        unit_cost=amounts[1],
        unit_price=amounts[2],
        usage_quantity=usage,
        usage_unit=unit,
        subscription_start=dates[0],
        subscription_end=dates[1],
        charge_start=dates[2],
        charge_end=dates[3],
    )
    assert report(built, line()).content_hash == reference_hash(report(built, line()))

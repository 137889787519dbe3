"""Property-based checks of number and date parsing: exact, and never an exception."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from billbridge.domain.money import canonical, round_cents
from billbridge.sources.fields import RowReader
from billbridge.sources.problems import ProblemLog
from billbridge.sources.tabular import Record

# Up to 20 decimal places: Azure quantities go down to 1E-10; the reader refuses beyond 40.
decimals = st.integers(0, 20).flatmap(
    lambda places: st.decimals(
        min_value=Decimal("-1e12"),
        max_value=Decimal("1e12"),
        places=places,
        allow_nan=False,
        allow_infinity=False,
    )
)


def reader(value: Any) -> tuple[RowReader, ProblemLog]:
    log = ProblemLog()
    return RowReader(Record("f.csv", 2, {"x": value}), log), log


@given(decimals)
def test_any_plain_or_exponent_decimal_round_trips_exactly(number: Decimal) -> None:
    for text in (str(number), f"{number:E}", format(number, "f")):
        row, _ = reader(text)
        parsed = row.decimal("x", non_negative=False)
        assert parsed == Decimal(text)


@given(st.text(max_size=30))
def test_arbitrary_text_never_raises(text: str) -> None:
    for method in ("decimal", "integer", "date", "text"):
        row, log = reader(text)
        result = getattr(row, method)("x", required=False)
        assert (result is None) or row.ok
        assert all(p.line == 2 for p in log.problems)


@given(st.dates())
def test_iso_dates_parse_and_other_spellings_do_not(day: date) -> None:
    row, _ = reader(day.isoformat())
    assert row.date("x") == day
    us_style, log = reader(f"{day.month}/{day.day}/{day.year}")
    assert us_style.date("x") is None
    assert "write YYYY-MM-DD" in log.problems[0].message


@given(decimals)
def test_canonical_spelling_is_one_per_value(number: Decimal) -> None:
    assert Decimal(canonical(number)) == number
    assert canonical(number) == canonical(Decimal(f"{number:E}"))


@given(decimals)
def test_round_cents_is_half_up_and_within_half_a_cent(number: Decimal) -> None:
    rounded = round_cents(number)
    assert abs(rounded - number) <= Decimal("0.005")
    assert rounded.as_tuple().exponent == -2


def test_round_cents_half_up_examples() -> None:
    assert round_cents(Decimal("0.005")) == Decimal("0.01")
    assert round_cents(Decimal("2.675")) == Decimal("2.68")
    assert round_cents(Decimal("-0.005")) == Decimal("-0.01")

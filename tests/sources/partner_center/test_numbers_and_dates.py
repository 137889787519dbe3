"""Numbers and dates as Microsoft writes them, and the columnar reader's agreement on numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import billbridge.sources.partner_center as package
from billbridge.sources.partner_center import columnar
from billbridge.sources.partner_center.columns import Field, bind, canonical
from billbridge.sources.partner_center.dates import parse_date, parse_timestamp
from billbridge.sources.partner_center.numbers import parse_decimal, tidy

from .builders import USAGE_COLUMNS, by_rows, hashes, read, spy, usage_row, write_csv


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("7.10833E-05", "0.0000710833"),
        ("0.00E+00", "0"),
        ("'22.000000000000000000", "22"),
        ("0E-20", "0"),
        (" -1.5 ", "-1.5"),
        ("+.5", "0.5"),
        ("5.", "5"),
        ("1e3", "1000"),
        ("0.000000000000000000001", "1E-21"),
    ],
)
def test_numbers(text: str, value: str) -> None:
    assert parse_decimal(text) == Decimal(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "'abc' is not a number"),
        ("1,5", "'1,5' uses a decimal comma; Microsoft writes 1.5"),
        ("1.5.2", "'1.5.2' is not a number"),
        ("NaN", "'NaN' is not a number"),
        ("Infinity", "'Infinity' is not a number"),
        ("1E+16", "'1E+16' is out of range"),
        ("1E-41", "'1E-41' has more than 40 decimal places"),
        (True, "'True' is not a number"),
        (1.5, "1.5 is not a number"),
        ([1], "a list is not a number"),
    ],
)
def test_not_numbers(value: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_decimal(value)
    assert str(raised.value) == message


def test_json_numbers_are_exact() -> None:
    assert parse_decimal(Decimal("0.0209496384791679")) == Decimal("0.0209496384791679")
    assert parse_decimal(16) == 16


def exponent_text(value: Decimal, lower: bool) -> str:
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits))
    power = exponent + len(digits) - 1
    text = f"{'-' if sign else ''}{mantissa[0]}.{mantissa[1:] or '0'}E{power:+03d}"
    return text.lower() if lower else text


decimals = st.decimals(
    min_value=Decimal("-1E12"), max_value=Decimal("1E12"), places=12, allow_nan=False
)


@given(decimals, st.booleans())
def test_every_spelling_of_a_number_is_the_same_number(value: Decimal, lower: bool) -> None:
    for text in (str(value), format(value, "f"), exponent_text(value, lower), f"'{value}"):
        assert parse_decimal(text) == value


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.text(alphabet="0123456789.+-eE ,'x", min_size=1, max_size=8), min_size=1, max_size=20
    )
)
def test_the_columnar_reader_accepts_no_number_the_row_reader_rejects(texts: list[str]) -> None:
    """polars' checks (pattern, decimal cast) must be at least as strict as `parse_decimal`."""
    frame = pl.DataFrame({"text": pl.Series(texts, dtype=pl.String)})
    accepted = frame.select(columnar.accepted(pl.col("text"))).to_series().to_list()
    for text, ok in zip(texts, accepted, strict=True):
        if ok:
            assert parse_decimal(text) == Decimal(text)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(decimals, st.booleans()), min_size=1, max_size=30))
def test_both_readers_sum_to_the_same_digits(
    tmp_path_factory: pytest.TempPathFactory, values: list[tuple[Decimal, bool]]
) -> None:
    """Random amounts, some in exponent notation: the columnar sums equal the row sums."""
    tmp_path = tmp_path_factory.mktemp("sums")
    rows = [
        usage_row(
            Quantity=exponent_text(v, lower) if lower else str(v),
            BillingPreTaxTotal=exponent_text(v, not lower),
            MeterId=f"meter-{i % 3}",
        )
        for i, (v, lower) in enumerate(values)
    ]
    path = write_csv(tmp_path / "usage.csv", rows, USAGE_COLUMNS)
    fast = read(path)
    line_sums = sum((line.unit_cost for r in fast.reports for line in r.report.lines), Decimal(0))
    assert line_sums == sum((v for v, _ in values), Decimal(0))


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("11/17/2025", date(2025, 11, 17)),
        ("10/3/2020", date(2020, 10, 3)),
        ("1/31/2021 12:00:00 AM", date(2021, 1, 31)),
        ("2/1/2021 11:59:59 PM", date(2021, 2, 1)),
        ("2025-11-17", date(2025, 11, 17)),
        ("2021-05-20T18:30:06.6045692Z", date(2021, 5, 20)),
        ("2019-02-04T09:22:40.1767993-08:00", date(2019, 2, 4)),
        ("2019-02-04T20:00:00-08:00", date(2019, 2, 5)),
        ("2021-05-01T00:00:00", date(2021, 5, 1)),
        (" 11/17/2025 ", date(2025, 11, 17)),
    ],
)
def test_dates(text: str, day: date) -> None:
    assert parse_date(text) == day


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("17/11/2025", "'17/11/2025' is not a real date (Microsoft writes month/day/year)"),
        ("2/30/2021", "'2/30/2021' is not a real date (Microsoft writes month/day/year)"),
        ("2025-02-30", "'2025-02-30' is not a real date"),
        (
            "13:00 PM 1/1/2021",
            "'13:00 PM 1/1/2021' is not a date; Microsoft writes 11/17/2025 or 2025-11-17",
        ),
        ("Nov 17, 2025", "'Nov 17, 2025' is not a date; Microsoft writes 11/17/2025 or 2025-11-17"),
        (20251117, "20251117 is not a date; Microsoft writes 11/17/2025 or 2025-11-17"),
    ],
)
def test_not_dates(value: object, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_date(value)
    assert str(raised.value) == message


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)), st.booleans())
def test_us_and_iso_dates_agree(day: date, padded: bool) -> None:
    us = f"{day:%m/%d/%Y}" if padded else f"{day.month}/{day.day}/{day.year}"
    assert parse_date(us) == parse_date(day.isoformat()) == day


def test_timestamps_order_lines_in_utc() -> None:
    assert parse_timestamp("2021-05-20T18:30:06.6045692Z") == datetime(
        2021, 5, 20, 18, 30, 6, 604569, tzinfo=UTC
    )
    assert parse_timestamp("5/20/2021") < parse_timestamp("2021-05-20T00:00:01Z")


def test_tidy_values() -> None:
    assert str(tidy(Decimal("16.75484028000000000000"))) == "16.75484028"
    assert str(tidy(Decimal("1E+2"))) == "100"
    assert str(tidy(Decimal("0E-20"))) == "0"


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("PCToBCExchangeRate", "pctobcexchangerate"),
        ("pcToBCExchangeRate", "pctobcexchangerate"),
        ("\ufeffPartnerId", "partnerid"),
        ("Billing Pre-Tax Total", "billingpretaxtotal"),
    ],
)
def test_canonical_column_names(written: str, key: str) -> None:
    assert canonical(written) == key


def test_binding_prefers_microsofts_name_and_reports_gaps() -> None:
    total = Field("Total", ("TotalForCustomer", "PostTaxTotal"), required=True)
    needed = Field("CustomerId", required=True)
    binding, problems = bind(["postTaxTotal", "TotalForCustomer", "x"], [total, needed])
    assert binding.key(total) == "totalforcustomer"
    assert binding.label(total) == "TotalForCustomer"
    assert problems == [("CustomerId", "required column is missing")]


def test_a_quoted_empty_label_is_a_blank_to_both_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`""` is an empty string to polars and a blank to the csv module: the columnar reader
    groups such a file again so that the label is the other rows' one, as the row reader has."""
    header = ",".join(USAGE_COLUMNS)
    quoted = [
        ",".join(f'"{v}"' if v else '""' for v in (row.get(c, "") for c in USAGE_COLUMNS))
        for row in (usage_row(CustomerName="", MeterName=""), usage_row())
    ]
    path = tmp_path / "usage.csv"
    path.write_text("\n".join([header, *quoted]) + "\n")
    calls: list[bool] = []
    grouped = columnar._groups

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(bool(kwargs.get("skip_empty")))
        return grouped(*args, **kwargs)

    monkeypatch.setattr(columnar, "_groups", counted)
    columnar_result = read(path)
    assert calls == [False, True]  # the columnar reader took the file, grouping it twice
    monkeypatch.setattr(package, "read_usage_csv", lambda *_: None)
    rows_result = read(path)
    assert columnar_result.organizations == rows_result.organizations
    assert columnar_result.organizations[0].name == "Contoso Ltd"
    assert columnar_result.reports[0].report == rows_result.reports[0].report
    assert "D2 v3/D2s v3" in columnar_result.reports[0].report.lines[0].product_name


def _usage_files(tmp_path: Path, quantity: str, files: int, rows: int) -> list[Path]:
    """`files` usage files of one meter, `rows` rows of `quantity` each (and one of the file's
    number, so that no two files are the same)."""
    paths = []
    for n in range(files):
        found = [usage_row(Quantity=quantity) for _ in range(rows)]
        found.append(usage_row(Quantity=str(n)))
        paths.append(write_csv(tmp_path / f"usage-{n}.csv", found, USAGE_COLUMNS))
    return paths


def _usage_quantity(result: Any) -> Decimal:
    return sum(
        (line.usage_quantity for located in result.reports for line in located.report.lines),
        Decimal(0),
    )


def test_sums_past_what_polars_decimals_hold_are_exact(tmp_path: Path) -> None:
    """Four files whose quantities of one meter merge to 3.6E18: polars would wrap that sum
    around (to 1.6E17), so such values are summed by the row reader."""
    paths = _usage_files(tmp_path, "9900000000000000", files=4, rows=90)
    assert _usage_quantity(read(*paths)) == 4 * 90 * Decimal("9900000000000000") + 6


def test_a_group_that_could_outgrow_the_decimals_goes_to_the_row_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bound holds in one file, and in the merge of several whose groups each hold."""
    paths = _usage_files(tmp_path, "12.5", files=3, rows=4)
    expected = 3 * 4 * Decimal("12.5") + 3
    assert _usage_quantity(read(*paths)) == expected
    reread: list[str] = []
    real = package._by_rows

    def by_rows(source: Any, *args: Any) -> Any:
        reread.append(source.name)
        return real(source, *args)

    monkeypatch.setattr(package, "_by_rows", by_rows)
    monkeypatch.setattr(columnar, "MAX_GROUP_ROWS", 6)  # each file's group has 5 rows
    assert _usage_quantity(read(*paths)) == expected
    assert reread == [str(path) for path in paths]  # the merge gave up: each file by rows
    reread.clear()
    monkeypatch.setattr(columnar, "MAX_GROUP_ROWS", 5)
    assert _usage_quantity(read(*paths)) == expected
    assert reread == [str(path) for path in paths]  # each file gave up on its own


small_decimals = st.decimals(
    min_value=Decimal("-0.999"), max_value=Decimal("0.999"), places=30, allow_nan=False
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(decimals, small_decimals), min_size=1, max_size=40), st.booleans())
def test_what_the_columnar_sums_take_they_take_exactly(values: list[Decimal], lower: bool) -> None:
    """A value either decimal takes (20 places below 1E11, 30 places below 1) is cast to its
    exact value: polars' cast rounds silently where a decimal has too few places."""
    texts = [t for v in values for t in (str(v), format(v, "f"), exponent_text(v, lower))]
    frame = pl.DataFrame({"text": pl.Series(texts, dtype=pl.String)})
    found = frame.select(
        columnar.accepted(pl.col("text")).alias("ok"), columnar.exactly(pl.col("text")).alias("v")
    )
    for text, ok, value in zip(texts, found["ok"], found["v"], strict=True):
        if ok:
            assert Decimal(value) == Decimal(text), text
    plain = dict(zip(texts, found["ok"], strict=True))
    for v in values:
        places = -int(v.as_tuple().exponent)
        if (abs(v) < Decimal("1E11") and places <= 20) or (abs(v) < 1 and places <= 30):
            assert plain[format(v, "f")], format(v, "f")


@pytest.mark.parametrize(
    "tiny", ["7.685866666666667E-8", "0.000000076858666666666667", "-1.2444366666666666e-07"]
)
def test_values_of_more_than_20_places_are_summed_in_columns_exactly(
    tiny: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The smallest doubles written in full need more places than the first sums keep: the
    file is grouped again with finer sums for them, not read row by row."""
    rows = [usage_row(Quantity="1.5", BillingPreTaxTotal="0.25") for _ in range(3)]
    rows.append(usage_row(Quantity=tiny, BillingPreTaxTotal=tiny))
    path = write_csv(tmp_path / "usage.csv", rows, USAGE_COLUMNS)
    outcomes = spy(monkeypatch)
    result = read(path)
    assert outcomes and outcomes[0] is not None, "the columnar reader gave up"
    assert hashes(result) == hashes(by_rows(path, monkeypatch))
    line = result.reports[0].report.lines[0]
    assert line.usage_quantity == Decimal("4.5") + Decimal(tiny)


def test_a_value_of_more_places_than_the_finer_sums_keep_goes_to_the_row_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [usage_row(Quantity="1.5"), usage_row(Quantity="1.5E-31")]
    path = write_csv(tmp_path / "usage.csv", rows, USAGE_COLUMNS)
    outcomes = spy(monkeypatch)
    result = read(path)
    assert outcomes == [None]
    assert result.reports[0].report.lines[0].usage_quantity == Decimal(
        "1.50000000000000000000000000000015"
    )

"""The columnar reader on JSON lines (Graph's usage export): the row reader's results, to the
digit, and the row reader's turn wherever polars would read a value otherwise."""

from __future__ import annotations

import csv
import gzip
import io
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import billbridge.sources.partner_center as package
from billbridge.sources.partner_center import (
    PartnerCenterImport,
    columnar,
    columnar_json,
    files,
    usage,
)
from billbridge.sources.problems import InputError

from .builders import (
    REAL_USAGE,
    api_items,
    by_rows,
    hashes,
    json_lines,
    located,
    read,
    spy,
    usage_row,
)


@pytest.mark.slow
@pytest.mark.skipif(not REAL_USAGE.exists(), reason="reference samples not present")
def test_the_real_file_as_json_lines_agrees_with_the_row_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with gzip.open(REAL_USAGE, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    path = tmp_path / "usage.jsonl"
    path.write_text(json_lines(api_items(rows)), encoding="utf-8")
    outcomes = spy(monkeypatch)
    columnar_result = read(path)
    assert outcomes and outcomes[0] is not None, "the columnar reader gave up"
    rows_result = by_rows(path, monkeypatch)
    assert hashes(columnar_result) == hashes(rows_result)
    assert located(columnar_result) == located(rows_result)
    assert columnar_result.organizations == rows_result.organizations
    assert hashes(read(REAL_USAGE)) == hashes(columnar_result)  # and the CSV's


def in_chunks_as_by_rows(
    path: Path, monkeypatch: pytest.MonkeyPatch, *, size: int
) -> columnar.Groups:
    """The file's groups, read in columns in chunks of about `size` bytes, after checking that
    its reports and their lines are the row reader's."""
    real = columnar_json._chunks
    monkeypatch.setattr(columnar_json, "_chunks", lambda content: real(content, size=size))
    outcomes = spy(monkeypatch)
    result = read(path)
    assert outcomes and isinstance(outcomes[0], columnar.Groups), "the columnar reader gave up"
    rows_result = by_rows(path, monkeypatch)
    assert hashes(result) == hashes(rows_result)
    assert located(result) == located(rows_result)
    return outcomes[0]


def _items(count: int = 4) -> list[dict[str, Any]]:
    rows = [
        usage_row(Quantity=f"0.{i + 1}", BillingPreTaxTotal=f"1.2{i}", MeterName=f"Meter {i % 2}")
        for i in range(count)
    ]
    return api_items(rows)


def _text(items: list[dict[str, Any]]) -> str:
    return json_lines(items)


def _spoiled(tmp_path: Path, spoil: Callable[[str], str], name: str = "") -> Path:
    """The small JSON lines file, changed by `spoil` (which must change it)."""
    text = _text(_items())
    spoiled = spoil(text)
    assert spoiled != text, name
    path = tmp_path / "usage.jsonl"
    path.write_text(spoiled, encoding="utf-8")
    return path


def test_small_json_lines_are_read_in_columns_with_their_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "usage.jsonl"
    path.write_text(_text(_items()), encoding="utf-8")
    outcomes = spy(monkeypatch)
    result = read(path)
    assert outcomes and outcomes[0] is not None
    assert hashes(result) == hashes(by_rows(path, monkeypatch))
    assert located(result) == located(by_rows(path, monkeypatch))
    assert located(result)[0][1] == 1  # JSON lines have no header


@pytest.mark.parametrize(
    ("name", "spoil"),
    [
        ("a boolean", lambda t: t.replace('"customerName": "Contoso Ltd"', '"customerName": true')),
        ("an object", lambda t: t.replace('"customerName": "Contoso Ltd"', '"customerName": {}')),
        # keys are checked once grouped, on their distinct values: one odd row is enough
        (
            "a boolean key",
            lambda t: t.replace('"invoiceNumber": "G000100200"', '"invoiceNumber": false', 1),
        ),
        (
            "a list as key",
            lambda t: t.replace(
                '"invoiceNumber": "G000100200"', '"invoiceNumber": ["G000100200"]', 1
            ),
        ),
        ("a blank line", lambda t: t.replace("\n", "\n\n", 1)),
        ("a line of blanks", lambda t: t.replace("\n", "\n  \n", 1)),
    ],
)
def test_what_polars_would_read_otherwise_goes_to_the_row_reader(
    name: str, spoil: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _spoiled(tmp_path, spoil, name)
    outcomes = spy(monkeypatch)
    result = read(path)
    assert outcomes == [None], name
    assert result.reports


@pytest.mark.parametrize(
    ("name", "spoil"),
    [
        ("numbers in exponent form", lambda t: t.replace('"quantity": 0.1,', '"quantity": 1e-1,')),
        ("a small number", lambda t: t.replace('"quantity": 0.1,', '"quantity": 1.5e-07,')),
        ("an integer", lambda t: t.replace('"quantity": 0.1,', '"quantity": 3,')),
        # polars reads the sums as numbers first: a string among them is read again as text
        ("a sum written as text", lambda t: t.replace('"quantity": 0.1,', '"quantity": "0.1",')),
        # 17 significant digits, which a double would round: taken from the line as written
        (
            "a long number",
            lambda t: t.replace('"quantity": 0.1,', '"quantity": 0.10000000000000001,'),
        ),
        (
            "a long number in exponent form",
            lambda t: t.replace('"quantity": 0.1,', '"quantity": 1.0000000000000000123E-1,'),
        ),
        (
            "a long negative cost",
            lambda t: t.replace(
                '"billingPreTaxTotal": 1.2', '"billingPreTaxTotal": -1.200000000000000001'
            ),
        ),
        (
            "a long unit price (a key)",
            lambda t: t.replace('"unitPrice": 0.217,', '"unitPrice": 0.21700000000000000001,'),
        ),
    ],
)
def test_summed_values_are_read_in_columns_as_the_row_reader_reads_them(
    name: str, spoil: Callable[[str], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _spoiled(tmp_path, spoil, name)
    outcomes = spy(monkeypatch)
    result = read(path)
    assert outcomes and outcomes[0] is not None, name
    assert hashes(result) == hashes(by_rows(path, monkeypatch)), name


def test_doubles_written_in_full_are_read_in_columns_to_the_digit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A double written in full (up to 17 digits, as many JSON writers do) on some lines of
    some chunks: each is summed as written, as the row reader sums it."""
    items = _items(60)
    for i, item in enumerate(items):
        if i % 3 != 2:
            item["quantity"] = Decimal(repr(1 / (i + 3)))  # 0.041666666666666664
            item["billingPreTaxTotal"] = Decimal(repr((i + 1) / 7))
    path = tmp_path / "usage.jsonl"
    path.write_text(_text(items), encoding="utf-8")
    assert "0.041666666666666664," in path.read_text()
    groups = in_chunks_as_by_rows(path, monkeypatch, size=5000)
    quantities = sum((Decimal(str(item["quantity"])) for item in items), Decimal(0))
    assert sum(groups.frame.get_column("s0").to_list(), Decimal(0)) == quantities


def test_tiny_values_in_later_chunks_get_the_finer_sums_from_there_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first chunks' values fit the first sums; later ones are the smallest doubles
    written in full (25 places): those chunks are grouped with the finer sums too, and the
    groups of both kinds merge to the row reader's digits."""
    items = _items(80)
    for i, item in enumerate(items[40:], 40):
        item["billingPreTaxTotal"] = Decimal(repr(i / 3e9))  # 1.3333333333333334e-08
    path = tmp_path / "usage.jsonl"
    path.write_text(_text(items), encoding="utf-8")
    assert "1.3333333333333334E-8," in path.read_text()
    groups = in_chunks_as_by_rows(path, monkeypatch, size=2000)
    costs = sum((Decimal(str(item["billingPreTaxTotal"])) for item in items), Decimal(0))
    finer = [t for t in groups.frame.get_column("t1").to_list() if t]
    assert finer, "no finer sums"
    assert sum(groups.frame.get_column("s1").to_list(), Decimal(0)) + sum(finer) == costs


def test_long_numbers_are_taken_from_their_lines_by_their_keys() -> None:
    raw = pl.Series(
        [
            '{"quantity": 0.10000000000000001, "x": 0.20000000000000001, "cost": 2}',
            '{"quantity": 1, "note": "\\"cost\\": 0.10000000000000001"}',
            '{"cost" : -1.2345678901234567e-5}',
        ]
    )
    written = columnar_json._written(raw, columnar_json._long_numbers(["quantity", "cost"]))
    assert {name: series.to_list() for name, series in written.items()} == {
        "quantity": ["0.10000000000000001", None, None],
        "cost": [None, None, "-1.2345678901234567e-5"],
    }


@pytest.mark.parametrize("value", ["true", "{}", "[0.1]", "1e400"])
def test_a_summed_value_that_is_no_number_is_refused_by_the_row_reader(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _spoiled(tmp_path, lambda t: t.replace('"quantity": 0.1,', f'"quantity": {value},'))
    outcomes = spy(monkeypatch)
    with pytest.raises(InputError) as raised:
        read(path)
    assert outcomes == [None]
    assert str(raised.value).startswith(f"{path}:1: quantity: ")


def test_json_lines_read_in_chunks_keep_their_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines are counted across chunks: a meter first seen in a later chunk keeps its line."""
    items = _items(40)
    for i, item in enumerate(items):
        item["meterId"] = f"00000000-0000-4000-8000-{i % 7:012d}"
    path = tmp_path / "usage.jsonl"
    path.write_text(_text(items), encoding="utf-8")
    groups = in_chunks_as_by_rows(path, monkeypatch, size=700)
    with path.open("rb") as content:
        chunks = list(columnar_json._chunks(content))
    assert len(chunks) > 3 and all(c.endswith(b"\n") for c in chunks)
    assert groups.rows == len(items)
    assert sorted(groups.frame.get_column("__first").to_list()) == list(range(1, 8))


@pytest.mark.parametrize(
    "value", ["0.10000000000000001", "-1234567890123456", "0.000012345678901234567", "1.5e+300"]
)
def test_the_cheap_long_number_check_finds_whatever_the_precise_one_does(value: str) -> None:
    import re

    line = f'{{"Quantity" : {value}, "x": "a"}}'
    precise = re.search(columnar_json._long_numbers(["Quantity"]), line)
    if precise:
        assert re.search(columnar_json.ANY_LONG_NUMBER, line)


def test_gzipped_json_lines_are_read_in_columns_as_they_are_inflated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pull's blobs stay gzipped: the columnar reader reads them in chunks as it inflates
    them (in several members, as Microsoft may write them), with the plain file's results."""
    items = _items(40)
    plain = tmp_path / "usage.jsonl"
    plain.write_text(_text(items), encoding="utf-8")
    packed = tmp_path / "usage.json.gz"
    half = len(items) // 2
    packed.write_bytes(
        gzip.compress(_text(items[:half]).encode()) + gzip.compress(_text(items[half:]).encode())
    )
    real = columnar_json._chunks
    monkeypatch.setattr(columnar_json, "_chunks", lambda content: real(content, size=700))

    def no_inflated_copy(_: object) -> None:
        raise AssertionError("the JSON lines were inflated to a file")

    monkeypatch.setattr(files.Source, "plain_csv", no_inflated_copy)
    outcomes = spy(monkeypatch)
    result = read(packed)
    assert outcomes and outcomes[0] is not None, "the columnar reader gave up"
    assert isinstance(outcomes[0], columnar.Groups) and outcomes[0].rows == len(items)
    assert result.rows == {str(packed): len(items)}
    expected = read(plain)
    assert hashes(result) == hashes(expected)
    assert [line for _, line in located(result)] == [line for _, line in located(expected)]


def test_a_line_longer_than_any_billing_file_has_goes_to_the_row_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunks end on whole lines: a line with no end in sight is not read whole."""
    monkeypatch.setattr(columnar_json, "MAX_LINE_BYTES", 1000)
    text = _text(_items())
    long = text.replace('"customerName": "Contoso Ltd"', '"customerName": "' + "x" * 2000 + '"')
    content = io.BytesIO(long.encode())
    with pytest.raises(columnar_json._LongLine):
        list(columnar_json._chunks(content, size=10))
    path = tmp_path / "usage.jsonl"
    path.write_text(long, encoding="utf-8")
    outcomes = spy(monkeypatch)
    monkeypatch.setattr(columnar_json, "_chunks", lambda content: real_chunks(content, size=10))
    read(path)
    assert outcomes == [None]


real_chunks = columnar_json._chunks


def _split(tmp_path: Path, items: list[dict[str, Any]], parts: int) -> list[Path]:
    """The items in `parts` gzipped JSON-lines files, as blobs of one export."""
    size = -(-len(items) // parts)
    paths = []
    for n in range(parts):
        path = tmp_path / f"blob-{n}.json.gz"
        path.write_bytes(gzip.compress(_text(items[n * size : (n + 1) * size]).encode()))
        paths.append(path)
    return paths


def test_an_export_in_several_blobs_is_merged_before_its_meters_are_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every blob holds most meters: their groups are merged by polars, each key parsed once,
    with the reports of the same rows in one file and each located where its meter is first."""
    items = _items(30)
    for i, item in enumerate(items):
        item["meterId"] = f"00000000-0000-4000-8000-{i % 4:012d}"
        item["customerId"] = f"3f1b2c4d-1111-4aaa-8bbb-00000000000{i % 3}"
    blobs = _split(tmp_path, items, 3)
    parsed: list[int] = []
    real_finish = usage.finish

    def counted(groups: Any, layout: Any) -> Any:
        parsed.append(len(groups.lines))
        return real_finish(groups, layout)

    monkeypatch.setattr(columnar, "finish", counted)
    outcomes = spy(monkeypatch)
    result = read(*blobs)
    assert len(outcomes) == 3 and all(isinstance(o, columnar.Groups) for o in outcomes)
    assert sum(parsed) == 12  # 3 customers x 4 meters, each made once, not once per blob
    assert result.rows == {str(blob): 10 for blob in blobs}
    one = tmp_path / "usage.jsonl"
    one.write_text(_text(items), encoding="utf-8")
    assert hashes(result) == hashes(read(one))
    rows_result = by_rows_of(blobs, monkeypatch)
    assert hashes(result) == hashes(rows_result)
    assert [(r.report.report_id, r.file, r.line) for r in result.reports] == [
        (r.report.report_id, r.file, r.line) for r in rows_result.reports
    ]


def test_a_bad_key_in_one_blob_is_reported_by_the_row_reader_in_file_order(
    tmp_path: Path,
) -> None:
    """A key that does not parse is found once the blobs are merged; the row reader then
    reads each again and says where, the files' problems in the files' order."""
    items = _items(6)
    items[4]["chargeStartDate"] = "2025-13-01"
    blobs = _split(tmp_path, items, 3)
    with pytest.raises(InputError) as raised:
        read(*blobs)
    assert [(p.file, p.line) for p in raised.value.problems] == [(str(blobs[2]), 1)]


def by_rows_of(paths: list[Path], monkeypatch: pytest.MonkeyPatch) -> PartnerCenterImport:
    with monkeypatch.context() as patch:
        patch.setattr(package, "read_usage_csv", lambda *_: None)
        return read(*paths)


def test_chunks_read_ahead_come_in_order_and_nothing_is_read_after_leaving() -> None:
    read: list[int] = []

    def chunks() -> Iterator[bytes]:
        for number in range(5):
            read.append(number)
            yield b"%d\n" % number

    with columnar_json._read_ahead(chunks()) as ahead:
        assert list(ahead) == [b"0\n", b"1\n", b"2\n", b"3\n", b"4\n"]
    read.clear()
    with columnar_json._read_ahead(chunks()) as ahead:
        assert next(ahead) == b"0\n"
    assert read == [0, 1]  # the one read ahead, finished before leaving; no more after
    time.sleep(0.05)
    assert read == [0, 1]


def test_an_error_reading_ahead_is_raised_where_its_chunk_would_come() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"0\n"
        raise columnar_json._LongLine

    with columnar_json._read_ahead(chunks()) as ahead:
        assert next(ahead) == b"0\n"
        with pytest.raises(columnar_json._LongLine):
            next(ahead)

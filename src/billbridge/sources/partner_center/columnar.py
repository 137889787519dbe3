"""The columnar reader of the daily-rated usage CSV (polars), for files of millions of rows.

polars reads the columns billbridge uses as text and groups the rows by the raw text of the
key columns (`usage.KEY_FIELDS`). The two summed columns are checked against the same pattern as
`numbers.parse_decimal` and summed as exact decimals with 20 places, after checking that no
value has more places than that. `usage.finish` then parses each distinct key once.

This reader proves a file good or gives up: anything it cannot vouch for (a value that does not
match, blanks where a value is required, more decimal places, a row with more fields than the
header, a field spanning lines so that row numbers would not be line numbers, a polars error)
returns None, and the row reader reads the file again and reports each problem with its line.
So a good file takes the fast way and a bad one gets the precise messages, from one set of rules.
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from billbridge.sources.partner_center.columns import Binding, canonical
from billbridge.sources.partner_center.files import Source
from billbridge.sources.partner_center.numbers import MAX_ADJUSTED_EXPONENT, NUMBER_PATTERN
from billbridge.sources.partner_center.usage import (
    KEY_FIELDS,
    LABEL_FIELDS,
    BadKey,
    Layout,
    MeterUsage,
    RawGroup,
    UsageKey,
    finish,
    layout,
)

SCALE = 20
"""Decimal places the sums are kept at; a value with more sends the file to the row reader."""
_DECIMAL = pl.Decimal(38, SCALE)
_LIMIT = pl.lit(10**MAX_ADJUSTED_EXPONENT * 10, dtype=pl.Int128).cast(_DECIMAL)
_ROW = "__row"
_EXTRA = "__extra"


def read_usage_csv(source: Source, binding: Binding) -> dict[UsageKey, MeterUsage] | None:
    """The file's meters, or None when the row reader must decide."""
    columns = layout(binding)
    try:
        with source.plain_csv() as path, ThreadPoolExecutor(1) as pool:
            lines = pool.submit(_lines, path)  # while polars works (it releases the GIL)
            groups = _groups(path, source, columns)
            if groups is None:
                return None
            rows = int(groups.get_column("__rows").sum())
            if rows == 0 or lines.result() != rows + 1:
                return None  # empty, or a row spans lines (or blank lines): let rows decide
    except (pl.exceptions.PolarsError, OSError, EOFError, zlib.error, UnicodeError):
        return None
    try:
        return finish(_raw_groups(groups), columns)
    except BadKey:
        return None


def _groups(path: Path, source: Source, columns: Layout) -> pl.DataFrame | None:
    # Columns by position (the header is parsed by the row reader's rules), plus one more: a
    # row with more fields than the header (an unquoted comma) fills it, and is sent to the
    # row reader, which reports it. polars does not notice extra fields it does not read.
    schema = {f"c{i}": pl.String for i in range(len(source.columns))} | {_EXTRA: pl.String}
    frame = pl.scan_csv(
        path,
        has_header=False,
        skip_rows=1,
        schema=schema,
        missing_columns="insert",
        encoding="utf8",
    )
    index = {canonical(n): i for i, n in reversed(list(enumerate(source.columns)))}

    def column(key: str | None) -> pl.Expr:
        return pl.lit(None, dtype=pl.String) if key is None else pl.col(f"c{index[key]}")

    keys = [column(key).alias(f"k{i}") for i, key in enumerate(columns.keys)]
    bad = pl.col(_EXTRA).is_not_null()
    sums: list[pl.Expr] = []
    for i, key in enumerate(columns.sums):
        text = column(key)
        bad = bad | ~accepted(text)
        sums.append(text.cast(_DECIMAL, strict=False).sum().alias(f"s{i}"))
    labels = [_non_empty(column(key)).min().alias(f"l{i}") for i, key in enumerate(columns.labels)]
    aggregated = (
        frame.with_row_index(_ROW)
        .group_by(keys)
        .agg(
            pl.len().alias("__rows"),
            pl.col(_ROW).min().alias("__first"),
            bad.sum().alias("__bad"),
            *sums,
            *labels,
        )
        .collect()
    )
    if aggregated.height and int(aggregated.get_column("__bad").sum()) > 0:
        return None
    return aggregated


def accepted(text: pl.Expr) -> pl.Expr:
    """True where the columnar sums can take the value exactly; elsewhere the file goes to the
    row reader (so this must accept nothing `numbers.parse_decimal` rejects)."""
    number = text.cast(_DECIMAL, strict=False)
    places, exponent, broken = _places(text)
    return (
        text.str.contains(NUMBER_PATTERN).fill_null(False)
        & number.is_not_null()
        & ~broken
        & (places - exponent <= SCALE)
        & (number.abs() < _LIMIT)
    ).fill_null(False)


def _non_empty(text: pl.Expr) -> pl.Expr:
    """A quoted empty field ("") is an empty string to polars, a blank to the row reader."""
    return pl.when(text.str.len_bytes() > 0).then(text)


def _places(text: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Decimal places written, the exponent, and whether the exponent is unreadable, for
    numbers that already match NUMBER_PATTERN (literal searches: cheaper than a regex)."""
    dot = text.str.find(".", literal=True).cast(pl.Int64)
    mark = pl.coalesce(text.str.find("E", literal=True), text.str.find("e", literal=True))
    mark = mark.cast(pl.Int64)
    places = (pl.coalesce(mark, text.str.len_bytes().cast(pl.Int64)) - dot - 1).fill_null(0)
    exponent = text.str.slice(mark + 1).cast(pl.Int64, strict=False)
    broken = mark.is_not_null() & exponent.is_null()
    return places, exponent.fill_null(0), broken


def _raw_groups(frame: pl.DataFrame) -> list[tuple[tuple[str | None, ...], RawGroup]]:
    def column(name: str) -> list[Any]:
        return frame.get_column(name).to_list()

    keys = zip(*(column(f"k{i}") for i in range(len(KEY_FIELDS))), strict=True)
    labels = zip(*(column(f"l{i}") for i in range(len(LABEL_FIELDS))), strict=True)
    return [
        # The header is line 1: row N (from 0) is line N + 2, the line count having been checked.
        (key, RawGroup(first + 2, quantity, cost, list(label)))
        for key, first, quantity, cost, label in zip(
            keys, column("__first"), column("s0"), column("s1"), labels, strict=True
        )
    ]


def _lines(path: Path) -> int:
    """Physical lines of the file (a last line without a newline counts)."""
    count = 0
    last = b"\n"
    buffer = bytearray(1 << 24)
    with path.open("rb", buffering=0) as raw:
        while size := raw.readinto(buffer):
            count += buffer.count(b"\n", 0, size)
            last = bytes(buffer[size - 1 : size])
    return count + (0 if last == b"\n" else 1)

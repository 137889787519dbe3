"""The columnar reader of the daily-rated usage file (polars), for files of millions of rows.

polars reads the columns billbridge uses as text (from CSV, or from the JSON lines of Graph's
usage export) and groups the rows by the raw text of the key columns (`usage.KEY_FIELDS`). The
two summed columns are checked against `FAST_NUMBER`, a stricter form of
`numbers.parse_decimal`'s pattern that only admits numbers a 20-place decimal holds exactly,
and summed as such decimals, in groups too small for a sum to outgrow them. A file with
values of more places (the smallest doubles written in full, `7.685866666666667E-8`) is
grouped again with a second, finer sum per column for the values below 1 that `SMALL_NUMBER`
admits (30 places); each group's total is the two sums added exactly. The groups of all the
files read so are merged (`UsageGroups`), then `usage.finish` parses each distinct key once.
A CSV's physical lines are counted meanwhile, in a thread, so that row numbers can be shown as
line numbers.

This reader proves a file good or gives up: anything it cannot vouch for (a value that does not
match, blanks where a value is required, more decimal places, a row with more fields than the
header, a field spanning lines so that row numbers would not be line numbers, a polars error)
returns None, and the row reader reads the file again and reports each problem with its line
(a key that does not parse is found once the files are merged: then each of them is read again
by rows). So a good file takes the fast way and a bad one gets the precise messages, from one
set of rules.

JSON lines are read by `columnar_json`, which says what it checks.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from billbridge.sources.lines import newlines
from billbridge.sources.partner_center.columns import Binding, canonical
from billbridge.sources.partner_center.files import GZIP_ERRORS, Refused, Source
from billbridge.sources.partner_center.numbers import exact
from billbridge.sources.partner_center.usage import (
    KEY_FIELDS,
    LABEL_FIELDS,
    Layout,
    MeterUsage,
    RawGroups,
    UsageKey,
    finish,
    layout,
)

SCALE = 20
"""Decimal places the sums are kept at (the finer sums: `SMALL_SCALE`)."""
_PRECISION = 38
_DECIMAL = pl.Decimal(_PRECISION, SCALE)
_MAX_ADJUSTED = 10
"""Summed values the reader vouches for are below 1E11 (the row reader's bound is 1E16, and no
bill comes near either)."""
MAX_GROUP_ROWS = 10 ** (_PRECISION - SCALE - _MAX_ADJUSTED - 1)
"""A group of fewer rows (10 million) sums below 1E18, which the decimals hold. polars does not
always say when a decimal sum outgrows them: it may wrap around (in a lazy group-by too: four
files' quantities of 8.9E17 each were merged into 1.6E17), so the reader never lets a group
grow so far: a file with a bigger one goes to the row reader, whose sums have no bound."""
_ROW = "__row"
_EXTRA = "__extra"
_MERGE_FILES = 4
"""Files' groups are merged as soon as there are this many: each file's groups hold nearly
every meter, so keeping more holds more memory, and merging more often costs time (40 blobs
of a million rows, in-process: 2 files, 7.3-7.4 s and 290 MiB; 4, 6.9 s and 310 MiB; 8,
6.8-7.1 s and 355 MiB)."""
_FILE = "__file"
_FILE_STRIDE = 1 << 40
"""A group's first place is packed as file * _FILE_STRIDE + line while files are merged."""
_SCAN_CHUNK_BYTES = 4 << 20
"""The bytes polars' CSV scan reads at a time. Its default, 32 MiB, keeps several such chunks
and their columns in flight: a million rows (723 MiB) peaked at 460-490 MiB in
`billbridge import partner-center`, against 280-300 MiB with 4 MiB and the same time (8 MiB:
350 MiB; 1 MiB: 7% slower)."""
# polars reads this variable (not in its documented API) each time it starts a CSV scan; a
# value the user set is kept, and a polars without it reads as before.
os.environ.setdefault("POLARS_CSV_CHUNK_SIZE", str(_SCAN_CHUNK_BYTES))


class Unmerged(Exception):
    """Groups whose sums could outgrow the decimals polars sums in (`MAX_GROUP_ROWS`), or that
    polars failed to merge: the row reader reads their files again."""


_GIVE_UP: tuple[type[Exception], ...] = (
    pl.exceptions.PolarsError,
    UnicodeError,
    Unmerged,
    *GZIP_ERRORS,
)
"""What the reader meets on a file it cannot vouch for: the row reader says what is wrong."""


def _fast_number(scale: int, max_adjusted: int) -> str:
    """Numbers as `numbers.NUMBER` has them, restricted to those a decimal of `scale` places
    holds exactly and below 10**(max_adjusted + 1): plain with at most `max_adjusted + 1`
    digits before the point and `scale` after it, or one digit, up to `scale - k` places and
    the exponent -k (k <= scale), or an exponent up to +max_adjusted. (One anchored pattern is
    cheaper per value than a pattern plus arithmetic on the places and the exponent.)"""
    forms = [rf"\d{{1,{max_adjusted + 1}}}(?:\.\d{{0,{scale}}})?", rf"\.\d{{1,{scale}}}"]
    forms.append(rf"\d(?:\.\d{{0,{scale}}})?[eE]\+?(?:0?\d|1[0-{max_adjusted - 10}])")
    for k in range(scale + 1):
        written = f"0?{k}" if k < 10 else str(k)
        forms.append(rf"\d(?:\.\d{{0,{scale - k}}})?[eE]-{written}")
    return "^[+-]?(?:" + "|".join(forms) + ")$"


FAST_NUMBER = _fast_number(SCALE, _MAX_ADJUSTED)
SMALL_SCALE = 30
"""Decimal places the sums of small values are kept at (a second sum per column, taken only
by a file that needs it)."""
_SMALL_DECIMAL = pl.Decimal(_PRECISION, SMALL_SCALE)


def _small_number(scale: int) -> str:
    """Numbers below 1 in magnitude with at most `scale` places, as `numbers.NUMBER` has them:
    plain (`0.000000076858666666666667`), or one digit with up to `scale - k` places and the
    exponent -k, 1 <= k <= scale (`7.685866666666667E-8`, a double written in full)."""
    forms = [rf"0*\.\d{{1,{scale}}}"]
    for k in range(1, scale + 1):
        written = f"0?{k}" if k < 10 else str(k)
        forms.append(rf"\d(?:\.\d{{0,{scale - k}}})?[eE]-{written}")
    return "^[+-]?(?:" + "|".join(forms) + ")$"


SMALL_NUMBER = _small_number(SMALL_SCALE)
"""Summed values `FAST_NUMBER` does not admit that a second, finer sum can take: fewer than
`MAX_GROUP_ROWS` of them sum below 1E7, which a decimal of 30 places holds."""


@dataclass(frozen=True, slots=True)
class Groups:
    """One file's rows grouped by their raw keys, every value vouched for; `UsageGroups` makes
    them meters together with the other files'."""

    frame: pl.DataFrame
    rows: int
    layout: Layout
    binding: Binding
    """The columns the file was read by (the row reader reads it again by them if need be)."""


def read_usage_csv(source: Source, binding: Binding) -> Groups | None:
    """The file's rows grouped (CSV or JSON lines), or None when the row reader must decide.
    `Refused` (a gzip bomb) is raised: the row reader must not try that file again."""
    columns = layout(binding)
    try:
        if source.format == "json-lines":
            from billbridge.sources.partner_center.columnar_json import json_groups

            groups = json_groups(source, columns)
        else:
            with source.plain_csv() as path, ThreadPoolExecutor(1) as pool:
                lines = pool.submit(_lines, path)  # while polars works (it releases the GIL)
                groups = _groups(_csv_frame(path, source), _columns(source), columns)
                # One more line than rows (the header), unless a quoted field spans lines or a
                # line is blank, when row numbers would not be line numbers.
                rows = int(groups.get_column("__rows").sum()) if groups is not None else 0
                if groups is not None and lines.result() != rows + 1:
                    return None
    except Refused:
        raise
    except _GIVE_UP:
        return None
    if groups is None:
        return None
    return Groups(groups, int(groups.get_column("__rows").sum()), columns, binding)


@dataclass(slots=True)
class UsageGroups:
    """The groups of several files of one layout, merged by polars before any becomes a meter.

    A pull reads one file per blob of Microsoft's export, and every blob holds nearly every
    meter of the month: made meters file by file, each meter would be parsed, built and merged
    once per blob (40 blobs of a million rows cost 2.5 times the reading). Merged here, each
    raw key is parsed once. A group keeps the first line among the files as `(file, line)`,
    packed into one integer while merged.
    """

    layout: Layout
    files: list[int] = field(default_factory=list)
    """The files' indexes, in the order added."""
    _parts: list[pl.DataFrame] = field(default_factory=list)
    _unmerged: bool = False

    def add(self, index: int, groups: pl.DataFrame) -> None:
        first = pl.lit(index, pl.Int64) * _FILE_STRIDE + pl.col("__first").cast(pl.Int64)
        self._parts.append(groups.with_columns(first.alias("__first")))
        self.files.append(index)
        if len(self._parts) == _MERGE_FILES and not self._unmerged:
            try:
                self._parts = [_merge(self._parts, self.layout)]
            except (pl.exceptions.PolarsError, Unmerged):
                self._parts, self._unmerged = [], True

    def meters(self) -> dict[int, dict[UsageKey, MeterUsage]]:
        """Per file, the meters first seen in it; `BadKey` if a raw key is bad (which only
        the row reader can say where), `Unmerged` if the files' groups could outgrow the
        decimals polars sums in (the row reader's sums have no bound)."""
        if self._unmerged:
            raise Unmerged
        try:
            merged = _merge(self._parts, self.layout) if len(self._parts) > 1 else self._parts[0]
        except pl.exceptions.PolarsError:
            raise Unmerged from None
        merged = merged.with_columns(
            (pl.col("__first") // _FILE_STRIDE).alias(_FILE),
            (pl.col("__first") % _FILE_STRIDE).alias("__first"),
        )
        return {
            int(index): finish(_raw_groups(part), self.layout)
            for (index,), part in merged.partition_by(_FILE, as_dict=True).items()
        }


def _csv_frame(path: Path, source: Source) -> pl.LazyFrame:
    """The rows, numbered from 0 after the header (line N + 2). Columns by position (the
    header is parsed by the row reader's rules), plus one more: a row with more fields than
    the header (an unquoted comma) fills it, and is sent to the row reader, which reports it.
    polars does not notice extra fields it does not read."""
    schema = {f"c{i}": pl.String for i in range(len(source.columns))} | {_EXTRA: pl.String}
    frame = pl.scan_csv(
        path,
        has_header=False,
        skip_rows=1,
        schema=schema,
        missing_columns="insert",
        encoding="utf8",
    )
    return frame.with_row_index(_ROW, offset=2)


def _columns(source: Source) -> dict[str, str]:
    """The frame's column of each canonical key (the first of a name written twice)."""
    return {canonical(n): f"c{i}" for i, n in reversed(list(enumerate(source.columns)))}


def _merge(parts: list[pl.DataFrame], columns: Layout) -> pl.DataFrame:
    """Groups of several chunks (or files) as one chunk's; `Unmerged` if one grows too big."""
    keys = [f"k{i}" for i in range(len(columns.keys))]
    merged = (
        pl.concat(parts)
        .lazy()
        .group_by(keys)
        .agg(
            pl.col("__rows", "__bad", "s0", "s1", "t0", "t1").sum(),
            pl.col("__first").min(),
            *[pl.col(f"l{i}").min() for i in range(len(columns.labels))],
        )
        .select(parts[0].columns)  # the chunks' order, so that the result merges with them
        .collect()
    )
    return bounded(merged)


def bounded(groups: pl.DataFrame) -> pl.DataFrame:
    """`groups`, if each has fewer than `MAX_GROUP_ROWS` rows (its sums are then exact);
    `Unmerged` otherwise. Checked before a sum is read or merged again."""
    rows = groups.get_column("__rows")
    if groups.height and rows.max() >= MAX_GROUP_ROWS:
        raise Unmerged
    return groups


def _groups(
    frame: pl.LazyFrame,
    names: dict[str, str],
    columns: Layout,
    *,
    skip_empty: bool = False,
    small: bool = False,
) -> pl.DataFrame | None:
    """The rows grouped by their raw keys, or None if a value is not vouched for."""
    found = vouched(frame, names, columns, skip_empty=skip_empty, small=small)
    if found is None or found[0].height == 0:
        return None
    groups, small = found
    labels = [f"l{i}" for i in range(len(columns.labels))]
    if not skip_empty and groups.select(pl.any_horizontal(pl.col(labels) == "").any()).item():
        return _groups(frame, names, columns, skip_empty=True, small=small)
    return groups


def vouched(
    frame: pl.LazyFrame,
    names: dict[str, str],
    columns: Layout,
    *,
    skip_empty: bool,
    small: bool = False,
) -> tuple[pl.DataFrame, bool] | None:
    """`frame` grouped (`_aggregate`) with the first sums only, or, where a value needs them
    (or `small` says so already), with the finer sums too; and whether it took them. None if
    a value is not vouched for even so. A second pass costs less than the row reader."""
    for finer in (True,) if small else (False, True):
        found = _aggregate(frame, names, columns, skip_empty=skip_empty, small=finer)
        groups = bounded(found.collect())
        if int(groups.get_column("__bad").sum()) == 0:
            return groups, finer
    return None


def _aggregate(
    frame: pl.LazyFrame,
    names: dict[str, str],
    columns: Layout,
    *,
    skip_empty: bool,
    small: bool = False,
) -> pl.LazyFrame:
    """`frame` grouped by the raw keys: `frame` has a text column per canonical key as `names`
    says, `_ROW` (the line of each row) and `_EXTRA` (not null: a row to refuse). With `small`,
    the values `SMALL_NUMBER` admits are summed too, apart (which costs a third more)."""

    def column(key: str | None) -> pl.Expr:
        return pl.lit(None, dtype=pl.String) if key is None else pl.col(names[key])

    keys = [column(key).alias(f"k{i}") for i, key in enumerate(columns.keys)]
    # Per group, how many values are not vouched for: extra fields, numbers the patterns do not
    # admit or the casts do not take (blanks are neither). Any at all sends the file to rows.
    unproven = [pl.col(_EXTRA).count()]
    sums: list[pl.Expr] = []
    for i, key in enumerate(columns.sums):
        found, not_vouched = _summed(column(key), small=small)
        sums += [found[0].alias(f"s{i}"), found[1].alias(f"t{i}")]
        unproven += not_vouched
    # A quoted empty field ("") is an empty string to polars and a blank to the row reader. It
    # is rare, and leaving it out of every row costs a copy of each label column, so the first
    # run takes the plain minimum and only a file where that is "" is grouped again without.
    labels = [
        (_non_empty(column(key)) if skip_empty else column(key)).min().alias(f"l{i}")
        for i, key in enumerate(columns.labels)
    ]
    return frame.group_by(keys).agg(
        pl.len().alias("__rows"),
        pl.col(_ROW).min().alias("__first"),
        pl.sum_horizontal(unproven).alias("__bad"),
        *sums,
        *labels,
    )


def _summed(text: pl.Expr, *, small: bool) -> tuple[tuple[pl.Expr, pl.Expr], list[pl.Expr]]:
    """A column's two sums per group (the values `FAST_NUMBER` admits, and with `small` those
    `SMALL_NUMBER` admits besides; a null sum without), and the counts of values neither
    takes."""
    if not small:
        # any value at all that is not vouched for refuses the file: no need to leave it out
        number = text.cast(_DECIMAL, strict=False)
        unproven = [pl.len() - text.str.contains(FAST_NUMBER).sum(), pl.len() - number.count()]
        return (number.sum(), pl.lit(None, dtype=_SMALL_DECIMAL)), unproven
    big, finer = _taken(text)
    return (big.sum(), finer.sum()), [pl.len() - big.count() - finer.count()]


def _taken(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Each value as the first sum takes it (where `FAST_NUMBER` admits it) and as the finer
    sum takes it (where only `SMALL_NUMBER` does); null where the sum does not take it."""
    fast = text.str.contains(FAST_NUMBER)
    big = pl.when(fast).then(text.cast(_DECIMAL, strict=False))
    tiny = ~fast & text.str.contains(SMALL_NUMBER)
    return big, pl.when(tiny).then(text.cast(_SMALL_DECIMAL, strict=False))


def exactly(text: pl.Expr) -> pl.Expr:
    """The value as the columnar sums take it, as text; null where neither takes it (and the
    file goes to the row reader)."""
    big, finer = _taken(text)
    return pl.coalesce(big.cast(pl.String), finer.cast(pl.String))


def accepted(text: pl.Expr) -> pl.Expr:
    """True where the columnar sums can take the value exactly (in the first sum or the finer
    one); elsewhere the file goes to the row reader (so this must accept nothing
    `numbers.parse_decimal` rejects)."""
    return exactly(text).is_not_null()


def _non_empty(text: pl.Expr) -> pl.Expr:
    """A quoted empty field ("") is an empty string to polars, a blank to the row reader."""
    return pl.when(text.str.len_bytes() > 0).then(text)


def _raw_groups(frame: pl.DataFrame) -> RawGroups:
    def column(name: str) -> list[Any]:
        return frame.get_column(name).to_list()

    def total(i: int) -> list[Decimal]:
        finer = column(f"t{i}")
        if not any(finer):
            return column(f"s{i}")
        with exact():
            return [s + (t or 0) for s, t in zip(column(f"s{i}"), finer, strict=True)]

    return RawGroups(
        keys=[column(f"k{i}") for i in range(len(KEY_FIELDS))],
        lines=column("__first"),
        quantities=total(0),
        costs=total(1),
        labels=list(zip(*(column(f"l{i}") for i in range(len(LABEL_FIELDS))), strict=True)),
    )


def _lines(path: Path) -> int:
    """Physical lines of the file (a last line without a newline counts), read through a
    fixed buffer: a memory map would count the whole file into the process's RSS."""
    count = 0
    last = b"\n"
    buffer = bytearray(1 << 20)
    with path.open("rb", buffering=0) as raw:
        while size := raw.readinto(buffer):
            count += newlines(buffer, size)
            last = bytes(buffer[size - 1 : size])
    return count + (0 if last == b"\n" else 1)

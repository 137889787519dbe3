"""The columnar reader's JSON lines (Graph's usage export): grouped by polars, chunk by chunk.

polars' own JSON reader reads every column with the type text, which writes a JSON number as
the shortest text of the nearest double: the same value as Microsoft's text when the number has
at most 15 significant digits (any such decimal survives a double unchanged). The summed
columns are read as doubles and then cast to that same text, which is cheaper. A number of 16
or more significant digits (a double written in full, `0.041666666666666664`, or a decimal of
many places) would be rounded so: in a chunk whose raw lines hold one in a column read, each
such number is taken from its line as written, by a pattern, in place of polars' value.
So, per chunk of lines, the reader gives up (to the row reader) on a file only where polars
gives a value as it writes a boolean, an object or a list (`true`, `{...}`: the row reader
reads those otherwise; a string that looks the same only costs the row reader's time; labels
are checked row by row, keys once grouped, on their distinct values, and summed values must be
numbers anyway), or where a line is blank (polars skips it; JSON lines have one record per line
otherwise, so row numbers are line numbers and no line count is needed). Not checked: a column
named twice in one line (polars keeps the first value, Python's JSON the last) or a name spelled
with `\\u` escapes.

The long-number search runs in two steps: a cheap one anchored on `:` (any key) clears a chunk
without any; only a chunk where it finds one gets the per-key search, which takes the numbers
out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, TypeVar

import polars as pl

from billbridge.sources.heap import big_buffers_on_heap
from billbridge.sources.partner_center.columnar import _EXTRA, _ROW, _merge, vouched
from billbridge.sources.partner_center.columns import canonical
from billbridge.sources.partner_center.files import MAX_LINE_BYTES, Source, open_content
from billbridge.sources.partner_center.usage import Layout

_T = TypeVar("_T")
_LINE = "__line"
_CHUNK_BYTES = 16 << 20
_GROUP_EVERY = 4
"""Chunks whose rows are grouped together: a chunk's 10,000 rows hold nearly as many groups, so
grouping each alone costs more. In-process, a million rows in 4 blobs: 16 MiB chunks read
ahead and grouped 4 at a time, 6.0-6.2 s and 380-410 MiB; 32 MiB chunks grouped one at a time
and not read ahead, 6.3-6.6 s and 495 MiB; 32 MiB read ahead, 5.8-6.0 s but 560 MiB. (Lines
then also checked ahead: 5% less time, 20 MiB less.)"""
_MERGE_EVERY = 8
_DIGITS = r"-?0*\.?0*[1-9](?:\.?[0-9]){15}"
"""A JSON number of 16 or more significant digits (after any leading zeros)."""
ANY_LONG_NUMBER = rf":\s*{_DIGITS}"
"""Any value that is such a number, whatever its key: matches wherever `_long_numbers` does.
A literal `:` prefix makes it about three times cheaper than the alternation of key names."""
_WRITTEN = r'^[{,]\s*("(?:[^"\\]|\\.)*")\s*:\s*(.*)$'
"""A match of `_long_numbers`: the key as written (quoted) and the number."""


def json_groups(source: Source, columns: Layout) -> pl.DataFrame | None:
    """The JSON lines grouped, a chunk of lines at a time (so that memory stays bounded: polars
    would hold the whole file), the chunks' groups then merged; None for the row reader."""
    names: dict[str, str] = {}
    for name in source.columns:
        key = canonical(name)
        if key in columns.keys + columns.sums + columns.labels:
            if key in names:
                return None  # two spellings of one column: which wins is the row reader's call
            names[key] = name
    try:
        found = _chunk_groups(source, names, columns)
    except _LongLine:
        return None
    if found is None or found[1] == 0:
        return None
    parts = found[0]
    merged = _merge(parts, columns) if len(parts) > 1 else parts[0]
    if merged.height == 0 or int(merged.get_column("__bad").sum()) > 0:
        return None
    keys = [f"k{i}" for i, key in enumerate(columns.keys) if key is not None]
    if merged.select(_unlike_text(keys)).item():
        return None
    return merged


def _chunk_groups(
    source: Source, names: dict[str, str], columns: Layout
) -> tuple[list[pl.DataFrame], int] | None:
    """The groups of every few chunks (merged every few groups) and the lines read; None for the
    row reader."""
    long_numbers = _long_numbers(list(names.values()))
    texts = dict.fromkeys(names.values(), pl.String)
    sums = [names[key] for key in columns.sums if key is not None]
    # Labels are checked row by row (a group keeps only its smallest); keys once grouped, on
    # their distinct values; summed values must be numbers, which none of the odd forms is.
    labels = [names[key] for key in columns.labels if key is not None]
    group = _Grouping(names, columns)
    parts: list[pl.DataFrame] = []
    pending: list[pl.DataFrame] = []
    lines = 0
    grouped = 0  # the lines before `pending`
    # each chunk's bytes reuse the last one's memory; a gzipped file is inflated as it is read
    # (a pull reads Microsoft's blobs so: 1.7 GB of JSON lines per million rows never hit disk)
    with (
        big_buffers_on_heap(),
        open_content(source.path, source.compressed) as content,
        _read_ahead(_checked(chunk, long_numbers) for chunk in _chunks(content)) as chunks,
    ):
        for chunk in chunks:
            frame = _parsed(chunk.data, texts, sums)
            # polars skips blank lines (and lines of blanks): then rows would not be lines
            if frame.height != chunk.lines:
                return None
            if chunk.written:
                frame = frame.with_columns(
                    pl.coalesce(written, pl.col(name)).alias(name)
                    for name, written in chunk.written.items()
                )
            if frame.select(_unlike_text(labels)).item():
                return None
            pending.append(frame)
            lines += frame.height
            if len(pending) == _GROUP_EVERY:
                part = group(pending, grouped)
                if part is None:
                    return None  # a value not vouched for: the rest need not be read so
                parts.append(part)
                pending, grouped = [], lines
            if len(parts) == _MERGE_EVERY:
                parts = [_merge(parts, columns)]
    if pending:
        part = group(pending, grouped)
        if part is None:
            return None
        parts.append(part)
    return parts, lines


def _parsed(data: bytes, texts: Mapping[str, type[pl.DataType]], sums: list[str]) -> pl.DataFrame:
    """The lines' columns as text, the summed ones read as numbers first where every value of
    the chunk is one: writing JSON numbers as text is a large part of polars' parse, and
    the shortest text of a double (what the cast writes) is the value the text schema gives.
    A chunk where a summed value is anything else (a string, `true`, an object, a number out
    of a double's range) is read again as text, as the row reader's rules then decide."""
    try:
        frame = pl.read_ndjson(data, schema={**texts, **dict.fromkeys(sums, pl.Float64)})
    except pl.exceptions.ComputeError:
        return pl.read_ndjson(data, schema=texts)
    return frame.with_columns(pl.col(sums).cast(pl.String))


@dataclass(frozen=True, slots=True)
class _Chunk:
    """Whole lines of the content, with what is known of them before polars parses them."""

    data: bytes
    lines: int
    written: dict[str, pl.Series]
    """Per column read that holds a number of 16 or more significant digits in these lines,
    that number as written on each line (null on the others): polars would round it."""


def _checked(data: bytes, long_numbers: str) -> _Chunk:
    """The chunk's lines counted and the long numbers of the columns read taken out
    (`long_numbers`: their pattern, tried only where the cheap one finds something)."""
    raw = pl.read_csv(
        data,
        has_header=False,
        separator="\x01",  # JSON escapes control characters: no line holds one
        quote_char=None,
        schema={_LINE: pl.String},
    ).get_column(_LINE)
    written = _written(raw, long_numbers) if raw.str.contains(ANY_LONG_NUMBER).any() else {}
    return _Chunk(data, raw.len(), written)


def _written(raw: pl.Series, long_numbers: str) -> dict[str, pl.Series]:
    """Per column, the long numbers of the lines `raw` as written, by the column's name."""
    found = (
        raw.str.extract_all(long_numbers)
        .to_frame("match")
        .with_row_index("line")
        .explode("match")
        .drop_nulls("match")
    )
    if found.height == 0:
        return {}
    parts = found.select("line", pl.col("match").str.extract_groups(_WRITTEN)).unnest("match")
    key, number = parts.columns[1:]
    written: dict[str, pl.Series] = {}
    for (quoted,), rows in parts.partition_by(key, as_dict=True).items():
        name = json.loads(str(quoted))
        empty = pl.Series(name, [None] * raw.len(), dtype=pl.String)
        written[name] = empty.scatter(rows.get_column("line"), rows.get_column(number))
    return written


@dataclass(slots=True)
class _Grouping:
    """Groups consecutive chunks' rows, with the finer sums too where a value needs them; once
    a batch needs them the later ones get them at once (a file of doubles written in full,
    `7.685866666666667E-8`, needs them throughout)."""

    names: dict[str, str]
    columns: Layout
    small: bool = False

    def __call__(self, frames: list[pl.DataFrame], lines: int) -> pl.DataFrame | None:
        """The groups of `frames`, which follow `lines` lines; None if a value is not vouched
        for even so."""
        rows = pl.concat(frames).with_columns(pl.lit(None, dtype=pl.String).alias(_EXTRA))
        # Without blank lines, row N (from 0) is line lines + N + 1.
        frame = rows.with_row_index(_ROW, offset=lines + 1).lazy()
        found = vouched(frame, self.names, self.columns, skip_empty=True, small=self.small)
        if found is None:
            return None
        groups, self.small = found
        return groups


@contextmanager
def _read_ahead(chunks: Iterator[_T]) -> Iterator[Iterator[_T]]:
    """`chunks`, the next one made (read, inflated, checked) in a thread while polars parses
    the one before: inflating holds one core, and polars leaves one idle now and then. Leaving
    waits for the chunk in the making, so that the content can then be closed."""
    with ThreadPoolExecutor(1, thread_name_prefix="billbridge-read-ahead") as pool:

        def ahead() -> Iterator[_T]:
            pending = pool.submit(next, chunks, None)
            while (chunk := pending.result()) is not None:
                pending = pool.submit(next, chunks, None)
                yield chunk

        yield ahead()


class _LongLine(ValueError):
    """A line longer than any billing file has: the row reader refuses it, with its number."""


def _chunks(content: IO[bytes], size: int = _CHUNK_BYTES) -> Iterator[bytes]:
    """The content in pieces of about `size` bytes, each of whole lines (copied once)."""
    while block := content.read(size):
        if block[-1:] == b"\n":
            yield block
            continue
        rest = content.readline(MAX_LINE_BYTES)
        if len(rest) == MAX_LINE_BYTES and rest[-1:] != b"\n":
            raise _LongLine
        yield block + rest


def _long_numbers(names: list[str]) -> str:
    """A value of one of `names` that is a number of 16 or more significant digits (which
    polars' JSON reader would round to a double), with the key before it as written (after
    the `{` or `,` that starts a member: no key inside a string value matches)."""
    keys = "|".join(re.escape(json.dumps(name, ensure_ascii=False)) for name in names)
    return rf"[{{,]\s*(?:{keys})\s*:\s*{_DIGITS}[0-9.eE+-]*"


def _unlike_text(names: Sequence[str]) -> pl.Expr:
    """True if a value of the columns `names` is what polars writes for a boolean, an object
    or a list (which the row reader reads otherwise); a string that looks the same only costs
    the row reader's time."""
    if not names:
        return pl.lit(False)
    odd = [pl.col(name).str.contains(r"^(?:true$|false$|\{|\[)") for name in names]
    return pl.any_horizontal(odd).any()

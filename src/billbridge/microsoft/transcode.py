"""Graph's usage export (JSON lines) rewritten as CSV, for the Partner Center reader's
columnar path: a month of millions of rows read by polars instead of line by line.

Exactness first: a JSON number must reach the reader as the text Microsoft wrote
(`7.10833E-05`, 20 decimal places), never through a float. So, in polars, each line's number
values are first quoted where they follow a key (`"Quantity":0.5` -> `"Quantity":"0.5"`; a key's
closing quote is never escaped, a quote inside a string always is), then each line is decoded
with every field typed as text, and written as CSV. A line polars cannot decode, or anything
else unexpected, returns False: the reader then reads the JSON lines themselves and reports
each problem at its line.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl

from billbridge.sources.partner_center import usage
from billbridge.sources.partner_center.columns import canonical

logger = logging.getLogger(__name__)

_SAMPLE_LINES = 1000
# A value that follows a key's closing quote (`":`), when it is a number.
_NUMBER_VALUE = r'([^\\]"\s*:\s*)(-?[0-9][0-9.eE+\-]*)'
_LINE = "line"


def keys_of(path: Path, wanted: set[str] | None = None) -> list[str] | None:
    """The keys of the first lines (Spark's JSON writer leaves out null fields), in order."""
    keys: dict[str, None] = {}
    try:
        with path.open("rb") as handle:
            for number, line in enumerate(handle):
                if number >= _SAMPLE_LINES:
                    break
                if line.strip():
                    item = json.loads(line)
                    if not isinstance(item, dict):
                        return None
                    keys.update(
                        dict.fromkeys(k for k in item if wanted is None or canonical(k) in wanted)
                    )
    except (OSError, ValueError):
        return None
    return list(keys) or None


def usage_columns() -> set[str]:
    """The canonical names of the columns the usage reader reads (the others are left out:
    decoding them would only cost time)."""
    return {canonical(name) for f in usage.FIELDS for name in (f.name, *f.aliases)}


def jsonl_to_csv(source: Path, target: Path, wanted: set[str] | None = None) -> bool:
    """`source`'s JSON lines as CSV in `target` (header: the keys, those `wanted` if given);
    False if not done."""
    keys = keys_of(source, wanted)
    if keys is None or any(not key or "\n" in key for key in keys):
        return False
    try:
        lines = pl.scan_csv(
            source,
            has_header=False,
            separator="\x01",  # JSON escapes control characters: no line holds one
            quote_char=None,
            schema={_LINE: pl.String},
        )
        struct = pl.Struct([pl.Field(key, pl.String) for key in keys])
        frame = (
            lines.filter(pl.col(_LINE).str.strip_chars().str.len_bytes() > 0)
            .select(
                pl.col(_LINE)
                .str.replace_all(_NUMBER_VALUE, '$1"$2"')
                .str.json_decode(struct)
                .alias("row")
            )
            .unnest("row")
        )
        frame.sink_csv(target, include_header=True)
    except (pl.exceptions.PolarsError, OSError, UnicodeError) as exc:
        logger.info("usage export kept as JSON lines: %s", exc)
        return False
    return True

"""JSON parsing that remembers the line each object started on, for `FILE:LINE` errors."""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
from collections.abc import Callable
from decimal import Decimal
from typing import Any


class LocatedDict(dict[str, Any]):
    """A JSON object that knows the line of its opening brace."""

    line: int = 1
    duplicate_keys: tuple[str, ...] = ()


def loads_located(text: str) -> Any:
    """Parse JSON like `json.loads`, numbers as exact `Decimal`/`int`, objects as `LocatedDict`.

    Raises `json.JSONDecodeError` (which carries `lineno`) on broken JSON.
    """
    newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def line_of(offset: int) -> int:
        return bisect.bisect_left(newlines, offset) + 1

    decoder = json.JSONDecoder(parse_float=Decimal, object_pairs_hook=_pairs_to_located)
    plain_parse_object: Callable[..., tuple[LocatedDict, int]] = getattr(json.decoder, "JSONObject")  # noqa: B009

    def parse_object(s_and_end: tuple[str, int], *args: Any) -> tuple[LocatedDict, int]:
        obj, end = plain_parse_object(s_and_end, *args)
        # s_and_end points just past "{"
        obj.line = line_of(s_and_end[1] - 1)
        return obj, end

    # The C scanner ignores overridden hooks, so the pure-Python one is used; input files of
    # this kind are small (organizations, price lists, reports).
    setattr(decoder, "parse_object", parse_object)  # noqa: B010
    make_scanner = getattr(json.scanner, "py_make_scanner")  # noqa: B009
    setattr(decoder, "scan_once", make_scanner(decoder))  # noqa: B010
    return decoder.decode(text)


def _pairs_to_located(pairs: list[tuple[str, Any]]) -> LocatedDict:
    result = LocatedDict()
    duplicates: list[str] = []
    for key, value in pairs:
        if key in result:
            duplicates.append(key)
        result[key] = value
    if duplicates:
        result.duplicate_keys = tuple(duplicates)
    return result

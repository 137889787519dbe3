"""JSON parsing that remembers the line each object started on, for `FILE:LINE` errors."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

MAX_VALUES = 2_000_000
"""More JSON values than this in one file are refused before parsing: far beyond any
organizations, price list or reports file, and small enough to parse in seconds and a few
hundred MB."""

# A string (skipped whole, so braces inside it do not count) or an object's opening brace.
_STRING_OR_BRACE = re.compile(r'"(?:[^"\\]|\\.)*"|\{', re.DOTALL)


class TooManyValuesError(ValueError):
    """The document has more values than `MAX_VALUES`."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"has more than {limit:,} values; split it into smaller files")
        self.limit = limit


class LocatedDict(dict[str, Any]):
    """A JSON object that knows the line of its opening brace."""

    __slots__ = ("_values", "duplicate_keys", "line")

    def __init__(self) -> None:
        super().__init__()
        self.line = 1
        self.duplicate_keys: tuple[str, ...] = ()
        self._values: tuple[Any, ...] | None = None


def loads_located(text: str, *, max_values: int = MAX_VALUES) -> Any:
    """Parse JSON like `json.loads`, numbers as exact `Decimal`/`int`, objects as `LocatedDict`.

    Raises `json.JSONDecodeError` (which carries `lineno`) on broken JSON, and
    `TooManyValuesError` on a document too big to hold.
    """
    # Every value but the first follows a comma, or opens an array or object: a cheap upper
    # bound (commas inside strings count too), taken before anything is built.
    if text.count(",") + text.count("[") + text.count("{") >= max_values:
        raise TooManyValuesError(max_values)
    document = json.loads(text, parse_float=Decimal, object_pairs_hook=_pairs_to_located)
    _number_lines(text, document)
    return document


def _number_lines(text: str, document: Any) -> None:
    """Give each object the line of its `{`: the objects in document order are the opening
    braces outside strings in text order."""
    braces = (m.start() for m in _STRING_OR_BRACE.finditer(text) if m.group() == "{")
    line, offset = 1, 0
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, LocatedDict):
            position = next(braces)
            line += text.count("\n", offset, position)
            offset = position
            value.line = line
            children = value._values if value._values is not None else tuple(value.values())
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed(value))


def _pairs_to_located(pairs: list[tuple[str, Any]]) -> LocatedDict:
    result = LocatedDict()
    duplicates: list[str] = []
    for key, value in pairs:
        if key in result:
            duplicates.append(key)
        result[key] = value
    if duplicates:
        result.duplicate_keys = tuple(duplicates)
        # A repeated key keeps only its last value; the objects in the others still count
        # when lines are numbered.
        result._values = tuple(value for _, value in pairs)
    return result

"""Numbers as Microsoft writes them: plain (`0.068`), exponent (`7.10833E-05`, `0.00E+00`), or JSON.

Every number becomes an exact `Decimal`; nothing passes through a float. A JSON number arrives
already exact (the JSON readers parse with `parse_float=Decimal`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext

NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
"""What a number may look like, once surrounding blanks and an Excel guard `'` are removed."""

NUMBER_PATTERN = f"^{NUMBER.pattern}$"
"""The same, anchored, for the columnar reader (which must accept nothing this module rejects)."""

MAX_ADJUSTED_EXPONENT = 15
"""Values must be below 1E16 in magnitude: more is a broken file, not a bill."""

MIN_EXPONENT = -40
"""At most 40 decimal places (Microsoft writes up to 20, some of them trailing zeros)."""

_ONE = Decimal(1)
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


def parse_decimal(value: object) -> Decimal:
    """The exact value of `value` (text, int or Decimal); `ValueError` says what is wrong.

    A leading apostrophe, which Excel users type to keep a value as text, is ignored.
    """
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a number")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("'"):
            text = text[1:].strip()
        if not NUMBER.fullmatch(text):
            if _DECIMAL_COMMA.fullmatch(text):
                raise ValueError(
                    f"'{value}' uses a decimal comma; Microsoft writes {text.replace(',', '.')}"
                )
            raise ValueError(f"'{value}' is not a number")
        number = Decimal(text)
    else:
        raise ValueError(f"{_shown(value)} is not a number")
    if not number.is_finite():
        raise ValueError(f"'{value}' is not a number")
    if number.is_zero():
        return Decimal(0)  # `0E-100` is zero, however many places it claims
    exponent = number.as_tuple().exponent
    if not number.is_zero() and number.adjusted() > MAX_ADJUSTED_EXPONENT:
        raise ValueError(f"'{value}' is out of range")
    if isinstance(exponent, int) and exponent < MIN_EXPONENT:
        raise ValueError(f"'{value}' has more than {-MIN_EXPONENT} decimal places")
    return number


def _shown(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return repr(value)


EXACT = Context(prec=1000, traps=[Inexact, InvalidOperation])
"""Decimal arithmetic that is exact or fails: sums and products of three of Microsoft's
numbers (at most 56 digits each, see `parse_decimal`) fit in 1000 digits by far; an inexact
result raises instead of rounding silently. (Precision is a cap, not a cost.)"""


@contextmanager
def exact() -> Iterator[None]:
    """Arithmetic in the `EXACT` context for the block."""
    with localcontext(EXACT):
        yield


def tidy(value: Decimal) -> Decimal:
    """The same value without trailing zeros (`16.7548402800` -> `16.75484028`, `1E+2` -> `100`)."""
    plain = EXACT.normalize(value)
    if plain == plain.to_integral_value():
        return EXACT.quantize(plain, _ONE)
    return plain

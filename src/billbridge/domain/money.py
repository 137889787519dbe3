"""Money and quantities: always `Decimal`, rounded once, half-up, where the FAQ says so."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal

CENT = Decimal("0.01")
# Wide enough that products and sums of 40-digit values are exact (the default is 28 digits).
EXACT = Context(prec=200)


def exact_sum(amounts: Iterable[Decimal]) -> Decimal:
    """The exact sum of exact values (never rounded to the default 28 digits)."""
    total = Decimal(0)
    for amount in amounts:
        total = EXACT.add(total, amount)
    return total


def round_cents(amount: Decimal) -> Decimal:
    """Round to cents, half-up (0.005 -> 0.01), as invoices are rounded."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def canonical(amount: Decimal) -> str:
    """One spelling per value: `canonical(Decimal("1.50")) == canonical(Decimal("15E-1")) == "1.5"`.

    Used wherever a value is hashed or compared as text, so that a file that writes `7.1E-05`
    and one that writes `0.000071` describe the same report.
    """
    if amount.is_zero():
        return "0"
    # Fixed-point text without trailing zeros; not Decimal.normalize(), which rounds to the
    # context's 28 digits.
    text = format(amount, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text

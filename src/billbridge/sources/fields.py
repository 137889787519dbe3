"""Typed values out of located records; every bad value becomes a `Problem`, never an exception.

CSV gives strings; JSON gives strings, exact numbers (`Decimal`/`int`), booleans and null. Both
go through the same checks so that the two formats accept and reject the same things.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, TypeVar

from billbridge.sources.currencies import ISO_4217
from billbridge.sources.problems import ProblemLog
from billbridge.sources.tabular import Record

E = TypeVar("E", bound=Enum)

_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_INTEGER = re.compile(r"[+-]?\d+")
# Exact values up to 40 significant digits and below a quadrillion: far beyond any bill, and
# small enough that a value's text fits the store's column.
_MAX_DIGITS = 40
_MAX_MAGNITUDE = 15


class RowReader:
    """Reads the values of one record, logging a problem for each bad one.

    Each accessor returns None when the value is absent or bad; `ok` tells whether any value
    of this record was bad, so the caller builds the domain object only from a clean record.
    """

    def __init__(self, record: Record, log: ProblemLog) -> None:
        self.record = record
        self._log = log
        self.ok = True

    def problem(self, column: str | None, message: str) -> None:
        self.ok = False
        self._log.add(self.record.file, self.record.line, column, message)

    def _raw(self, column: str, required: bool) -> Any:
        value = self.record.values.get(column)
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                value = None
        if value is None and required:
            self.problem(column, "is required")
        return value

    def text(self, column: str, *, required: bool = True, max_length: int = 500) -> str | None:
        value = self._raw(column, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            self.problem(column, "must be text")
            return None
        text = str(value)
        if len(text) > max_length:
            self.problem(column, f"is longer than {max_length} characters")
            return None
        if any(ord(ch) < 32 for ch in text):
            self.problem(column, "contains control characters")
            return None
        return text

    def decimal(
        self, column: str, *, required: bool = True, non_negative: bool = True
    ) -> Decimal | None:
        value = self._raw(column, required)
        if value is None:
            return None
        number: Decimal | None = None
        if isinstance(value, bool):
            pass
        elif isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, Decimal):
            number = value
        elif isinstance(value, str):
            if _DECIMAL.fullmatch(value):
                try:
                    number = Decimal(value)
                except InvalidOperation:  # pragma: no cover - the pattern admits only valid text
                    number = None
            elif _DECIMAL_COMMA.fullmatch(value):
                self.problem(
                    column, f"'{value}' uses a decimal comma; write {value.replace(',', '.')}"
                )
                return None
        if number is None or not number.is_finite():
            self.problem(column, f"'{value}' is not a number")
            return None
        if number.is_zero():
            number = Decimal(0)  # `0E-100` is zero, however many places it claims
        _, digits, exponent = number.as_tuple()
        too_fine = isinstance(exponent, int) and exponent < -_MAX_DIGITS
        if len(digits) > _MAX_DIGITS or too_fine or number.adjusted() > _MAX_MAGNITUDE:
            self.problem(column, f"'{value}' is out of range")
            return None
        if non_negative and number < 0:
            self.problem(column, f"must not be negative (got {value})")
            return None
        return number

    def integer(self, column: str, *, required: bool = True, positive: bool = True) -> int | None:
        value = self._raw(column, required)
        if value is None:
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif (isinstance(value, Decimal) and value == value.to_integral_value()) or (
            isinstance(value, str) and _INTEGER.fullmatch(value)
        ):
            number = int(value)
        if number is None:
            self.problem(column, f"'{value}' is not a whole number")
            return None
        if positive and number <= 0:
            self.problem(column, f"must be a positive number (got {value})")
            return None
        if number > 2**63 - 1:
            self.problem(column, f"'{value}' is out of range")
            return None
        return number

    def date(self, column: str, *, required: bool = True) -> date | None:
        value = self._raw(column, required)
        if value is None:
            return None
        if isinstance(value, str) and _ISO_DATE.fullmatch(value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                self.problem(column, f"'{value}' is not a real date")
                return None
        self.problem(column, f"'{value}' is not a date; write YYYY-MM-DD")
        return None

    def boolean(self, column: str, *, default: bool) -> bool:
        value = self._raw(column, required=False)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.problem(column, f"'{value}' must be true or false")
        return default

    def choice(self, column: str, enum: type[E], *, required: bool = True) -> E | None:
        value = self._raw(column, required)
        if value is None:
            return None
        for member in enum:
            if isinstance(value, str) and value == member.value:
                return member
        allowed = ", ".join(str(m.value) for m in enum)
        self.problem(column, f"'{value}' is not one of {allowed}")
        return None

    def currency(self, column: str) -> str | None:
        value = self.text(column)
        if value is None:
            return None
        code = value.upper()
        if code not in ISO_4217:
            self.problem(column, f"'{value}' is not an ISO 4217 currency code")
            return None
        return code

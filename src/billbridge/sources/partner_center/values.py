"""Typed values out of one Partner Center record; every bad value is logged, never raised."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from billbridge.sources.currencies import ISO_4217
from billbridge.sources.partner_center.columns import Binding, Field
from billbridge.sources.partner_center.dates import parse_date, parse_timestamp
from billbridge.sources.partner_center.files import Record
from billbridge.sources.partner_center.numbers import parse_decimal
from billbridge.sources.problems import ProblemLog

_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
MAX_TEXT = 500


def identifier(text: str) -> str:
    """Tenant, subscription and meter ids: GUIDs in lower case, as Partner Center writes them
    today (older exports used upper case), so that one id never becomes two organizations or
    two contracts. Anything else as written."""
    return text.lower() if _GUID.fullmatch(text) else text


class RowValues:
    """Reads the values of one record; `ok` tells whether any of them was bad."""

    def __init__(self, file: str, record: Record, binding: Binding, log: ProblemLog) -> None:
        self.file = file
        self.record = record
        self.binding = binding
        self._log = log
        self.ok = True

    @property
    def line(self) -> int:
        return self.record.line

    def problem(self, field: Field, message: str) -> None:
        self.ok = False
        self._log.add(self.file, self.record.line, self.binding.label(field), message)

    def raw(self, field: Field, *, required: bool = False) -> Any:
        """The value, None when blank; a bound required field that is blank is a problem.

        A required field whose column is missing was reported once, at the header.
        """
        key = self.binding.key(field)
        value = None if key is None else self.record.values.get(key)
        if isinstance(value, str):
            value = value.strip() or None
        if value is None and required and key is not None:
            self.problem(field, "is required")
        return value

    def text(self, field: Field, *, required: bool = False) -> str | None:
        value = self.raw(field, required=required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
            self.problem(field, "must be text")
            return None
        text = str(value)
        if len(text) > MAX_TEXT:
            self.problem(field, f"is longer than {MAX_TEXT} characters")
            return None
        if any(ord(ch) < 32 for ch in text):
            self.problem(field, "contains control characters")
            return None
        return text

    def identifier(self, field: Field, *, required: bool = False) -> str | None:
        text = self.text(field, required=required)
        return None if text is None else identifier(text)

    def decimal(self, field: Field, *, required: bool = False) -> Decimal | None:
        value = self.raw(field, required=required)
        if value is None:
            return None
        try:
            return parse_decimal(value)
        except ValueError as exc:
            self.problem(field, str(exc))
            return None

    def date(self, field: Field, *, required: bool = False) -> date | None:
        value = self.raw(field, required=required)
        if value is None:
            return None
        try:
            return parse_date(value)
        except ValueError as exc:
            self.problem(field, str(exc))
            return None

    def timestamp(self, field: Field) -> datetime | None:
        value = self.raw(field)
        if value is None:
            return None
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            self.problem(field, str(exc))
            return None

    def currency(self, field: Field, *, required: bool = False) -> str | None:
        text = self.text(field, required=required)
        if text is None:
            return None
        code = text.upper()
        if code not in ISO_4217:
            self.problem(field, f"'{text}' is not an ISO 4217 currency code")
            return None
        return code

    def words(self, field: Field) -> tuple[str, ...]:
        """A list of words: a JSON list, or its text form (`["AddOn","Trial"]`) in a CSV."""
        value = self.raw(field)
        if value is None:
            return ()
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                value = value.split(",")
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.problem(field, "must be a list of words")
            return ()
        return tuple(str(word).strip() for word in value if str(word).strip())


def currency_code(text: str) -> str | None:
    """The ISO 4217 code `text` spells (any case, blanks around), or None."""
    code = text.strip().upper()
    return code if code in ISO_4217 else None

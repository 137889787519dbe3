"""Dates as Microsoft writes them.

The CSV exports write US dates, `11/17/2025` or `10/3/2020`, sometimes with a time after them;
the APIs write ISO 8601, `2021-05-20`, `2021-05-20T18:30:06.6045692Z` or with an offset
(`2019-02-04T09:22:40.1767993-08:00`). Microsoft's billing dates are UTC: a time with an offset
is moved to UTC before its day is taken. Day-first dates (`17/11/2025`) are rejected rather than
guessed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

_US = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4})"
    r"(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:\s*([AaPp])[Mm])?)?"
)
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|[+-]\d{2}:?\d{2})?)?"
)


def parse_date(value: object) -> date:
    """The (UTC) day of `value`; `ValueError` says what is wrong."""
    return parse_timestamp(value).date()


def parse_timestamp(value: object) -> datetime:
    """`value` as a UTC datetime (midnight when it has no time), for ordering lines."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date; Microsoft writes 11/17/2025 or 2025-11-17")
    text = value.strip()
    try:
        us = _US.fullmatch(text)
        if us:
            month, day, year, hour, minute, second, half = us.groups()
            hours = int(hour or 0)
            if half is not None:
                if not 1 <= hours <= 12:
                    raise ValueError
                hours = hours % 12 + (12 if half in "Pp" else 0)
            minutes, seconds = int(minute or 0), int(second or 0)
            return datetime(int(year), int(month), int(day), hours, minutes, seconds, tzinfo=UTC)
        iso = _ISO.fullmatch(text)
        if iso:
            year, month, day, hour, minute, second, fraction, zone = iso.groups()
            micro = int((fraction or "0")[:6].ljust(6, "0"))
            moment = datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                micro,
                tzinfo=_zone(zone),
            )
            return moment.astimezone(UTC)
    except ValueError:
        hint = " (Microsoft writes month/day/year)" if _US.fullmatch(text) else ""
        raise ValueError(f"'{value}' is not a real date{hint}") from None
    raise ValueError(f"'{value}' is not a date; Microsoft writes 11/17/2025 or 2025-11-17")


def _zone(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if offset >= timedelta(hours=24):
        raise ValueError
    return timezone(sign * offset)

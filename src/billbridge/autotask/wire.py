"""How values look on Autotask's wire: exact decimals, UTC times, UDF pairs.

- Money and quantities are `Decimal`. Responses are parsed with `parse_float=Decimal`, so a
  returned `12.5` is `Decimal("12.5")`; request bodies write a `Decimal` as a JSON number with
  its exact digits (`Decimal("7.10")` -> `7.10`), never through a float.
- Autotask stores and returns times in UTC. `parse_datetime` accepts every format seen in
  responses (`2012-10-24T05:00:00.000Z`, `2020-02-23T13:00:00Z`, the same without `Z`, with
  seven fraction digits, or a bare date) and returns an aware UTC `datetime`. Bodies carry
  `datetime` as `YYYY-MM-DDTHH:MM:SSZ` (UTC) and `date` as noon UTC of that day.
- Date-only fields (`startDate`, `endDate`, `datePurchased`): whether Autotask keeps the UTC
  date of the instant sent or first moves it to the tenant's time zone is not documented
  consistently. Noon UTC is the same calendar day in every zone from UTC-12 to UTC+11, so both
  readings keep the day sent (midnight UTC would be the day before in New York). Read back,
  a date is the day of the instant rounded to the nearest midnight (`parse_date`), so a date
  returned as local midnight in UTC (`2026-09-30T14:00:00Z` from Sydney) is still 2026-10-01.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

_DATE_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}")


def parse_datetime(text: str) -> datetime:
    """Parse an Autotask date-time; a value without a zone is UTC, as the API
    stores and returns times in UTC."""
    value = text.strip()
    if not _DATE_PREFIX.match(value):
        raise ValueError(f"not an Autotask date-time: {text!r}")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_date(text: str) -> date:
    """The calendar day of a date-only field: the UTC date, or the next day after 12:00 UTC.

    `2024-10-01T00:00:00.000Z`, `2024-10-01T04:00:00Z` (midnight in New York) and
    `2024-09-30T14:00:00Z` (midnight in Sydney) are all 2024-10-01; noon, as billbridge sends
    dates, stays on its day.
    """
    moment = parse_datetime(text)
    day = moment.date()
    if moment.timetz().replace(tzinfo=None) > time(12, 0):
        return day + timedelta(days=1)
    return day


def format_datetime(value: datetime) -> str:
    """`2024-10-01T13:05:00Z`: UTC, with milliseconds only when there are any."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: give Autotask an aware (UTC) datetime")
    utc = value.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_date(value: date) -> str:
    """A calendar date as noon UTC, `2024-10-01T12:00:00Z`: the same day in both readings."""
    return f"{value.isoformat()}T12:00:00Z"


def to_decimal(value: object) -> Decimal | None:
    """A returned number (int, Decimal, numeric string) as `Decimal`; `None` stays `None`."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
    raise TypeError(f"not a number: {type(value).__name__}")


def udf_list(values: Mapping[str, object]) -> list[dict[str, str | None]]:
    """`{"Subscription ID": "abc"}` -> `[{"name": "Subscription ID", "value": "abc"}]`."""
    return [
        {"name": name, "value": None if value is None else str(value)}
        for name, value in values.items()
    ]


def udf_value(entity: Mapping[str, Any], name: str) -> str | None:
    """The value of UDF `name` (case-insensitive) in a returned entity, or `None`."""
    wanted = name.casefold()
    for pair in entity.get("userDefinedFields") or ():
        if isinstance(pair, Mapping) and str(pair.get("name", "")).casefold() == wanted:
            value = pair.get("value")
            return None if value is None else str(value)
    return None


def decode_json(content: bytes | str) -> Any:
    """Parse a response body, reading every non-integer number as `Decimal`."""
    return json.loads(content, parse_float=Decimal)


def encode_json(value: object) -> bytes:
    """Serialize a request body; `Decimal` keeps its exact digits, dates become UTC strings."""
    parts: list[str] = []
    _encode(value, parts)
    return "".join(parts).encode()


def _encode(value: object, out: list[str]) -> None:
    if value is None or isinstance(value, bool | str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, Enum):
        _encode(value.value, out)
    elif isinstance(value, int):
        out.append(str(int(value)))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} to Autotask")
        out.append(format(value, "f"))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot send {value} to Autotask")
        out.append(repr(value))
    elif isinstance(value, datetime):
        out.append(json.dumps(format_datetime(value)))
    elif isinstance(value, date):
        out.append(json.dumps(format_date(value)))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"JSON object keys must be strings, not {type(key).__name__}")
            if index:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple | set | frozenset) or _is_iterable(value):
        out.append("[")
        for index, item in enumerate(_iter(value)):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot send a {type(value).__name__} to Autotask")


def _is_iterable(value: object) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, bytes | bytearray)


def _iter(value: object) -> Iterable[object]:
    assert isinstance(value, Iterable)
    return value

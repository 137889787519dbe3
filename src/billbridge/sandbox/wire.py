"""The sandbox's side of the wire: lenient input like ASP.NET's binder, exact JSON output.

Kept apart from the client's `wire.py` on purpose: the sandbox imports nothing of the client,
so that a client bug cannot be mirrored by the server it is tested against.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from billbridge.sandbox.errors import ApiError


class Double(Decimal):
    """A `double` field's value: written as a JSON number like .NET does (`12.0`, `0.5`)."""

    __slots__ = ()


def format_datetime(value: datetime) -> str:
    """`2024-10-01T00:00:00.000Z`, as the sandbox returns every date-time."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_datetime(text: str) -> datetime:
    """Every format Autotask clients send: `...Z`, no zone (UTC), offsets, a bare date."""
    value = text.strip()
    if len(value) < 10 or value[4] != "-" or value[7] != "-":
        raise ValueError(f"not a date-time: {text!r}")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _number_text(value: Decimal, *, double: bool) -> str:
    if not value.is_finite():
        raise ValueError("non-finite number")
    if value.is_zero():
        return "0.0" if double else "0"
    text = format(value.normalize(), "f")
    if double and "." not in text:
        text += ".0"
    return text


def encode_json(value: object) -> bytes:
    """JSON with exact numbers: `Decimal` keeps its digits; `Double` is written as .NET does."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode()


def _encode(value: object, out: list[str]) -> None:
    if value is None or isinstance(value, bool | str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, Decimal):
        out.append(_number_text(value, double=isinstance(value, Double)))
    elif isinstance(value, float):
        out.append(repr(value))
    elif isinstance(value, datetime):
        out.append(json.dumps(format_datetime(value)))
    elif isinstance(value, date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, Mapping):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__}")


def decode_json(content: bytes | str) -> Any:
    """Parse a request body; non-integer numbers become `Decimal`. Bad JSON is a 500."""
    try:
        return json.loads(content, parse_float=Decimal) if content else None
    except ValueError as exc:
        raise ApiError.autotask(f"The request is invalid: {exc}") from exc


_CLR_TYPES = {
    "long": "System.Int64",
    "integer": "System.Int32",
    "double": "System.Double",
    "string": "System.String",
    "boolean": "System.Boolean",
    "datetime": "System.DateTime",
}


class SqlConversionError(ValueError):
    """A value that reaches SQL Server unconverted: Autotask answers with SQL's own text."""


def sql_conversion_message(data_type: str, value: str) -> str:
    """SQL Server's message for a string that is no number (Msg 245 for int, 8114 bigint)."""
    if data_type == "long":
        return "Error converting data type nvarchar to bigint."
    return f"Conversion failed when converting the nvarchar value '{value}' to data type int."


def coerce(data_type: str, value: object, path: str) -> object:
    """Bind one JSON value to a field type, leniently (strings of numbers, "True", ...).

    Raises `ValueError` with a Json.NET-like message when the value cannot be bound.
    """
    if value is None:
        return None

    def fail() -> ValueError:
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        return ValueError(
            f'Error converting value "{shown}" to type '
            f"'{_CLR_TYPES.get(data_type, data_type)}'. Path '{path}'."
        )

    if data_type in ("long", "integer"):
        if isinstance(value, bool):
            raise fail()
        if isinstance(value, int):
            return value
        if isinstance(value, Decimal | float) and value == int(value):
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise SqlConversionError(sql_conversion_message(data_type, value)) from None
        raise fail()
    if data_type == "double":
        if isinstance(value, bool):
            raise fail()
        if isinstance(value, int | Decimal):
            return Double(value)
        if isinstance(value, float):
            return Double(repr(value))
        if isinstance(value, str):
            try:
                parsed = Double(value.strip())
            except InvalidOperation:
                raise fail() from None
            if not parsed.is_finite():
                raise fail()
            return parsed
        raise fail()
    if data_type == "string":
        if isinstance(value, dict | list):
            raise fail()
        if isinstance(value, bool):
            return "True" if value else "False"
        return str(value)
    if data_type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise fail()
    if data_type == "datetime":
        if isinstance(value, str):
            try:
                return parse_datetime(value)
            except ValueError:
                raise fail() from None
        raise fail()
    raise fail()

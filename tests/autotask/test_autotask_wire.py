"""Exact decimals and every date format public clients have seen
(docs/autotask.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billbridge.autotask.wire import (
    decode_json,
    encode_json,
    format_date,
    format_datetime,
    parse_date,
    parse_datetime,
    to_decimal,
    udf_list,
    udf_value,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2012-10-24T05:00:00.000Z", datetime(2012, 10, 24, 5, tzinfo=UTC)),
        ("2020-02-23T13:00:00Z", datetime(2020, 2, 23, 13, tzinfo=UTC)),
        ("2024-01-31T15:04:05.307", datetime(2024, 1, 31, 15, 4, 5, 307000, tzinfo=UTC)),
        ("2024-01-31T15:04:05.3070000", datetime(2024, 1, 31, 15, 4, 5, 307000, tzinfo=UTC)),
        ("2023-10-09T00:00:00", datetime(2023, 10, 9, tzinfo=UTC)),
        ("2023-10-09", datetime(2023, 10, 9, tzinfo=UTC)),
        ("2024-01-31T15:04:05+02:00", datetime(2024, 1, 31, 13, 4, 5, tzinfo=UTC)),
    ],
)
def test_parse_every_format_as_utc(text: str, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["", "yesterday", "31/01/2024", "2024-13-01"])
def test_parse_refuses_non_dates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_datetime(text)


def test_dates_round_trip() -> None:
    assert parse_date("2024-10-01T00:00:00.000Z") == date(2024, 10, 1)
    assert format_date(date(2024, 10, 1)) == "2024-10-01T12:00:00Z"
    assert parse_date(format_date(date(2024, 2, 29))) == date(2024, 2, 29)


@pytest.mark.parametrize(
    "text",
    [
        "2026-10-01T00:00:00Z",  # midnight UTC, as the sandbox and many tenants answer
        "2026-10-01T04:00:00Z",  # midnight in New York (EDT), seen from UTC
        "2026-10-01T05:00:00.000Z",  # midnight in New York (EST)
        "2026-10-01T12:00:00Z",  # noon UTC, as billbridge sends it
        "2026-09-30T14:00:00Z",  # midnight in Sydney (AEST), seen from UTC
        "2026-10-01T00:00:00",  # no zone: UTC
    ],
)
def test_parse_date_gives_the_day_a_date_only_field_holds(text: str) -> None:
    assert parse_date(text) == date(2026, 10, 1)


def test_format_datetime_is_utc_z() -> None:
    paris = timezone(timedelta(hours=2))
    assert format_datetime(datetime(2024, 10, 1, 14, tzinfo=paris)) == "2024-10-01T12:00:00Z"
    assert format_datetime(datetime(2024, 10, 1, 0, 0, 0, 5000, tzinfo=UTC)).endswith(".005Z")
    with pytest.raises(ValueError, match="naive"):
        format_datetime(datetime(2024, 10, 1))


def test_decimals_keep_their_exact_digits() -> None:
    body = {"unitPrice": Decimal("7.10"), "qty": Decimal("7.1E-05"), "n": 3, "b": True}
    assert encode_json(body) == b'{"unitPrice":7.10,"qty":0.000071,"n":3,"b":true}'
    assert decode_json(b'{"x": 0.1, "y": 2}') == {"x": Decimal("0.1"), "y": 2}
    with pytest.raises(ValueError):
        encode_json({"x": Decimal("NaN")})


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6))
def test_any_decimal_round_trips(value: Decimal) -> None:
    assert Decimal(str(decode_json(encode_json({"v": value}))["v"])) == value


def test_helpers() -> None:
    assert to_decimal(12) == Decimal(12)
    assert to_decimal("1.50") == Decimal("1.50")
    assert to_decimal(None) is None
    pairs = udf_list({"Subscription ID": "abc", "Notes": None})
    assert pairs == [{"name": "Subscription ID", "value": "abc"}, {"name": "Notes", "value": None}]
    assert udf_value({"userDefinedFields": pairs}, "subscription id") == "abc"
    assert udf_value({}, "x") is None

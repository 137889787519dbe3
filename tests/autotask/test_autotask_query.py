"""Filters validated before anything is sent (docs/autotask.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billbridge.autotask import F, build_query
from billbridge.autotask.errors import ClientUsageError
from billbridge.autotask.query import OPERATORS, Condition, Group, batches
from billbridge.autotask.wire import decode_json, encode_json


def test_the_thirteen_operators() -> None:
    assert sorted(OPERATORS) == sorted(
        ["eq", "noteq", "gt", "gte", "lt", "lte", "beginsWith", "endsWith", "contains",
         "exist", "notExist", "in", "notIn"]
    )  # fmt: skip


@pytest.mark.parametrize("op", ["ne", "isNull", "isNotNull", "between", "startsWith", "EQ", ""])
def test_unknown_operators_are_refused_locally(op: str) -> None:
    with pytest.raises(ClientUsageError, match="unknown Autotask operator"):
        Condition(op, "status", 1)


def test_groups_are_and_or_only() -> None:
    with pytest.raises(ClientUsageError, match="group"):
        Condition("or", "x", 1)
    with pytest.raises(ClientUsageError):
        Group("not", (F.eq("a", 1),))  # type: ignore[arg-type]
    with pytest.raises(ClientUsageError, match="at least one"):
        F.or_()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Condition("exist", "x", 1), "takes no value"),
        (lambda: Condition("eq", "x"), "needs a value"),
        (lambda: Condition("in", "x", ()), "non-empty list"),
        (lambda: Condition("eq", "x", (1, 2)), "single value"),
        # A float is outside the declared type: the guard is for callers mypy does not check.
        (lambda: Condition("eq", "x", 1.5), "Decimal, not float"),  # type: ignore[arg-type]
        (lambda: Condition("eq", "x", datetime(2024, 1, 1)), "aware"),
        (lambda: Condition("eq", " ", 1), "field name"),
        (lambda: F.in_("sku", "ABC"), "not a string"),
        (lambda: F.in_("id", range(501)), "at most 500"),
    ],
)
def test_malformed_conditions(make: object, message: str) -> None:
    with pytest.raises(ClientUsageError, match=message):
        make()  # type: ignore[operator]


def test_wire_form() -> None:
    body = build_query(
        [
            F.eq("companyID", 5),
            F.or_(F.not_exist("endDate"), F.gte("endDate", date(2024, 10, 1))),
            F.udf_eq("Subscription ID", "abc"),
            F.in_("status", [1, 2]),
            F.lt("unitPrice", Decimal("7.10")),
        ],
        max_records=100,
        include_fields=["contractName"],
    )
    wire = decode_json(encode_json(body))
    assert wire == {
        "maxRecords": 100,
        "includeFields": ["id", "contractName"],
        "filter": [
            {"op": "eq", "field": "companyID", "value": 5},
            {"op": "or", "items": [
                {"op": "notExist", "field": "endDate"},
                {"op": "gte", "field": "endDate", "value": "2024-10-01T12:00:00Z"}]},
            {"op": "eq", "field": "Subscription ID", "udf": True, "value": "abc"},
            {"op": "in", "field": "status", "value": [1, 2]},
            {"op": "lt", "field": "unitPrice", "value": Decimal("7.10")},
        ],
    }  # fmt: skip
    assert b'"value":7.10' in encode_json(body)


def test_an_empty_filter_asks_for_everything_explicitly() -> None:
    assert build_query([])["filter"] == [{"op": "gte", "field": "id", "value": 0}]


def test_at_most_one_udf_per_query() -> None:
    build_query([F.udf_eq("A", "1"), F.or_(F.udf_eq("a", "2"), F.eq("x", 1))])  # same UDF
    with pytest.raises(ClientUsageError, match="one user-defined field"):
        build_query([F.udf_eq("A", "1"), F.or_(F.udf_eq("B", "2"))])


@pytest.mark.parametrize("max_records", [0, 501, -5])
def test_max_records_range(max_records: int) -> None:
    with pytest.raises(ClientUsageError, match="between 1 and 500"):
        build_query([], max_records=max_records)


def test_in_batches_dedupe_and_split() -> None:
    values = [f"sub-{i}" for i in range(450)] + ["sub-0", "sub-1"]
    chunks = list(batches(values, 200))
    assert [len(c) for c in chunks] == [200, 200, 50]
    assert sum(chunks, ()) == tuple(f"sub-{i}" for i in range(450))
    assert list(batches([], 200)) == []
    with pytest.raises(ClientUsageError):
        list(batches([1], 0))


def test_datetime_values_are_sent_in_utc() -> None:
    moment = datetime(2024, 10, 1, 12, 30, tzinfo=UTC)
    assert F.gt("lastModifiedDateTime", moment).to_wire()["value"] == moment
    assert b'"2024-10-01T12:30:00Z"' in encode_json(F.gt("x", moment).to_wire())

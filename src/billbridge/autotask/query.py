"""Autotask query filters, validated locally before anything is sent.

Autotask silently ignores a filter whose operator it does not know and returns unfiltered data
(see docs/autotask.md), so every operator is checked here: the 13 comparison operators and the
`and` / `or` groups. A query may use at most one user-defined field, `MaxRecords` is 1..500,
and long `in` lists are split into batches.

    F.eq("companyID", 5)
    F.in_("sku", ["A", "B"])
    F.udf_eq("Subscription ID", "4f1c...")
    F.or_(F.eq("status", 1), F.not_exist("endDate"))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, Literal, TypeAlias

from billbridge.autotask.errors import ClientUsageError

Scalar: TypeAlias = str | int | bool | Decimal | date | datetime
Value: TypeAlias = Scalar | tuple[Scalar, ...]

#: The comparison operators Autotask knows (its QueryModel); any other is silently ignored.
OPERATORS: Final = frozenset(
    {
        "eq",
        "noteq",
        "gt",
        "gte",
        "lt",
        "lte",
        "beginsWith",
        "endsWith",
        "contains",
        "exist",
        "notExist",
        "in",
        "notIn",
    }
)
GROUP_OPERATORS: Final = frozenset({"and", "or"})
_NO_VALUE: Final = frozenset({"exist", "notExist"})
_LIST_VALUE: Final = frozenset({"in", "notIn"})
MAX_RECORDS: Final = 500
DEFAULT_BATCH_SIZE: Final = 200
#: Autotask's OR-condition limit; an `in` list is kept well under it.
MAX_IN_VALUES: Final = 500
#: Sent when the caller gives no filter: several clients report an empty filter is refused.
MATCH_ALL: Final[dict[str, Any]] = {"op": "gte", "field": "id", "value": 0}


@dataclass(frozen=True, slots=True)
class Condition:
    """One comparison: `field op value`; with `udf=True`, `field` is the UDF's name."""

    op: str
    field: str
    value: Value | None = None
    udf: bool = False

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            hint = " (use an F.and_/F.or_ group)" if self.op in GROUP_OPERATORS else ""
            known = ", ".join(sorted(OPERATORS))
            raise ClientUsageError(f"unknown Autotask operator {self.op!r}{hint}; known: {known}")
        if not self.field or not self.field.strip():
            raise ClientUsageError("a filter needs a field name")
        if self.op in _NO_VALUE:
            if self.value is not None:
                raise ClientUsageError(f"operator {self.op!r} takes no value")
        elif self.op in _LIST_VALUE:
            if not isinstance(self.value, tuple) or not self.value:
                raise ClientUsageError(f"operator {self.op!r} needs a non-empty list of values")
            if len(self.value) > MAX_IN_VALUES:
                raise ClientUsageError(
                    f"operator {self.op!r} takes at most {MAX_IN_VALUES} values; "
                    "use AutotaskClient.query_in to batch"
                )
            for item in self.value:
                _check_scalar(self.op, item)
        else:
            if isinstance(self.value, tuple):
                raise ClientUsageError(f"operator {self.op!r} takes a single value, not a list")
            _check_scalar(self.op, self.value)

    def to_wire(self) -> dict[str, Any]:
        """The JSON filter object Autotask expects."""
        wire: dict[str, Any] = {"op": self.op, "field": self.field}
        if self.udf:
            wire["udf"] = True
        if self.op in _LIST_VALUE:
            assert isinstance(self.value, tuple)
            wire["value"] = list(self.value)
        elif self.op not in _NO_VALUE:
            wire["value"] = self.value
        return wire


@dataclass(frozen=True, slots=True)
class Group:
    """`and` / `or` over nested filters."""

    op: Literal["and", "or"]
    items: tuple[Filter, ...]

    def __post_init__(self) -> None:
        if self.op not in GROUP_OPERATORS:
            raise ClientUsageError(f"a filter group is 'and' or 'or', not {self.op!r}")
        if not self.items:
            raise ClientUsageError(f"an {self.op!r} group needs at least one filter")
        for item in self.items:
            if not isinstance(item, Condition | Group):
                raise ClientUsageError(f"not a filter: {item!r}")

    def to_wire(self) -> dict[str, Any]:
        """The JSON group object: `{"op": "or", "items": [...]}`."""
        return {"op": self.op, "items": [item.to_wire() for item in self.items]}


Filter: TypeAlias = Condition | Group


def _check_scalar(op: str, value: object) -> None:
    if value is None:
        raise ClientUsageError(
            f"operator {op!r} needs a value; use 'exist' / 'notExist' to test for empty fields"
        )
    if isinstance(value, float):
        raise ClientUsageError("use Decimal, not float, in filters")
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ClientUsageError("use an aware (UTC) datetime in filters")
    if not isinstance(value, str | int | Decimal | date):
        raise ClientUsageError(f"unsupported filter value type {type(value).__name__}")


def _values(values: Iterable[object]) -> tuple[Scalar, ...]:
    if isinstance(values, str | bytes):
        raise ClientUsageError("give 'in' a list of values, not a string")
    result: list[Scalar] = []
    for value in values:
        _check_scalar("in", value)
        assert isinstance(value, str | int | Decimal | date)
        result.append(value)
    return tuple(result)


class F:
    """Typed constructors of filters, one per Autotask operator."""

    @staticmethod
    def eq(field: str, value: Scalar) -> Condition:
        return Condition("eq", field, value)

    @staticmethod
    def noteq(field: str, value: Scalar) -> Condition:
        return Condition("noteq", field, value)

    @staticmethod
    def gt(field: str, value: Scalar) -> Condition:
        return Condition("gt", field, value)

    @staticmethod
    def gte(field: str, value: Scalar) -> Condition:
        return Condition("gte", field, value)

    @staticmethod
    def lt(field: str, value: Scalar) -> Condition:
        return Condition("lt", field, value)

    @staticmethod
    def lte(field: str, value: Scalar) -> Condition:
        return Condition("lte", field, value)

    @staticmethod
    def begins_with(field: str, value: str) -> Condition:
        return Condition("beginsWith", field, value)

    @staticmethod
    def ends_with(field: str, value: str) -> Condition:
        return Condition("endsWith", field, value)

    @staticmethod
    def contains(field: str, value: str) -> Condition:
        return Condition("contains", field, value)

    @staticmethod
    def exist(field: str) -> Condition:
        return Condition("exist", field)

    @staticmethod
    def not_exist(field: str) -> Condition:
        return Condition("notExist", field)

    @staticmethod
    def in_(field: str, values: Iterable[Scalar]) -> Condition:
        return Condition("in", field, _values(values))

    @staticmethod
    def not_in(field: str, values: Iterable[Scalar]) -> Condition:
        return Condition("notIn", field, _values(values))

    @staticmethod
    def udf(op: str, name: str, value: Value | None = None) -> Condition:
        """Any operator on a user-defined field, e.g. `F.udf("in", "Subscription ID", (...))`."""
        if op in _LIST_VALUE and value is not None and not isinstance(value, tuple):
            raise ClientUsageError(f"operator {op!r} needs a tuple of values")
        return Condition(op, name, value, udf=True)

    @staticmethod
    def udf_eq(name: str, value: Scalar) -> Condition:
        return Condition("eq", name, value, udf=True)

    @staticmethod
    def udf_in(name: str, values: Iterable[Scalar]) -> Condition:
        return Condition("in", name, _values(values), udf=True)

    @staticmethod
    def and_(*items: Filter) -> Group:
        return Group("and", tuple(items))

    @staticmethod
    def or_(*items: Filter) -> Group:
        return Group("or", tuple(items))


def _udf_names(filters: Iterable[Filter]) -> set[str]:
    names: set[str] = set()
    for item in filters:
        if isinstance(item, Group):
            names |= _udf_names(item.items)
        elif item.udf:
            names.add(item.field.casefold())
    return names


def build_query(
    filters: Sequence[Filter],
    *,
    max_records: int | None = MAX_RECORDS,
    include_fields: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Validate `filters` as one query and return the body of `POST /{Entity}/query`."""
    for item in filters:
        if not isinstance(item, Condition | Group):
            raise ClientUsageError(f"not a filter: {item!r}")
    if len(_udf_names(filters)) > 1:
        raise ClientUsageError("Autotask allows only one user-defined field per query")
    body: dict[str, Any] = {}
    if max_records is not None:
        if isinstance(max_records, bool) or not 1 <= max_records <= MAX_RECORDS:
            raise ClientUsageError(f"max_records must be between 1 and {MAX_RECORDS}")
        body["maxRecords"] = max_records
    if include_fields is not None:
        fields = list(dict.fromkeys(include_fields))
        if not any(field.casefold() == "id" for field in fields):
            # Autotask needs the id to page past 500 results (IncludeFields).
            fields.insert(0, "id")
        body["includeFields"] = fields
    body["filter"] = [item.to_wire() for item in filters] or [dict(MATCH_ALL)]
    return body


def batches(
    values: Iterable[Scalar], size: int = DEFAULT_BATCH_SIZE
) -> Iterator[tuple[Scalar, ...]]:
    """Distinct values (first occurrence kept) in chunks of at most `size`."""
    if isinstance(size, bool) or not 1 <= size <= MAX_IN_VALUES:
        raise ClientUsageError(f"batch size must be between 1 and {MAX_IN_VALUES}")
    chunk: list[Scalar] = []
    seen: set[object] = set()
    for value in _values(values):
        key = (type(value).__name__, value)
        if key in seen:
            continue
        seen.add(key)
        chunk.append(value)
        if len(chunk) == size:
            yield tuple(chunk)
            chunk = []
    if chunk:
        yield tuple(chunk)

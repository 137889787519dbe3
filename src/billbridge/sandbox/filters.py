"""Autotask's query grammar, evaluated the way Autotask does (its REST help on
queries and the published swagger's QueryModel; see docs/sandbox.md).

- keys of the query and of each filter are case-insensitive (`filter` / `Filter`,
  `MaxRecords` / `maxRecords`, `IncludeFields`);
- the 13 operators, plus `and` / `or` groups with `items`; the top level is AND-ed;
- **an unknown operator is silently ignored**, which returns unfiltered data: the trap a client
  must avoid by validating operators itself;
- an unknown field is `Unable to find {field} in the {Entity} Entity`; more than one UDF per
  query, or a non-boolean value for a boolean field, is an error;
- string comparisons ignore case (SQL Server's default collation, `SQL_Latin1_General_CP1_CI_AS`)
  in every operator, UDF filters included, and equality ignores trailing spaces as SQL Server's
  does (`'abc' = 'abc '`); a null field matches only `notExist` (SQL's three-valued logic);
- a date-only field compares as the instant it reads back as (its day's midnight in the zone
  the tenant read it in), the filter's value read as a written value is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from billbridge.sandbox.errors import ApiError
from billbridge.sandbox.schema import BOOLEAN, STRING, EntityDef
from billbridge.sandbox.wire import coerce

Record = dict[str, Any]
Predicate = Callable[[Record], bool]
DayInstant = Callable[[date], datetime]

MAX_RECORDS = 500
OPERATORS = frozenset(
    {
        "eq",
        "noteq",
        "gt",
        "gte",
        "lt",
        "lte",
        "beginswith",
        "endswith",
        "contains",
        "exist",
        "notexist",
        "in",
        "notin",
    }
)


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """A parsed query: its filters, page size and included fields."""

    filters: list[Any]
    page_size: int
    include_fields: list[str] | None
    raw: dict[str, Any]


def _ci(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).casefold(): v for k, v in mapping.items()}


def parse_query(raw: object) -> QuerySpec:
    """Parse a query body or `search` parameter (any casing of its keys)."""
    if raw is None:
        raw = {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raise ApiError.autotask("The search parameter is not valid JSON.") from None
    if not isinstance(raw, dict):
        raise ApiError.autotask("The query is not a JSON object.")
    keys = _ci(raw)
    filters = keys.get("filter")
    if filters is None:
        filters = []
    if not isinstance(filters, list):
        filters = [filters]
    page_size = MAX_RECORDS
    max_records = keys.get("maxrecords")
    if max_records is not None:
        try:
            bound = coerce("integer", max_records, "MaxRecords")
        except ValueError as exc:
            raise ApiError.autotask(str(exc)) from None
        page_size = bound if isinstance(bound, int) else MAX_RECORDS
        if not 1 <= page_size <= MAX_RECORDS:
            raise ApiError.autotask("maxCountOfRecordsToReturn must be between 1 and 500")
    include = keys.get("includefields")
    include_fields = None
    if isinstance(include, list) and include:
        include_fields = [str(name) for name in include]
    return QuerySpec(filters, page_size, include_fields, raw)


def unknown_field(name: object, definition: EntityDef) -> ApiError:
    return ApiError.autotask(f"Unable to find {name} in the {definition.internal} Entity")


def compile_filters(
    definition: EntityDef, items: list[Any], day_instant: DayInstant | None = None
) -> Predicate:
    """One predicate for the AND of `items`; raises `ApiError` like Autotask would.

    `day_instant` gives the instant a date-only field's kept day compares as (default: its
    midnight in UTC)."""
    udfs: set[str] = set()
    instant = day_instant or _utc_midnight
    predicates = [p for p in (_compile(definition, item, udfs, instant) for item in items) if p]
    if len(udfs) > 1:
        raise ApiError.autotask("You can only query by one user-defined field at a time.")
    return lambda record: all(p(record) for p in predicates)


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _compile(
    definition: EntityDef, item: object, udfs: set[str], day_instant: DayInstant
) -> Predicate | None:
    if not isinstance(item, dict):
        raise ApiError.autotask("A filter must be a JSON object.")
    keys = _ci(item)
    op = str(keys.get("op") or "").casefold()
    if op in ("and", "or"):
        children_raw = keys.get("items") or []
        if not isinstance(children_raw, list):
            raise ApiError.autotask(f"The items of an '{op}' filter must be a list.")
        children = [
            p for p in (_compile(definition, c, udfs, day_instant) for c in children_raw) if p
        ]
        if not children:
            return None
        if op == "and":
            return lambda record: all(p(record) for p in children)
        return lambda record: any(p(record) for p in children)
    if op not in OPERATORS:
        return None  # Autotask ignores what it does not know, silently.
    name = keys.get("field")
    is_udf = keys.get("udf") in (True, "true", "True")
    getter: Callable[[Record], Any]
    if is_udf:
        udf = definition.udf(str(name or ""))
        if udf is None:
            raise unknown_field(name, definition)
        udfs.add(udf.name)
        data_type = STRING
        udf_name = udf.name

        def getter(record: Record) -> Any:
            return (record.get("@udf") or {}).get(udf_name)

        field_name = udf.name
    else:
        field = definition.field(str(name or ""))
        if field is None:
            raise unknown_field(name, definition)
        data_type = field.type
        field_name = field.name

        if field.date_only:

            def getter(record: Record) -> Any:
                day = record.get(field_name)
                return day_instant(day) if isinstance(day, date) else day

        else:

            def getter(record: Record) -> Any:
                return record.get(field_name)

    if op in ("exist", "notexist"):
        wanted = op == "exist"
        return lambda record: _present(getter(record)) == wanted
    raw_value = keys.get("value")
    if op in ("in", "notin"):
        values = raw_value if isinstance(raw_value, list) else [raw_value]
        converted = {_key(_value(data_type, v, field_name)) for v in values}
        if op == "in":
            return lambda record: _key(getter(record)) in converted
        return lambda record: (v := getter(record)) is not None and _key(v) not in converted
    target = _value(data_type, raw_value, field_name)
    return _comparison(op, getter, target)


def _comparison(op: str, getter: Callable[[Record], Any], target: Any) -> Predicate:
    if target is None:
        return lambda record: False
    key = _key(target)
    text = _like_text(target)

    def test(record: Record) -> bool:
        value = getter(record)
        if value is None:
            return False
        left = _key(value)
        try:
            if op == "eq":
                return bool(left == key)
            if op == "noteq":
                return bool(left != key)
            if op == "gt":
                return bool(left > key)
            if op == "gte":
                return bool(left >= key)
            if op == "lt":
                return bool(left < key)
            if op == "lte":
                return bool(left <= key)
        except TypeError:
            return False
        subject = _like_text(value)
        if op == "beginswith":
            return subject.startswith(text)
        if op == "endswith":
            return subject.endswith(text)
        return text in subject  # contains

    return test


def _like_text(value: Any) -> str:
    """What LIKE patterns match against: without case, trailing spaces kept."""
    return str(value).casefold()


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _key(value: Any) -> Any:
    """What a value compares as: strings without case and without trailing spaces."""
    return value.rstrip(" ").casefold() if isinstance(value, str) else value


def _value(data_type: str, value: object, field_name: str) -> Any:
    if data_type == BOOLEAN and not (
        isinstance(value, bool)
        or (isinstance(value, str) and value.strip().lower() in ("true", "false"))
    ):
        raise ApiError.autotask(
            f"The value '{value}' is not valid for the boolean field {field_name}: "
            "use true or false."
        )
    if value is None:
        return None
    try:
        return coerce(data_type, value, field_name)
    except ValueError as exc:
        raise ApiError.autotask(str(exc)) from None

"""Entity metadata: `entityInformation`, `fields`, `userDefinedFields`, cached per client.

Picklists vary per tenant, so labels are resolved at run time:
`picklist_value("Contracts", "contractType", "Recurring Service")` is 7 on a tenant where
that is the value. Picklist values arrive as strings; integer fields are returned as `int`.
Before a write, every picklist field in the body is checked against the active values.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from billbridge.autotask.errors import PicklistError, ProtocolError

INTEGER_TYPES = frozenset({"integer", "long", "short", "int", "int16", "int32", "int64", "byte"})


@dataclass(frozen=True, slots=True)
class PicklistValue:
    """One entry of a picklist."""

    value: str
    label: str
    is_active: bool = True
    is_default: bool = False
    sort_order: int = 0
    parent_value: str = ""
    is_system: bool = False


def _resolve(
    where: str,
    data_type: str,
    values: tuple[PicklistValue, ...],
    wanted: object,
    *,
    labels: bool = True,
) -> int | str:
    integer = data_type.lower() in INTEGER_TYPES
    if isinstance(wanted, bool):
        raise PicklistError(f"{where}: a boolean is not a picklist value")
    text = str(wanted).strip()
    by_value = [v for v in values if v.value == text]
    if not by_value and labels:
        folded = text.casefold()
        by_value = [v for v in values if v.label.strip().casefold() == folded]
    active = [v for v in by_value if v.is_active]
    if len(active) > 1:
        raise PicklistError(f"{where}: label {text!r} is ambiguous ({len(active)} values)")
    if not active:
        if by_value:
            raise PicklistError(f"{where}: {text!r} is inactive")
        known = ", ".join(f"{v.value}={v.label}" for v in values if v.is_active)
        raise PicklistError(f"{where}: unknown value {text!r}; known: {known}")
    chosen = active[0].value
    if integer:
        try:
            return int(chosen)
        except ValueError as exc:
            raise ProtocolError(f"{where}: picklist value {chosen!r} is not an integer") from exc
    return chosen


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One entry of `{Entity}/entityInformation/fields`."""

    name: str
    data_type: str
    length: int = 0
    is_required: bool = False
    is_read_only: bool = False
    is_queryable: bool = True
    is_reference: bool = False
    reference_entity_type: str = ""
    is_picklist: bool = False
    picklist_values: tuple[PicklistValue, ...] = ()
    picklist_parent_value_field: str = ""

    def picklist_value(self, label_or_value: str | int) -> int | str:
        """The value to send for a label (or a value, checked), typed as the field is."""
        if not self.is_picklist:
            raise PicklistError(f"{self.name} is not a picklist field")
        return _resolve(self.name, self.data_type, self.picklist_values, label_or_value)


@dataclass(frozen=True, slots=True)
class UdfInfo:
    """One entry of `{Entity}/entityInformation/userDefinedFields`."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    description: str = ""
    is_required: bool = False
    is_read_only: bool = False
    is_queryable: bool = True
    is_picklist: bool = False
    picklist_values: tuple[PicklistValue, ...] = ()
    default_value: str | None = None


@dataclass(frozen=True, slots=True)
class EntityInfo:
    """`{Entity}/entityInformation`: what the API user may do with the entity."""

    name: str
    can_create: bool
    can_update: bool
    can_query: bool
    can_delete: bool
    has_user_defined_fields: bool


def _ci(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in raw.items()}


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _int(value: object) -> int:
    try:
        return int(str(value)) if value not in (None, "") else 0
    except ValueError:
        return 0


def _str(value: object) -> str:
    return "" if value is None else str(value)


def _picklist(raw: object) -> tuple[PicklistValue, ...]:
    if not isinstance(raw, list):
        return ()
    values = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        e = _ci(entry)
        values.append(
            PicklistValue(
                value=_str(e.get("value")),
                label=_str(e.get("label")),
                is_active=_bool(e.get("isactive", True)),
                is_default=_bool(e.get("isdefaultvalue")),
                sort_order=_int(e.get("sortorder")),
                parent_value=_str(e.get("parentvalue")),
                is_system=_bool(e.get("issystem")),
            )
        )
    return tuple(values)


def _field_entries(body: object, route: str) -> list[dict[str, Any]]:
    """The entries of an answer's `fields` list, keys folded to lower case."""
    raw = _ci(body).get("fields") if isinstance(body, Mapping) else None
    if not isinstance(raw, list):
        raise ProtocolError(f"{route} answered without a fields list")
    return [_ci(entry) for entry in raw if isinstance(entry, Mapping)]


def parse_fields(body: object) -> list[FieldInfo]:
    """The `fields` list of a `.../entityInformation/fields` answer."""
    result = []
    for e in _field_entries(body, "entityInformation/fields"):
        result.append(
            FieldInfo(
                name=_str(e.get("name")),
                data_type=_str(e.get("datatype")),
                length=_int(e.get("length")),
                is_required=_bool(e.get("isrequired")),
                is_read_only=_bool(e.get("isreadonly")),
                is_queryable=_bool(e.get("isqueryable", True)),
                is_reference=_bool(e.get("isreference")),
                reference_entity_type=_str(e.get("referenceentitytype")),
                is_picklist=_bool(e.get("ispicklist")),
                picklist_values=_picklist(e.get("picklistvalues")),
                picklist_parent_value_field=_str(e.get("picklistparentvaluefield")),
            )
        )
    return result


def parse_udfs(body: object) -> list[UdfInfo]:
    """The `fields` list of a `.../entityInformation/userDefinedFields` answer."""
    result = []
    for e in _field_entries(body, "entityInformation/userDefinedFields"):
        default = e.get("defaultvalue")
        result.append(
            UdfInfo(
                name=_str(e.get("name")),
                type=_str(e.get("type")),
                label=_str(e.get("label")),
                length=_int(e.get("length")),
                description=_str(e.get("description")),
                is_required=_bool(e.get("isrequired")),
                is_read_only=_bool(e.get("isreadonly")),
                is_queryable=_bool(e.get("isqueryable", True)),
                is_picklist=_bool(e.get("ispicklist")),
                picklist_values=_picklist(e.get("picklistvalues")),
                default_value=None if default is None else str(default),
            )
        )
    return result


def parse_entity_info(body: object) -> EntityInfo:
    """The `info` object of a `.../entityInformation` answer."""
    raw = _ci(body).get("info") if isinstance(body, Mapping) else None
    if not isinstance(raw, Mapping):
        raise ProtocolError("entityInformation answered without an info object")
    e = _ci(raw)
    return EntityInfo(
        name=_str(e.get("name")),
        can_create=_bool(e.get("cancreate")),
        can_update=_bool(e.get("canupdate")),
        can_query=_bool(e.get("canquery")),
        can_delete=_bool(e.get("candelete")),
        has_user_defined_fields=_bool(e.get("hasuserdefinedfields")),
    )


class MetadataCache:
    """Fetches each entity's metadata once per client; thread-safe."""

    def __init__(self, fetch_json: Callable[[str], Any]) -> None:
        self._fetch_json = fetch_json
        self._lock = threading.Lock()
        self._fields: dict[str, list[FieldInfo]] = {}
        self._udfs: dict[str, list[UdfInfo]] = {}
        self._info: dict[str, EntityInfo] = {}

    def entity_info(self, entity: str) -> EntityInfo:
        key = entity.lower()
        with self._lock:
            if key in self._info:
                return self._info[key]
        info = parse_entity_info(self._fetch_json(f"{entity}/entityInformation"))
        with self._lock:
            self._info[key] = info
        return info

    def fields(self, entity: str) -> list[FieldInfo]:
        key = entity.lower()
        with self._lock:
            if key in self._fields:
                return list(self._fields[key])
        fields = parse_fields(self._fetch_json(f"{entity}/entityInformation/fields"))
        with self._lock:
            self._fields[key] = fields
        return list(fields)

    def udfs(self, entity: str) -> list[UdfInfo]:
        key = entity.lower()
        with self._lock:
            if key in self._udfs:
                return list(self._udfs[key])
        udfs = parse_udfs(self._fetch_json(f"{entity}/entityInformation/userDefinedFields"))
        with self._lock:
            self._udfs[key] = udfs
        return list(udfs)

    def field(self, entity: str, name: str) -> FieldInfo:
        folded = name.casefold()
        for info in self.fields(entity):
            if info.name.casefold() == folded:
                return info
        raise PicklistError(f"{entity} has no field {name!r}")

    def picklist_value(self, entity: str, field: str, label_or_value: str | int) -> int | str:
        info = self.field(entity, field)
        if not info.is_picklist:
            raise PicklistError(f"{entity}.{info.name} is not a picklist field")
        return _resolve(
            f"{entity}.{info.name}", info.data_type, info.picklist_values, label_or_value
        )

    def udf_picklist_value(self, entity: str, udf: str, label_or_value: str | int) -> str:
        folded = udf.casefold()
        for info in self.udfs(entity):
            if info.name.casefold() == folded:
                if not info.is_picklist:
                    raise PicklistError(f"{entity} UDF {info.name!r} is not a picklist")
                return str(
                    _resolve(
                        f"{entity}.{info.name}", "string", info.picklist_values, label_or_value
                    )
                )
        raise PicklistError(f"{entity} has no user-defined field {udf!r}")

    def check_picklists(self, entity: str, body: Mapping[str, Any]) -> None:
        """Raise `PicklistError` naming every picklist value in `body` that is not active."""
        by_name = {f.name.casefold(): f for f in self.fields(entity)}
        problems: list[str] = []
        for key, value in body.items():
            info = by_name.get(str(key).casefold())
            if info is None or not info.is_picklist or value is None:
                continue
            try:
                _resolve(
                    f"{entity}.{info.name}",
                    info.data_type,
                    info.picklist_values,
                    value,
                    labels=False,
                )
            except PicklistError as exc:
                problems.append(str(exc))
        pairs = body.get("userDefinedFields")
        if isinstance(pairs, list) and pairs:
            udfs = {u.name.casefold(): u for u in self.udfs(entity)}
            for pair in pairs:
                if not isinstance(pair, Mapping):
                    continue
                udf = udfs.get(str(pair.get("name", "")).casefold())
                value = pair.get("value")
                if udf is None or not udf.is_picklist or value is None:
                    continue
                try:
                    _resolve(
                        f"{entity}.{udf.name}", "string", udf.picklist_values, value, labels=False
                    )
                except PicklistError as exc:
                    problems.append(str(exc))
        if problems:
            raise PicklistError("; ".join(problems))

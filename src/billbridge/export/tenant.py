"""What an export needs to know about the tenant, resolved once per run.

Picklist ids, required fields and the billing code vary per tenant, so the settings name them by
label (or id) and they are looked up in Autotask's metadata here, with a clear error naming the
setting when they do not fit. Everything is read in one round of parallel requests, before any
write: a tenant that does not fit the settings stops the export with nothing written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Any

from billbridge.autotask import (
    AutotaskClient,
    F,
    FieldInfo,
    PicklistError,
    UdfInfo,
)
from billbridge.config import FieldSetting, Settings
from billbridge.export.errors import ExportSetupError

WireValue = bool | int | str
"""A value sent as is in a create body (picklist values already resolved)."""

#: The fields billbridge fills itself when it creates each entity (the create bodies of
#: `export/records.py` plus what this context adds). A field the tenant requires that is in
#: neither this list nor the settings table stops the export before any write.
CONTRACT_SENT: frozenset[str] = frozenset(
    {
        "companyID",
        "contractName",
        "description",
        "startDate",
        "endDate",
        "contractType",
        "status",
        "contractPeriodType",
        "timeReportingRequiresStartAndStopTimes",
    }
)
CHARGE_SENT: frozenset[str] = frozenset(
    {
        "contractID",
        "name",
        "description",
        "notes",
        "internalPurchaseOrderNumber",
        "datePurchased",
        "unitQuantity",
        "unitCost",
        "unitPrice",
        "productID",
        "isBillableToCompany",
        "chargeType",
        "status",
    }
)
PRODUCT_SENT: frozenset[str] = frozenset(
    {
        # Not `description`: a product gets one only from a price list that has one, so a
        # tenant that requires it needs `[export.product_fields] description = ...`.
        "name",
        "sku",
        "unitCost",
        "unitPrice",
        "productBillingCodeID",
        "isActive",
        "isSerialized",
        "doesNotRequireProcurement",
    }
)
#: Fields billbridge picks a tenant value for, which a settings table may choose instead.
_OVERRIDABLE: dict[str, frozenset[str]] = {
    "Contracts": frozenset({"status", "timeReportingRequiresStartAndStopTimes"}),
    "ContractCharges": frozenset({"chargeType", "status"}),
    "Products": frozenset(),
}
_SENT: dict[str, frozenset[str]] = {
    "Contracts": CONTRACT_SENT,
    "ContractCharges": CHARGE_SENT,
    "Products": PRODUCT_SENT,
}
_TABLE: dict[str, str] = {
    "Contracts": "export.contract_fields",
    "ContractCharges": "export.charge_fields",
    "Products": "export.product_fields",
}
_EMPTY: Mapping[str, Any] = MappingProxyType({})


class TenantMisfitError(ExportSetupError):
    """The tenant does not fit the settings; `problems` names each misfit and its setting."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


_COST_SAMPLE = 100


@dataclass(frozen=True, slots=True)
class TenantContext:
    """The tenant's answers to everything an export sends but the domain does not decide."""

    udf_name: str
    contract_type: int | str
    contract_status_active: int | str
    time_reporting: int | str | None
    charge_type: int | str | None
    charge_status: int | str | None
    billing_code_id: int
    billing_code_name: str
    contract_period_type: int | str | None = None
    """`contractPeriodType` of new contracts (`export.contract_period_type`); None only when
    the tenant's contracts have no such field."""
    contract_fields: Mapping[str, WireValue] = field(default_factory=lambda: _EMPTY)
    """`[export.contract_fields]`, resolved: sent on create (they win over billbridge's picks
    of `status` and `timeReportingRequiresStartAndStopTimes`)."""
    contract_udfs: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    """Contract UDFs from `[export.contract_fields]` (beside the subscription UDF)."""
    charge_fields: Mapping[str, WireValue] = field(default_factory=lambda: _EMPTY)
    product_fields: Mapping[str, WireValue] = field(default_factory=lambda: _EMPTY)
    product_udfs: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    procurement_field: bool = False
    """Products have `doesNotRequireProcurement`: send it true, so charges reach Approve & Post
    instead of waiting in fulfilment when Procurement is on."""
    cost_visible: bool = True
    """Whether the API user sees `unitCost` (products and charges). When False, Autotask reads
    it empty and ignores writes to it: never plan an update of a cost."""
    cost_evidence: str = field(default="", compare=False)
    """Why `cost_visible` is what it is, for `doctor`."""
    unit_decimals: int = 4
    """Decimals the tenant keeps for unit money fields (`autotask.unit_decimals`)."""
    udf_length: int = 0
    """Length of the subscription UDF (0: not said by the tenant)."""
    field_lengths: Mapping[str, Mapping[str, int]] = field(default_factory=lambda: _EMPTY)
    """Entity -> text field -> the most characters the tenant keeps (for bookkeeping fields)."""
    cached_at: datetime | None = field(default=None, compare=False)
    """When the metadata this context comes from was read, if it came from the state store's
    cache (`export/tenant_cache.py`); None when it was read in this run."""

    @property
    def unit_quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.unit_decimals)

    def kept(self, value: Decimal) -> Decimal:
        """`value` as the tenant keeps a unit money field (half up, at `unit_decimals`)."""
        return value.quantize(self.unit_quantum, rounding=ROUND_HALF_UP)

    def contract_extras(self) -> dict[str, Any]:
        """What a contract create sends beside the domain's fields and the subscription UDF."""
        body: dict[str, Any] = {
            "contractType": self.contract_type,
            "status": self.contract_status_active,
        }
        if self.contract_period_type is not None:
            body["contractPeriodType"] = self.contract_period_type
        if self.time_reporting is not None:
            body["timeReportingRequiresStartAndStopTimes"] = self.time_reporting
        body.update(self.contract_fields)
        return body

    def contract_udf_list(self, subscription_id: str) -> list[dict[str, str]]:
        """`userDefinedFields` of a new contract: the subscription id and the table's UDFs."""
        pairs = [{"name": self.udf_name, "value": subscription_id}]
        pairs.extend({"name": k, "value": v} for k, v in self.contract_udfs.items())
        return pairs

    def charge_extras(self) -> dict[str, Any]:
        """What a charge create sends beside the domain's fields, the contract and product."""
        body: dict[str, Any] = {}
        if self.charge_type is not None:
            body["chargeType"] = self.charge_type
        if self.charge_status is not None:
            body["status"] = self.charge_status
        body.update(self.charge_fields)
        return body

    def product_extras(self) -> dict[str, Any]:
        """What a product create sends beside the domain's fields (UDFs included if any)."""
        body: dict[str, Any] = {}
        if self.procurement_field:
            body["doesNotRequireProcurement"] = True
        body.update(self.product_fields)
        if self.product_udfs:
            body["userDefinedFields"] = [
                {"name": k, "value": v} for k, v in self.product_udfs.items()
            ]
        return body


@dataclass(frozen=True, slots=True)
class TenantMetadata:
    """Everything `resolve_tenant` reads, in one round of parallel requests."""

    contract_fields: Mapping[str, FieldInfo]
    charge_fields: Mapping[str, FieldInfo]
    product_fields: Mapping[str, FieldInfo]
    billing_code_fields: Mapping[str, FieldInfo]
    contract_udfs: Sequence[UdfInfo]
    product_udfs: Sequence[UdfInfo]
    billing_codes: Sequence[dict[str, Any]]
    product_sample: Sequence[dict[str, Any]]
    charge_sample: Sequence[dict[str, Any]] = ()

    def fields_of(self, entity: str) -> Mapping[str, FieldInfo]:
        return {
            "Contracts": self.contract_fields,
            "ContractCharges": self.charge_fields,
            "Products": self.product_fields,
        }[entity]

    def udfs_of(self, entity: str) -> Sequence[UdfInfo]:
        return {"Contracts": self.contract_udfs, "Products": self.product_udfs}.get(entity, ())


def read_metadata(client: AutotaskClient, billing_code: str) -> TenantMetadata:
    """Read the tenant's metadata in parallel (one round trip instead of eight)."""

    def by_name(entity: str) -> Callable[[], dict[str, FieldInfo]]:
        return lambda: {f.name: f for f in client.fields(entity)}

    def codes() -> list[dict[str, Any]]:
        wanted = billing_code.strip()
        if wanted.isdigit():
            code = client.get("BillingCodes", int(wanted))
            return [code] if code else []
        return list(client.query("BillingCodes", [F.eq("name", wanted)]))

    def sample(entity: str) -> list[dict[str, Any]]:
        found = client.query(entity, include_fields=["id", "unitCost"], max_records=_COST_SAMPLE)
        page: list[dict[str, Any]] = []
        for record in found:
            page.append(record)
            if len(page) >= _COST_SAMPLE:
                break
        return page

    client.zone()  # every request needs it: once, before they start together
    # (The first of them also has the hourly threshold read, beside it: see the governor.)
    with ThreadPoolExecutor(max_workers=9, thread_name_prefix="tenant") as pool:
        contract = pool.submit(by_name("Contracts"))
        charge = pool.submit(by_name("ContractCharges"))
        product = pool.submit(by_name("Products"))
        code_fields = pool.submit(by_name("BillingCodes"))
        contract_udfs = pool.submit(client.udfs, "Contracts")
        product_udfs = pool.submit(client.udfs, "Products")
        billing_codes = pool.submit(codes) if billing_code.strip() else None
        products = pool.submit(sample, "Products")
        charges = pool.submit(sample, "ContractCharges")
        return TenantMetadata(
            contract_fields=contract.result(),
            charge_fields=charge.result(),
            product_fields=product.result(),
            billing_code_fields=code_fields.result(),
            contract_udfs=contract_udfs.result(),
            product_udfs=product_udfs.result(),
            billing_codes=billing_codes.result() if billing_codes else [],
            product_sample=products.result(),
            charge_sample=charges.result(),
        )


def resolve_tenant(client: AutotaskClient, settings: Settings) -> TenantContext:
    """Resolve the tenant-specific values, or raise `ExportSetupError` saying what to fix.

    Autotask errors (authentication, an outage) propagate with their own kind: only a tenant
    that does not fit the settings is an `ExportSetupError`.
    """
    meta = read_metadata(client, billing_code_setting(settings))
    return context_from(meta, settings)


def billing_code_setting(settings: Settings) -> str:
    """`export.product_billing_code`, or `ExportSetupError` when it is not set."""
    code = settings.export.product_billing_code
    if not code:
        raise ExportSetupError(
            "export.product_billing_code: is not set; name the material billing code products get"
        )
    return code


def context_from(meta: TenantMetadata, settings: Settings) -> TenantContext:
    """The context of a tenant whose metadata is `meta`; every misfit named at once."""
    export = settings.export
    problems: list[str] = []
    udf_name, udf_length = find_udf(meta.contract_udfs, settings.autotask.subscription_udf)
    if udf_name is None:
        problems.append(
            f"autotask.subscription_udf: Autotask has no contract user-defined field"
            f" {settings.autotask.subscription_udf!r}; create it (Admin > Features & Settings >"
            " Contracts > user-defined fields) or name the existing one"
        )
    contract_type = _picklist(
        meta.contract_fields, "Contracts", "contractType", export.contract_type,
        "export.contract_type", problems,
    )  # fmt: skip
    period_type: int | str | None = None
    if "contractPeriodType" in meta.contract_fields:
        period_type = _picklist(
            meta.contract_fields, "Contracts", "contractPeriodType", export.contract_period_type,
            "export.contract_period_type", problems,
        )  # fmt: skip
    tables: dict[str, tuple[dict[str, WireValue], dict[str, str]]] = {}
    for entity, table in (
        ("Contracts", export.contract_fields),
        ("ContractCharges", export.charge_fields),
        ("Products", export.product_fields),
    ):
        tables[entity] = _resolve_table(meta, entity, table, problems)
        subscription = [settings.autotask.subscription_udf] if entity == "Contracts" else []
        problems.extend(_unfilled(meta, entity, table, subscription))
    billing_code = _billing_code(meta, export.product_billing_code or "", problems)
    if problems:
        raise TenantMisfitError(problems)
    assert udf_name is not None and contract_type is not None and billing_code is not None
    cost_visible, evidence = cost_visibility(meta)
    return TenantContext(
        udf_name=udf_name,
        contract_type=contract_type,
        contract_status_active=_preferred(
            meta.contract_fields.get("status"), ("Active", "In Effect"), "1"
        )
        or 1,
        time_reporting=_preferred(
            meta.contract_fields.get("timeReportingRequiresStartAndStopTimes"), ("No",)
        ),
        charge_type=_preferred(meta.charge_fields.get("chargeType"), ("Operational",)),
        charge_status=_preferred(meta.charge_fields.get("status"), (), only_if_required=True),
        billing_code_id=billing_code[0],
        billing_code_name=billing_code[1],
        contract_period_type=period_type,
        contract_fields=MappingProxyType(tables["Contracts"][0]),
        contract_udfs=MappingProxyType(tables["Contracts"][1]),
        charge_fields=MappingProxyType(tables["ContractCharges"][0]),
        product_fields=MappingProxyType(tables["Products"][0]),
        product_udfs=MappingProxyType(tables["Products"][1]),
        procurement_field="doesNotRequireProcurement" in meta.product_fields,
        cost_visible=cost_visible,
        cost_evidence=evidence,
        unit_decimals=settings.autotask.unit_decimals,
        udf_length=udf_length,
        field_lengths=MappingProxyType(
            {
                entity: MappingProxyType(
                    {
                        f.name: f.length
                        for f in meta.fields_of(entity).values()
                        if f.length > 0 and f.data_type.lower() == "string"
                    }
                )
                for entity in _SENT
            }
        ),
    )


def cost_visibility(meta: TenantMetadata) -> tuple[bool, str]:
    """Can the API user see `unitCost`? Read-only evidence: the field list, products, charges.

    Without the cost permission Autotask "will return no information" for cost fields (the
    Products entity's documentation): the field reads empty on every record. So a tenant whose
    products and contract charges all read an empty or zero `unitCost` hides it; with neither
    yet there is nothing to compare, and the next export, which reads what this one creates,
    knows.
    """
    if "unitCost" not in meta.product_fields:
        return False, "Products have no unitCost field for this API user"
    records = [*meta.product_sample, *meta.charge_sample]
    if not records:
        return True, "no product or charge yet to tell; assumed visible"
    costs = [_cost(record) for record in records]
    if any(c is not None and c != 0 for c in costs):
        return True, "products or charges show their unit cost"
    return False, (
        f"all {len(costs)} products and charges sampled read an empty or zero unit cost: the"
        " API user's security level probably hides costs"
    )


def _cost(record: Mapping[str, Any]) -> Decimal | None:
    for key, value in record.items():
        if key.lower() == "unitcost" and value not in (None, ""):
            try:
                return Decimal(str(value))
            except ArithmeticError:
                return None
    return None


def _billing_code(meta: TenantMetadata, wanted: str, problems: list[str]) -> tuple[int, str] | None:
    setting = "export.product_billing_code"
    if not meta.billing_codes:
        problems.append(f"{setting}: Autotask has no billing code {wanted!r}")
        return None
    active = [c for c in meta.billing_codes if c.get("isActive")]
    if not active:
        problems.append(f"{setting}: billing code {wanted!r} is inactive in Autotask")
        return None
    code = min(active, key=lambda c: int(c["id"]))
    material = _material_use_types(meta.billing_code_fields)
    if material is not None and code.get("useType") not in material:
        problems.append(
            f"{setting}: billing code {wanted!r} is not a material code; products need a"
            " material (product) billing code"
        )
        return None
    return int(code["id"]), str(code.get("name") or wanted)


def _material_use_types(fields: Mapping[str, FieldInfo]) -> set[object] | None:
    """The `useType` values labelled as material, or None if the tenant's labels do not say."""
    use_type = fields.get("useType")
    if use_type is None or not use_type.is_picklist:
        return None
    values: set[object] = set()
    for value in use_type.picklist_values:
        if "material" in value.label.casefold():
            values.add(int(value.value) if value.value.isdigit() else value.value)
    return values or None


def find_udf(udfs: Sequence[UdfInfo], name: str) -> tuple[str | None, int]:
    """The UDF named `name` (without regard to case, as Autotask compares): its name as the
    tenant spells it and its length, or (None, 0)."""
    for udf in udfs:
        if udf.name.casefold() == name.casefold():
            return udf.name, udf.length
    return None, 0


def _picklist(
    fields: Mapping[str, FieldInfo],
    entity: str,
    name: str,
    wanted: str,
    setting: str,
    problems: list[str],
) -> int | str | None:
    field_info = fields.get(name)
    if field_info is None:
        problems.append(f"{setting}: Autotask's {entity} have no field {name}")
        return None
    try:
        return field_info.picklist_value(wanted)
    except PicklistError as exc:
        problems.append(f"{setting}: {exc.message}")
        return None


def _resolve_table(
    meta: TenantMetadata,
    entity: str,
    table: Mapping[str, FieldSetting],
    problems: list[str],
) -> tuple[dict[str, WireValue], dict[str, str]]:
    """A settings table as wire values: fields by their exact name, UDFs by theirs."""
    fields = {name.casefold(): info for name, info in meta.fields_of(entity).items()}
    udfs = {u.name.casefold(): u for u in meta.udfs_of(entity)}
    sent = {name.casefold() for name in _SENT[entity] - _OVERRIDABLE[entity]}
    wire: dict[str, WireValue] = {}
    udf_values: dict[str, str] = {}
    for name, value in table.items():
        setting = f"{_TABLE[entity]}.{name}"
        info = fields.get(name.casefold())
        if info is None:
            udf = udfs.get(name.casefold())
            if udf is None:
                problems.append(f"{setting}: Autotask's {entity} have no field or UDF {name!r}")
                continue
            checked = _udf_value(udf, value, setting, problems)
            if checked is not None:
                udf_values[udf.name] = checked
            continue
        if info.name.casefold() in sent:
            problems.append(f"{setting}: billbridge fills {info.name} itself; remove it")
            continue
        if info.is_read_only:
            problems.append(f"{setting}: {entity}.{info.name} is read-only in Autotask")
            continue
        resolved = _field_value(info, value, setting, problems)
        if resolved is not None:
            wire[info.name] = resolved
    return wire, udf_values


def _field_value(
    info: FieldInfo, value: FieldSetting, setting: str, problems: list[str]
) -> WireValue | None:
    if info.is_picklist:
        try:
            return info.picklist_value(value if not isinstance(value, bool) else str(value))
        except PicklistError as exc:
            problems.append(f"{setting}: {exc.message}")
            return None
    kind = info.data_type.lower()
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        problems.append(f"{setting}: {info.name} is true or false, not {value!r}")
        return None
    if kind in ("integer", "long", "short"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value.strip())
        problems.append(f"{setting}: {info.name} is a whole number (an id), not {value!r}")
        return None
    if kind in ("decimal", "double"):
        try:
            Decimal(str(value))
        except ArithmeticError:
            problems.append(f"{setting}: {info.name} is a number, not {value!r}")
            return None
        return str(value)
    text = str(value)
    if info.length and len(text) > info.length:
        problems.append(f"{setting}: longer than the {info.length} characters Autotask keeps")
        return None
    return text


def _udf_value(udf: UdfInfo, value: FieldSetting, setting: str, problems: list[str]) -> str | None:
    if udf.is_read_only:
        problems.append(f"{setting}: the UDF {udf.name!r} is read-only in Autotask")
        return None
    if udf.is_picklist:
        matches = [
            v
            for v in udf.picklist_values
            if v.is_active and str(value).casefold() in (v.value.casefold(), v.label.casefold())
        ]
        if not matches:
            known = ", ".join(v.label for v in udf.picklist_values if v.is_active)
            problems.append(f"{setting}: {value!r} is not a value of {udf.name!r}; known: {known}")
            return None
        return matches[0].value
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if udf.length and len(text) > udf.length:
        problems.append(f"{setting}: longer than the {udf.length} characters Autotask keeps")
        return None
    return text


def _unfilled(
    meta: TenantMetadata,
    entity: str,
    table: Mapping[str, FieldSetting],
    also_filled: Sequence[str] = (),
) -> list[str]:
    """A problem for each field (or UDF) the tenant requires that nothing fills on create."""
    filled = {name.casefold() for name in (*_SENT[entity], *table, *also_filled)}
    problems = []
    for info in meta.fields_of(entity).values():
        if not info.is_required or info.is_read_only or info.name.casefold() == "id":
            continue
        if info.name.casefold() not in filled:
            problems.append(_required_text(entity, info.name, _hint(info)))
    for udf in meta.udfs_of(entity):
        if not udf.is_required or udf.is_read_only or udf.name.casefold() in filled:
            continue
        if udf.default_value not in (None, ""):
            continue
        problems.append(_required_text(entity, udf.name, "a user-defined field"))
    return problems


def _hint(info: FieldInfo) -> str:
    if info.is_picklist:
        labels = [v.label for v in info.picklist_values if v.is_active][:4]
        return "a picklist: " + ", ".join(repr(label) for label in labels)
    if info.is_reference:
        return f"the id of a {info.reference_entity_type or 'record'}"
    return info.data_type or "a value"


def _required_text(entity: str, name: str, hint: str) -> str:
    return (
        f"{_TABLE[entity]}.{name}: Autotask requires {entity}.{name} on create and billbridge"
        f" does not fill it ({hint}); set it in [{_TABLE[entity]}]"
    )


def _preferred(
    field_info: FieldInfo | None,
    labels: Sequence[str],
    fallback: str | None = None,
    *,
    only_if_required: bool = False,
) -> int | str | None:
    """A picklist value to send: a preferred label, else the tenant's default, else the first."""
    if (
        field_info is None
        or not field_info.is_picklist
        or (only_if_required and not field_info.is_required)
    ):
        return None
    active = [v for v in field_info.picklist_values if v.is_active]
    for label in labels:
        for value in active:
            if value.label.casefold() == label.casefold():
                return field_info.picklist_value(value.value)
    if fallback is not None and any(v.value == fallback for v in active):
        return field_info.picklist_value(fallback)
    defaults = [v for v in active if v.is_default] or sorted(active, key=lambda v: v.sort_order)
    return field_info.picklist_value(defaults[0].value) if defaults else None

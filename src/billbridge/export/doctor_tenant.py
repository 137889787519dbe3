"""`billbridge doctor --tenant`: read-only probes of a real tenant before a first export.

What a first export would trip on, each said before anything is written: a required field
that nothing fills, a picklist label the tenant does not have, a subscription UDF too short
for a subscription id, a billing code that is not material, costs the API user cannot see,
and records that already share a key (two contracts holding one subscription, two products
of one sku, two charges of one period), which billbridge reports and never deletes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from billbridge.autotask import AutotaskClient, F, FieldInfo, udf_value
from billbridge.config import Settings
from billbridge.domain.records import ChargeMarker
from billbridge.export import tenant_cache
from billbridge.export.connection import ClientFactory, client_from_settings
from billbridge.export.doctor import Check, run_doctor
from billbridge.export.tenant import (
    TenantContext,
    TenantMisfitError,
    context_from,
    read_metadata,
)
from billbridge.store import Store

#: A Partner Center subscription id is a GUID: 36 characters.
SUBSCRIPTION_ID_LENGTH = 36
_SHOWN = 5


def run_tenant_doctor(
    settings: Settings,
    store: Store,
    *,
    today: date,
    client_factory: ClientFactory = client_from_settings,
) -> list[Check]:
    """`doctor`'s checks, then the tenant probes (when the tenant could be reached)."""
    checks = run_doctor(settings, store, today=today, client_factory=client_factory)
    reached = any(c.name == "credentials" and c.status == "ok" for c in checks)
    misfit = any(c.name == "tenant settings" and c.status == "fail" for c in checks)
    if not reached or misfit:  # a misfit is already named, each with its setting
        return checks
    with client_factory(settings) as client:
        probes = tenant_checks(client, settings, store=store)
    # The probes say more about these than `doctor` does: each once.
    superseded = {p.name for p in probes} | {"contract type"}
    return [c for c in checks if c.name not in superseded] + probes


def tenant_checks(
    client: AutotaskClient, settings: Settings, *, store: Store | None = None
) -> list[Check]:
    """Every read-only probe of the tenant, in the order a person fixes them. With `store`,
    the metadata read replaces the exports' cached copy (a misfit drops it)."""
    code = settings.export.product_billing_code or ""
    meta = read_metadata(client, code)
    checks: list[Check] = []
    try:
        tenant = context_from(meta, settings)
        if store is not None:
            tenant_cache.save(store, tenant_cache.cache_key(client, code), meta)
    except TenantMisfitError as exc:
        if store is not None:
            tenant_cache.forget(store)
        checks.extend(
            Check("tenant fit", "fail", problem, "set the setting named, or fix the tenant")
            for problem in exc.problems
        )
        return checks
    checks.append(_required_check(meta.contract_fields, meta.charge_fields, meta.product_fields))
    checks.extend(_picklist_checks(tenant, meta.contract_fields, meta.charge_fields))
    checks.append(_udf_check(client, tenant))
    checks.append(
        Check(
            "billing code",
            "ok",
            f"products get the active material code {tenant.billing_code_name!r}"
            f" ({tenant.billing_code_id})",
        )
    )
    checks.append(_cost_check(tenant))
    checks.append(
        Check(
            "unit precision",
            "ok",
            f"unit prices and costs are planned at {tenant.unit_decimals} decimals"
            " (autotask.unit_decimals); `doctor --canary COMPANY_ID` shows what the tenant keeps",
        )
    )
    checks.extend(duplicate_checks(client, tenant))
    return checks


def _required_check(*entities: Mapping[str, FieldInfo]) -> Check:
    names = ("Contracts", "ContractCharges", "Products")
    counts = [
        f"{name} {sum(1 for f in fields.values() if f.is_required and not f.is_read_only)}"
        for name, fields in zip(names, entities, strict=True)
    ]
    return Check(
        "required fields",
        "ok",
        "every field the tenant requires on create is filled (" + ", ".join(counts) + ")",
    )


def _label(field: FieldInfo | None, value: object) -> str:
    if value is None:
        return "not sent"
    if field is not None:
        for entry in field.picklist_values:
            if entry.value == str(value):
                return f"{entry.label} ({value})"
    return str(value)


def _picklist_checks(
    tenant: TenantContext,
    contract: Mapping[str, FieldInfo],
    charge: Mapping[str, FieldInfo],
) -> Iterator[Check]:
    period = tenant.contract_fields.get("contractPeriodType", tenant.contract_period_type)
    status = tenant.contract_fields.get("status", tenant.contract_status_active)
    yield Check(
        "contract picklists",
        "ok",
        f"new contracts: type {_label(contract.get('contractType'), tenant.contract_type)},"
        f" period {_label(contract.get('contractPeriodType'), period)},"
        f" status {_label(contract.get('status'), status)}",
    )
    charge_type = tenant.charge_fields.get("chargeType", tenant.charge_type)
    charge_status = tenant.charge_fields.get("status", tenant.charge_status)
    yield Check(
        "charge picklists",
        "ok",
        f"new charges: type {_label(charge.get('chargeType'), charge_type)},"
        f" status {_label(charge.get('status'), charge_status)}",
    )


def _udf_check(client: AutotaskClient, tenant: TenantContext) -> Check:
    udf = next(u for u in client.udfs("Contracts") if u.name == tenant.udf_name)
    problems = []
    if udf.is_picklist:
        problems.append("it is a picklist; it must be a text field")
    elif udf.type and udf.type.lower() not in ("string", "text"):
        problems.append(f"it is of type {udf.type}; it must be a text field")
    if udf.length and udf.length < SUBSCRIPTION_ID_LENGTH:
        problems.append(
            f"it keeps {udf.length} characters; a subscription id has {SUBSCRIPTION_ID_LENGTH}"
        )
    if not udf.is_queryable:
        problems.append("it cannot be queried; billbridge finds contracts by it")
    if problems:
        return Check(
            "contract UDF",
            "fail",
            f"{udf.name!r}: " + "; ".join(problems),
            f"make {udf.name!r} a queryable text field of at least"
            f" {SUBSCRIPTION_ID_LENGTH} characters",
        )
    length = f"{udf.length} characters" if udf.length else "length not said"
    return Check("contract UDF", "ok", f"{udf.name!r}: {udf.type or 'text'}, {length}, queryable")


def _cost_check(tenant: TenantContext) -> Check:
    if tenant.cost_visible:
        return Check("cost permission", "ok", f"unit costs are visible: {tenant.cost_evidence}")
    return Check(
        "cost permission",
        "warn",
        f"unit costs are hidden from the API user ({tenant.cost_evidence}); billbridge sends"
        " costs on create but never updates them, and Autotask keeps none",
        "to keep costs, give the API user's security level the permission to see costs",
    )


def duplicate_checks(client: AutotaskClient, tenant: TenantContext) -> list[Check]:
    """Records that share a key as billbridge compares keys (without case): reported only."""
    contracts = list(
        # All fields: whether `includeFields` keeps the UDFs is not documented.
        client.query("Contracts", [F.udf("exist", tenant.udf_name)])
    )
    by_subscription = _groups(contracts, lambda c: _folded(udf_value(c, tenant.udf_name)))
    products = list(
        client.query("Products", [F.exist("sku")], include_fields=["id", "sku", "name"])
    )
    by_sku = _groups(products, lambda p: _folded(p.get("sku")))
    charges = list(
        client.query_in(
            "ContractCharges",
            "contractID",
            sorted({int(c["id"]) for c in contracts}),
        )
    ) if contracts else []  # fmt: skip
    by_period = _groups(charges, _charge_key)
    return [
        _duplicates("duplicate contracts", "subscription", by_subscription, "contracts"),
        _duplicates("duplicate products", "sku", by_sku, "products"),
        _duplicates("duplicate charges", "charge key", by_period, "charges"),
    ]


def _folded(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text.casefold() or None


def _charge_key(record: Mapping[str, Any]) -> str | None:
    texts = (record.get(k) for k in ("notes", "internalPurchaseOrderNumber", "description"))
    marker = ChargeMarker.find(*(t if isinstance(t, str) else None for t in texts))
    if marker is None:
        return None
    return f"{record.get('contractID')}/{marker.subscription_id.casefold()}/{marker.period}"


def _groups(
    records: Iterable[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], str | None]
) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for record in records:
        value = key(record)
        if value is not None:
            groups[value].append(int(record["id"]))
    return {k: sorted(ids) for k, ids in groups.items() if len(ids) > 1}


def _duplicates(name: str, what: str, groups: Mapping[str, Sequence[int]], noun: str) -> Check:
    if not groups:
        return Check(name, "ok", f"no two {noun} share a {what}")
    shown = "; ".join(
        f"{key}: {', '.join(str(i) for i in ids)}" for key, ids in sorted(groups.items())[:_SHOWN]
    )
    more = f" (and {len(groups) - _SHOWN} more)" if len(groups) > _SHOWN else ""
    return Check(
        name,
        "warn",
        f"{len(groups)} {what} values are held by several {noun} (ids): {shown}{more}",
        f"keep one of each in Autotask and clear the {what} of the others; billbridge never"
        " deletes, and reports these as conflicts",
    )

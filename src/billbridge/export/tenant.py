"""What an export needs to know about the tenant, resolved once per run.

Picklist ids and the billing code vary per tenant, so the settings name them by label (or id)
and they are looked up in Autotask's metadata here, with a clear error when they do not fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from billbridge.autotask import AutotaskClient, AutotaskError, F, FieldInfo, PicklistError
from billbridge.config import Settings
from billbridge.export.errors import ExportSetupError


@dataclass(frozen=True, slots=True)
class TenantContext:
    udf_name: str
    contract_type: int | str
    contract_status_active: int | str
    time_reporting: int | str | None
    charge_type: int | str | None
    charge_status: int | str | None
    billing_code_id: int
    billing_code_name: str


def resolve_tenant(client: AutotaskClient, settings: Settings) -> TenantContext:
    """Resolve the tenant-specific values, or raise `ExportSetupError` saying what to fix."""
    export = settings.export
    if not export.product_billing_code:
        raise ExportSetupError(
            "export.product_billing_code: is not set; name the material billing code products get"
        )
    try:
        udf_name = _check_udf(client, settings.autotask.subscription_udf)
        contract_fields = {f.name: f for f in client.fields("Contracts")}
        charge_fields = {f.name: f for f in client.fields("ContractCharges")}
        contract_type = _picklist(
            contract_fields, "contractType", export.contract_type, "export.contract_type"
        )
        billing_code_id, billing_code_name = find_billing_code(client, export.product_billing_code)
    except AutotaskError as exc:
        raise ExportSetupError(f"cannot read the tenant's settings from Autotask: {exc}") from exc
    return TenantContext(
        udf_name=udf_name,
        contract_type=contract_type,
        contract_status_active=_preferred(
            contract_fields.get("status"), ("Active", "In Effect"), "1"
        )
        or 1,
        time_reporting=_preferred(
            contract_fields.get("timeReportingRequiresStartAndStopTimes"), ("No",)
        ),
        charge_type=_preferred(charge_fields.get("chargeType"), ("Operational",)),
        charge_status=_preferred(charge_fields.get("status"), (), only_if_required=True),
        billing_code_id=billing_code_id,
        billing_code_name=billing_code_name,
    )


def find_billing_code(client: AutotaskClient, wanted: str) -> tuple[int, str]:
    """The active material billing code named (or numbered) `wanted`: (id, name)."""
    setting = "export.product_billing_code"
    if wanted.strip().isdigit():
        code = client.get("BillingCodes", int(wanted))
        candidates = [code] if code else []
    else:
        candidates = list(client.query("BillingCodes", [F.eq("name", wanted.strip())]))
    if not candidates:
        raise ExportSetupError(f"{setting}: Autotask has no billing code {wanted!r}")
    active = [c for c in candidates if c.get("isActive")]
    if not active:
        raise ExportSetupError(f"{setting}: billing code {wanted!r} is inactive in Autotask")
    code = min(active, key=lambda c: int(c["id"]))
    material = _material_use_types(client)
    if material is not None and code.get("useType") not in material:
        raise ExportSetupError(
            f"{setting}: billing code {wanted!r} is not a material code; products need a"
            " material (product) billing code"
        )
    return int(code["id"]), str(code.get("name") or wanted)


def _material_use_types(client: AutotaskClient) -> set[object] | None:
    """The `useType` values labelled as material, or None if the tenant's labels do not say."""
    fields = {f.name: f for f in client.fields("BillingCodes")}
    use_type = fields.get("useType")
    if use_type is None or not use_type.is_picklist:
        return None
    values: set[object] = set()
    for value in use_type.picklist_values:
        if "material" in value.label.casefold():
            values.add(int(value.value) if value.value.isdigit() else value.value)
    return values or None


def _check_udf(client: AutotaskClient, name: str) -> str:
    for udf in client.udfs("Contracts"):
        if udf.name.casefold() == name.casefold():
            return udf.name
    raise ExportSetupError(
        f"autotask.subscription_udf: Autotask has no contract user-defined field {name!r};"
        " create it (Admin > Features & Settings > Contracts > user-defined fields) or name"
        " the existing one"
    )


def _picklist(fields: dict[str, FieldInfo], name: str, wanted: str, setting: str) -> int | str:
    field = fields.get(name)
    if field is None:
        raise ExportSetupError(f"{setting}: Autotask's contracts have no field {name}")
    try:
        return field.picklist_value(wanted)
    except PicklistError as exc:
        raise ExportSetupError(f"{setting}: {exc}") from None


def _preferred(
    field: FieldInfo | None,
    labels: Sequence[str],
    fallback: str | None = None,
    *,
    only_if_required: bool = False,
) -> int | str | None:
    """A picklist value to send: a preferred label, else the tenant's default, else the first."""
    if field is None or not field.is_picklist or (only_if_required and not field.is_required):
        return None
    active = [v for v in field.picklist_values if v.is_active]
    for label in labels:
        for value in active:
            if value.label.casefold() == label.casefold():
                return field.picklist_value(value.value)
    if fallback is not None and any(v.value == fallback for v in active):
        return field.picklist_value(fallback)
    defaults = [v for v in active if v.is_default] or sorted(active, key=lambda v: v.sort_order)
    return field.picklist_value(defaults[0].value) if defaults else None

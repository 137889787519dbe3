"""Autotask's JSON records <-> the domain's records and operations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from billbridge.autotask import parse_datetime, to_decimal, udf_value
from billbridge.domain.plan import Operation
from billbridge.domain.records import (
    ActualCharge,
    ActualCompany,
    ActualContract,
    ActualProduct,
    ChargeMarker,
    ContractKey,
)
from billbridge.export.tenant import TenantContext

COMPANY_FIELDS = ("id", "companyName", "isActive")
CHARGE_FIELDS = (
    "id",
    "contractID",
    "name",
    "description",
    "notes",
    "datePurchased",
    "unitQuantity",
    "unitCost",
    "unitPrice",
    "productID",
    "isBilled",
)
PRODUCT_FIELDS = (
    "id",
    "name",
    "sku",
    "unitCost",
    "unitPrice",
    "productBillingCodeID",
    "isActive",
)


def company(record: Mapping[str, Any]) -> ActualCompany:
    return ActualCompany(
        int(record["id"]), str(record.get("companyName") or ""), bool(record.get("isActive"))
    )


def contract(record: Mapping[str, Any], udf_name: str) -> ActualContract:
    subscription = udf_value(record, udf_name)
    return ActualContract(
        id=int(record["id"]),
        company_id=int(record["companyID"]),
        subscription_id=subscription.strip() if subscription and subscription.strip() else None,
        name=str(record.get("contractName") or ""),
        start_date=read_date(record.get("startDate")),
        end_date=read_date(record.get("endDate")),
        status=record.get("status"),
    )


def charge(record: Mapping[str, Any]) -> ActualCharge:
    description = record.get("description")
    notes = record.get("notes")
    return ActualCharge(
        id=int(record["id"]),
        contract_id=int(record["contractID"]),
        marker=ChargeMarker.find(notes, description),
        name=str(record.get("name") or ""),
        description=description,
        notes=notes,
        date_purchased=read_date(record.get("datePurchased")),
        unit_quantity=to_decimal(record.get("unitQuantity")),
        unit_cost=to_decimal(record.get("unitCost")),
        unit_price=to_decimal(record.get("unitPrice")),
        product_id=_int(record.get("productID")),
        is_billed=bool(record.get("isBilled")),
        missing=_missing(record, _CHARGE_COMPARED),
    )


def product(record: Mapping[str, Any]) -> ActualProduct:
    return ActualProduct(
        id=int(record["id"]),
        name=str(record.get("name") or ""),
        sku=record.get("sku") or None,
        unit_cost=to_decimal(record.get("unitCost")),
        unit_price=to_decimal(record.get("unitPrice")),
        billing_code_id=_int(record.get("productBillingCodeID")),
        is_active=bool(record.get("isActive")),
        missing=_missing(record, _PRODUCT_COMPARED),
    )


def contract_create_body(op: Operation, tenant: TenantContext) -> dict[str, Any]:
    assert isinstance(op.key, ContractKey)
    return {
        **wire_fields(op.fields),
        **tenant.contract_extras(),
        "userDefinedFields": tenant.contract_udf_list(op.key.subscription_id),
    }


def charge_create_body(
    op: Operation, contract_id: int, product_id: int, tenant: TenantContext
) -> dict[str, Any]:
    return {
        **wire_fields(op.fields),
        "contractID": contract_id,
        "productID": product_id,
        **tenant.charge_extras(),
    }


def product_create_body(op: Operation, tenant: TenantContext) -> dict[str, Any]:
    fields = {name: value for name, value in op.fields.items() if value is not None}
    return {**wire_fields(fields), **tenant.product_extras()}


def update_body(op: Operation, autotask_id: int, product_id: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": autotask_id, **wire_fields(op.fields)}
    if "productID" in body and product_id is not None:
        body["productID"] = product_id
    return body


def wire_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Field values as they go on the wire: a date-only field as noon UTC of its day."""
    return {name: wire_date(v) if type(v) is date else v for name, v in fields.items()}


def wire_date(day: date) -> datetime:
    """Noon UTC: the same calendar day whether the tenant keeps the UTC date of an instant or
    moves it to its own zone first (any zone within 12 hours of UTC), where midnight UTC is
    the day before in every American zone."""
    return datetime.combine(day, time(12), tzinfo=UTC)


# A date-only field is read back as an instant near the start of its day: midnight UTC, the
# tenant's local midnight in UTC (up to 12 hours either side) or the noon UTC billbridge
# wrote. Shifting by just under 12 hours maps each of them to its own calendar day.
_TO_DAY = timedelta(hours=11, minutes=59, seconds=59)


def read_date(value: object) -> date | None:
    """The calendar day of a date-only field as Autotask returns it."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    return (parse_datetime(text) + _TO_DAY).date()


_CHARGE_COMPARED = tuple(f for f in CHARGE_FIELDS if f not in ("id", "contractID", "isBilled"))
_PRODUCT_COMPARED = tuple(f for f in PRODUCT_FIELDS if f not in ("id", "sku"))


def _missing(record: Mapping[str, Any], names: tuple[str, ...]) -> frozenset[str]:
    """The compared fields the record does not carry at all (a field sent null is there)."""
    return frozenset(name for name in names if name not in record)


def _int(value: object) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    return int(str(value))

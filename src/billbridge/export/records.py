"""Autotask's JSON records <-> the domain's records and operations."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from billbridge.autotask import parse_date, to_decimal, udf_value
from billbridge.domain.plan import Operation
from billbridge.domain.records import (
    ActualCharge,
    ActualCompany,
    ActualContract,
    ActualProduct,
    ChargeMarker,
)
from billbridge.export.tenant import TenantContext

COMPANY_FIELDS = ("id", "companyName", "isActive")
CHARGE_FIELDS = (
    "id",
    "contractID",
    "name",
    "description",
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
        start_date=_date(record.get("startDate")),
        end_date=_date(record.get("endDate")),
        status=record.get("status"),
    )


def charge(record: Mapping[str, Any]) -> ActualCharge:
    description = record.get("description")
    return ActualCharge(
        id=int(record["id"]),
        contract_id=int(record["contractID"]),
        marker=ChargeMarker.find(description),
        name=str(record.get("name") or ""),
        description=description,
        date_purchased=_date(record.get("datePurchased")),
        unit_quantity=to_decimal(record.get("unitQuantity")),
        unit_cost=to_decimal(record.get("unitCost")),
        unit_price=to_decimal(record.get("unitPrice")),
        product_id=_int(record.get("productID")),
        is_billed=bool(record.get("isBilled")),
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
    )


def contract_create_body(op: Operation, tenant: TenantContext) -> dict[str, Any]:
    body: dict[str, Any] = dict(op.fields)
    body.update(
        contractType=tenant.contract_type,
        status=tenant.contract_status_active,
        userDefinedFields=[{"name": tenant.udf_name, "value": _subscription_of(op)}],
    )
    if tenant.time_reporting is not None:
        body["timeReportingRequiresStartAndStopTimes"] = tenant.time_reporting
    return body


def charge_create_body(
    op: Operation, contract_id: int, product_id: int, tenant: TenantContext
) -> dict[str, Any]:
    body: dict[str, Any] = dict(op.fields)
    body.update(contractID=contract_id, productID=product_id)
    if tenant.charge_type is not None:
        body["chargeType"] = tenant.charge_type
    if tenant.charge_status is not None:
        body["status"] = tenant.charge_status
    return body


def product_create_body(op: Operation) -> dict[str, Any]:
    return {name: value for name, value in op.fields.items() if value is not None}


def update_body(op: Operation, autotask_id: int, product_id: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": autotask_id, **op.fields}
    if "productID" in body and product_id is not None:
        body["productID"] = product_id
    return body


def _subscription_of(op: Operation) -> str:
    from billbridge.domain.records import ContractKey

    assert isinstance(op.key, ContractKey)
    return op.key.subscription_id


def _date(value: object) -> date | None:
    if value is None or value == "":
        return None
    return parse_date(str(value))


def _int(value: object) -> int | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    return int(str(value))

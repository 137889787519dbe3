"""`billbridge doctor --canary COMPANY_ID`: one contract and one charge, read back.

The few things only a write can tell: whether the tenant accepts billbridge's create bodies
(period type, required fields), which calendar day it keeps for a date sent at noon UTC, how
many decimals it keeps of a unit price, whether a unit cost sent comes back, and the status a
new charge gets. The records are written as billbridge writes them, on a company the user names
(a test company), and left there: billbridge never deletes; their ids are printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from billbridge.autotask import AutotaskClient, AutotaskError, parse_date, to_decimal
from billbridge.config import Settings
from billbridge.export.doctor import Check
from billbridge.export.tenant import TenantContext, resolve_tenant

#: Eight significant decimals, none of them zero: what is kept tells the precision exactly.
CANARY_PRICE = Decimal("0.12345678")
CANARY_COST = Decimal("0.05")
OWN_COMPANY_ID = 0


@dataclass(frozen=True, slots=True)
class CanaryResult:
    company_id: int
    contract_id: int | None = None
    charge_id: int | None = None
    checks: list[Check] = field(default_factory=list)


def run_canary(
    client: AutotaskClient, settings: Settings, company_id: int, *, now: datetime
) -> CanaryResult:
    """Write the canary contract and charge on `company_id`, read them back, report."""
    checks: list[Check] = []
    if company_id == OWN_COMPANY_ID:
        checks.append(
            Check(
                "canary company",
                "fail",
                "company 0 is the tenant's own company; billbridge never bills it",
                "name a test company: `billbridge doctor --canary COMPANY_ID`",
            )
        )
        return CanaryResult(company_id, checks=checks)
    company = client.get("Companies", company_id)
    if company is None or not company.get("isActive"):
        state = "does not exist" if company is None else "is inactive"
        checks.append(
            Check(
                "canary company",
                "fail",
                f"company {company_id} {state} in Autotask",
                "name an active test company",
            )
        )
        return CanaryResult(company_id, checks=checks)
    tenant = resolve_tenant(client, settings)
    day = now.date().replace(day=1)
    stamp = now.strftime("%Y-%m-%d %H:%M")
    contract_body = {
        "companyID": company_id,
        "contractName": f"billbridge canary {stamp}",
        "description": "Written by `billbridge doctor --canary` to see what the tenant keeps.",
        "startDate": day,
        "endDate": date(day.year + 1, day.month, 1),
        **tenant.contract_extras(),
        "userDefinedFields": tenant.contract_udf_list(f"billbridge-canary-{now:%Y%m%d%H%M%S}"),
    }
    try:
        contract_id = client.create("Contracts", contract_body)
    except AutotaskError as exc:
        checks.append(_refused("canary contract", exc))
        return CanaryResult(company_id, checks=checks)
    charge_body = {
        "name": f"billbridge canary {stamp}",
        "description": "billbridge canary",
        "datePurchased": day,
        "unitQuantity": Decimal(1),
        "unitPrice": CANARY_PRICE,
        "unitCost": CANARY_COST,
        "isBillableToCompany": False,
        "billingCodeID": tenant.billing_code_id,
        **tenant.charge_extras(),
    }
    try:
        charge_id = client.create_child("Contracts", contract_id, "Charges", charge_body)
    except AutotaskError as exc:
        checks.append(
            Check(
                "canary contract", "ok", f"contract {contract_id} created on company {company_id}"
            )
        )
        checks.append(_refused("canary charge", exc))
        return CanaryResult(company_id, contract_id, checks=checks)
    contract = client.get("Contracts", contract_id) or {}
    charge = client.get("ContractCharges", charge_id) or {}
    checks.append(
        Check(
            "canary records",
            "ok",
            f"contract {contract_id} and charge {charge_id} on company {company_id};"
            " billbridge never deletes: remove them in Autotask when done",
        )
    )
    checks.append(_date_check(day, contract.get("startDate"), charge.get("datePurchased")))
    checks.append(_decimals_check(tenant, charge.get("unitPrice")))
    checks.append(_cost_check(charge))
    checks.append(_status_check(contract, charge))
    return CanaryResult(company_id, contract_id, charge_id, checks)


def _refused(name: str, exc: AutotaskError) -> Check:
    return Check(
        name,
        "fail",
        f"Autotask refused it: {exc.reason}",
        "fix what Autotask names (often a required field: [export.contract_fields] or"
        " [export.charge_fields]), then run the canary again",
    )


def _date_check(sent: date, *kept_texts: object) -> Check:
    kept = [parse_date(str(t)) if t else None for t in kept_texts]
    shown = ", ".join(str(t) for t in kept_texts)
    if all(k == sent for k in kept):
        return Check(
            "canary dates", "ok", f"sent {sent} (noon UTC), the tenant kept {sent} ({shown})"
        )
    return Check(
        "canary dates",
        "fail",
        f"sent {sent} (noon UTC), the tenant kept {', '.join(str(k) for k in kept)} ({shown})",
        "the tenant's time zone is more than 11 hours from UTC; billbridge's dates would move"
        " by a day there: report this",
    )


def _decimals_check(tenant: TenantContext, kept_text: object) -> Check:
    kept = to_decimal(kept_text)
    if kept is None:
        return Check(
            "canary decimals",
            "warn",
            f"sent unit price {CANARY_PRICE}, read back none",
            "check the API user's permissions on contract charges",
        )
    normalized = kept.normalize()
    exponent = normalized.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    detail = f"sent unit price {CANARY_PRICE}, the tenant kept {kept}: {decimals} decimals"
    if decimals == tenant.unit_decimals:
        return Check("canary decimals", "ok", f"{detail}, as autotask.unit_decimals says")
    return Check(
        "canary decimals",
        "fail",
        f"{detail}; billbridge plans at {tenant.unit_decimals}",
        f"set autotask.unit_decimals = {decimals}",
    )


def _cost_check(charge: Mapping[str, Any]) -> Check:
    kept = to_decimal(charge.get("unitCost"))
    if kept == CANARY_COST:
        return Check("canary cost", "ok", f"sent unit cost {CANARY_COST}, read back {kept}")
    return Check(
        "canary cost",
        "warn",
        f"sent unit cost {CANARY_COST}, read back {kept if kept is not None else 'nothing'}:"
        " the API user cannot see costs, and billbridge does not update them",
        "give the API user's security level the permission to see costs, to keep them",
    )


def _status_check(contract: Mapping[str, Any], charge: Mapping[str, Any]) -> Check:
    billed = charge.get("isBilled")
    detail = (
        f"contract status {contract.get('status')}, charge status {charge.get('status')},"
        f" billed: {'yes' if billed else 'no'}"
    )
    if billed:
        return Check(
            "canary status",
            "warn",
            detail,
            "a new charge is billed at once; Approve & Post would never see billbridge's"
            " charges: check the contract type",
        )
    return Check("canary status", "ok", detail)

"""One October on a sandbox tenant, exported, then edited by hand through Autotask's REST API.

Contoso is exported (three subscriptions, one type left out), Fabrikam's export fails (its
company is gone from Autotask), Northwind is not exported yet, one organization is unlinked,
one inactive. Afterwards a person lowers a price, doubles a quantity, and adds a charge on a
contract whose subscription nothing bills in October; Approve & Post then bills it all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from billbridge.autotask import F
from billbridge.export.engine import Selection
from billbridge.sandbox import approve_and_post
from tests.export.conftest import Tenant
from tests.export.data import import_lines, line, seed_store

MISSING_COMPANY = 987_654
TYPES = ("csp365", "azure", "marketplace")
"""Perpetual licences are left out by the settings (`filtered`)."""


@dataclass
class October:
    tenant: Tenant
    contoso: int
    northwind: int
    charges: dict[str, int]
    """Subscription id -> id of its October charge in Autotask."""
    hand_charge: int


def october_rows() -> list[list[str]]:
    basic: dict[str, Any] = {"sku": "CFQ7TTC0LH18:0001", "name": "Microsoft 365 Business Basic"}
    waf: dict[str, Any] = {"sku": "DZH318Z0BXWC:0002", "name": "Barracuda WAF-as-a-Service"}
    office: dict[str, Any] = {"sku": "DG7GMGF0D7FV:0002", "name": "Office LTSC Pro Plus 2021"}
    premium: dict[str, Any] = {"sku": "CFQ7TTC0LCHC:0002", "name": "Microsoft 365 Business Premium"}
    meter: dict[str, Any] = {"kind": "azure", "sku": "DZH318Z0BQ4L", "name": "Virtual Machines"}
    storage: dict[str, Any] = {"kind": "azure", "sku": "DZH318Z0BQ5M", "name": "Blob Storage"}
    c, m = "bb-10-contoso", "2026-10"
    return [
        line(c, "contoso", m, "C-365", quantity="10", **basic),
        line(c, "contoso", m, "C-365", quantity="12", **basic),
        line(c, "contoso", m, "C-AZ", quantity="100.333333", cost="1.10", price="1.37", **meter),
        line(c, "contoso", m, "C-AZ", quantity="2.5", cost="0.0123", price="0.0155", **storage),
        line(
            c,
            "contoso",
            m,
            "C-WAF",
            kind="marketplace",
            quantity="1",
            cost="180",
            price="210",
            **waf,
        ),
        line(
            c,
            "contoso",
            m,
            "C-OFF",
            kind="perpetual",
            quantity="2",
            cost="428",
            price="499",
            **office,
        ),
        line(
            "bb-10-fabrikam",
            "fabrikam",
            m,
            "F-PREM",
            quantity="5",
            cost="19.80",
            price="22.00",
            **premium,
        ),
        line("bb-10-northwind", "northwind", m, "N-365", quantity="4", **basic),
        line("bb-10-unlinked", "unlinked", m, "U-365", quantity="1", **basic),
        line("bb-10-inactive", "inactive", m, "I-365", quantity="2", **basic),
    ]


def build_october(tenant: Tenant) -> October:
    contoso = tenant.company("Contoso Ltd")
    northwind = tenant.company("Northwind Traders")
    inactive = tenant.company("Inactive Org Inc")
    seed_store(
        tenant.store,
        tenant.workdir,
        [
            ("contoso", "Contoso Ltd", contoso, True),
            ("fabrikam", "Fabrikam, Inc.", MISSING_COMPANY, True),
            ("northwind", "Northwind Traders", northwind, True),
            ("unlinked", "Unlinked Org", None, True),
            ("inactive", "Inactive Org", inactive, False),
        ],
    )
    september = [line("bb-09-contoso", "contoso", "2026-09", "C-OLD", quantity="3")]
    import_lines(tenant.store, tenant.workdir, september, name="september.csv")
    import_lines(tenant.store, tenant.workdir, october_rows())
    tenant.engine().export(
        Selection(report_ids=("bb-09-contoso", "bb-10-contoso", "bb-10-fabrikam"))
    )
    charges = charges_by_subscription(tenant)
    client = tenant.client
    # Hand edits a person makes in Autotask after the export.
    client.update_child(
        "Contracts",
        contract_of(tenant, "C-365"),
        "Charges",
        {"id": charges["C-365"], "unitPrice": "5.00"},
    )
    client.update_child(
        "Contracts",
        contract_of(tenant, "C-WAF"),
        "Charges",
        {"id": charges["C-WAF"], "unitQuantity": "2"},
    )
    old = charge_record(tenant, charges["C-OLD/2026-09"])
    body: dict[str, Any] = {
        name: old[name]
        for name in ("name", "productID", "isBillableToCompany", "chargeType", "status")
        if old.get(name) is not None
    }
    body.update(
        name="Extra seats, added by hand",
        description="Extra seats",
        datePurchased="2026-10-01T12:00:00Z",
        unitQuantity="2",
        unitCost="10.00",
        unitPrice="15.00",
    )
    hand = client.create_child("Contracts", contract_of(tenant, "C-OLD"), "Charges", body)
    return October(tenant, contoso, northwind, charges, hand)


def bill_everything(tenant: Tenant) -> int:
    """Approve & Post through the sandbox's data file (the tenant must keep one)."""
    return approve_and_post(tenant.workdir / "sandbox.db")


def contract_of(tenant: Tenant, subscription: str) -> int:
    for record in tenant.all("Contracts"):
        for udf in record.get("userDefinedFields") or []:
            if udf.get("value") == subscription:
                return int(str(record["id"]))
    raise AssertionError(f"no contract for {subscription}")


def charges_by_subscription(tenant: Tenant) -> dict[str, int]:
    contracts: dict[int, str] = {}
    for record in tenant.all("Contracts"):
        for udf in record.get("userDefinedFields") or []:
            if udf.get("value"):
                contracts[int(str(record["id"]))] = str(udf["value"])
    found: dict[str, int] = {}
    for charge in tenant.all("ContractCharges"):
        subscription = contracts[int(str(charge["contractID"]))]
        month = str(charge["datePurchased"])[:7]
        key = subscription if month == "2026-10" else f"{subscription}/{month}"
        found[key] = int(str(charge["id"]))
    return found


def charge_record(tenant: Tenant, charge_id: int) -> dict[str, Any]:
    [record] = list(tenant.client.query("ContractCharges", [F.eq("id", charge_id)]))
    return record

"""`reconcile` against a sandbox tenant: money to the cent, hand edits and Approve & Post."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from billbridge.export.reconcile import ReconcileResult, reconcile_period
from tests.export.conftest import Tenant
from tests.money.world import TYPES, bill_everything, build_october, contract_of


def run(tenant: Tenant) -> ReconcileResult:
    return reconcile_period(tenant.store, tenant.settings, tenant.client, "2026-10")


def rows_by_subscription(result: ReconcileResult) -> dict[str, dict[str, Any]]:
    rows = result.to_json()["rows"]
    return {str(r["subscription_id"]): r for r in rows}


def test_hand_edits_and_left_out_billing_to_the_cent(make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(data=True, subscription_types=TYPES)
    october = build_october(tenant)
    result = run(tenant)
    rows = rows_by_subscription(result)

    basic = rows["C-365"]
    # The largest quantity (12) at 5.40 / 6.00; a person lowered the price to 5.00.
    assert (basic["source_quantity"], basic["source_cost"], basic["source_price"]) == (
        "12",
        "64.80",
        "72.00",
    )
    assert (basic["autotask_quantity"], basic["autotask_cost"], basic["autotask_price"]) == (
        "12",
        "64.80",
        "60.00",
    )
    assert basic["status"] == "under_billed"
    assert basic["margin"] == "-4.80"
    assert basic["autotask_charge_id"] == october.charges["C-365"]
    assert "below_cost" in basic["flags"]
    assert basic["billed"] is False

    azure = rows["C-AZ"]
    # Summed exactly over the meters, rounded once: 110.3974163 and 137.49541621.
    assert (azure["source_cost"], azure["source_price"]) == ("110.40", "137.50")
    assert (azure["autotask_cost"], azure["autotask_price"], azure["status"]) == (
        "110.40",
        "137.50",
        "matched",
    )
    assert azure["margin"] == "27.10"

    waf = rows["C-WAF"]
    assert (waf["autotask_quantity"], waf["autotask_price"], waf["status"]) == (
        "2",
        "420.00",
        "over_billed",
    )
    assert waf["difference"] == "210.00"
    assert "quantity_differs" in waf["flags"]

    only = rows["C-OLD"]
    assert only["status"] == "autotask_only"
    assert (only["autotask_charge_id"], only["autotask_price"], only["autotask_cost"]) == (
        october.hand_charge,
        "30.00",
        "20.00",
    )
    assert only["organization_id"] == "contoso"

    reasons = {
        s: str(rows[s]["reason"]).split(":")[0]
        for s in ("C-OFF", "F-PREM", "N-365", "U-365", "I-365")
    }
    assert reasons == {
        "C-OFF": "filtered",
        "F-PREM": "failed",
        "N-365": "not yet exported",
        "U-365": "unmapped",
        "I-365": "inactive",
    }
    assert all(rows[s]["status"] == "not_in_autotask" for s in reasons)
    assert rows["C-OFF"]["source_price"] == "998.00"

    [totals] = result.to_json()["totals"]
    source_price = Decimal("72.00") + Decimal("137.50") + Decimal("210.00") + Decimal("998.00")
    source_price += Decimal("110.00") + Decimal("24.00") + Decimal("6.00") + Decimal("12.00")
    assert totals == {
        "currency": "USD",
        "source_cost": "1348.00",
        "source_price": f"{source_price}",
        "autotask_cost": "555.20",
        "autotask_price": "647.50",
        "margin": "92.30",
        "margin_percent": "14.25",
    }
    [tie] = result.to_json()["tie_out"]
    assert tie["imported"] == f"{source_price}"
    assert tie["in_autotask"] == "419.50"
    assert {k: v["amount"] for k, v in tie["left_out"].items()} == {
        "failed": "110.00",
        "filtered": "998.00",
        "inactive": "12.00",
        "not yet exported": "24.00",
        "unmapped": "6.00",
    }
    assert tie["balanced"] is True
    assert tie["autotask_only"] == "30.00"
    assert result.exit_code == 1


def test_approve_and_post_shows_as_billed(make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(data=True, subscription_types=TYPES)
    build_october(tenant)
    assert bill_everything(tenant) >= 4
    rows = rows_by_subscription(run(tenant))
    for subscription in ("C-365", "C-AZ", "C-WAF", "C-OLD"):
        assert rows[subscription]["billed"] is True
        assert "billed" in rows[subscription]["flags"]
    assert rows["N-365"]["billed"] is False


def test_case_changed_udf_and_a_shifted_date_still_match(
    make_tenant: Callable[..., Tenant],
) -> None:
    """A person retypes the subscription id in lower case; a tenant in a US time zone shows the
    charge on September 30. The charge is still October's, and only October's."""
    tenant = make_tenant(data=True, subscription_types=TYPES)
    october = build_october(tenant)
    contract = contract_of(tenant, "C-AZ")
    tenant.client.update(
        "Contracts",
        {"id": contract, "userDefinedFields": [{"name": "Subscription ID", "value": "c-az"}]},
    )
    tenant.client.update_child(
        "Contracts",
        contract,
        "Charges",
        {"id": october.charges["C-AZ"], "datePurchased": "2026-09-30T12:00:00Z"},
    )
    [record] = [c for c in tenant.all("Contracts") if c["id"] == contract]
    assert "c-az" in [u["value"] for u in record["userDefinedFields"]]
    [shifted] = [c for c in tenant.all("ContractCharges") if c["id"] == october.charges["C-AZ"]]
    assert str(shifted["datePurchased"]).startswith("2026-09-30")
    rows = rows_by_subscription(run(tenant))
    assert rows["C-AZ"]["status"] == "matched"
    assert rows["C-AZ"]["autotask_charge_id"] == october.charges["C-AZ"]
    september = reconcile_period(tenant.store, tenant.settings, tenant.client, "2026-09")
    assert [(r.subscription_id, r.status.value) for r in september.reconciliation.rows] == [
        ("C-OLD", "matched")
    ]

"""A typical US tenant, as strict as Autotask (docs/sandbox.md "A real tenant"), over HTTP."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billbridge.sandbox import SandboxOptions, approve_and_post, schema
from tests.sandbox.sandbox_helpers import Api, Serve, contract_fields

PERIOD_TYPE_ERROR = "Contracts of type 7 (Recurring Services) require a ContractPeriodType."


def field(api: Api, entity: str, name: str) -> dict[str, Any]:
    fields = api.ok("GET", f"/{entity}/entityInformation/fields")["fields"]
    return next(f for f in fields if f["name"] == name)


# -- 1. required fields ----------------------------------------------------------------------


def test_a_recurring_service_contract_needs_a_period_type(serve: Serve) -> None:
    api = serve()
    body = contract_fields(api.company())
    del body["contractPeriodType"]
    response = api.call("POST", "/Contracts", body)
    assert response.status_code == 500
    assert response.json() == {"errors": [PERIOD_TYPE_ERROR]}
    assert api.query("Contracts") == []  # nothing created
    fixed_price = api.ok("POST", "/Contracts", {**body, "contractType": 3})["itemId"]
    contract = api.ok("POST", "/Contracts", {**body, "contractPeriodType": 1})["itemId"]
    cleared = api.errors("PATCH", "/Contracts", {"id": contract, "contractPeriodType": None})
    assert cleared == [PERIOD_TYPE_ERROR]
    to_recurring = api.errors("PATCH", "/Contracts", {"id": fixed_price, "contractType": 7})
    assert to_recurring == [PERIOD_TYPE_ERROR]


def test_the_period_type_picklist_has_autotasks_labels(serve: Serve) -> None:
    period = field(serve(), "Contracts", "contractPeriodType")
    assert period["isPickList"] is True
    labels = {p["label"]: p["value"] for p in period["picklistValues"]}
    assert set(labels) >= {"Monthly", "Quarterly", "Semi-Annual", "Yearly"}
    assert all(isinstance(v, str) for v in labels.values())


def test_a_tenant_requires_more_fields(serve: Serve) -> None:
    api = serve(
        required_fields=(
            "Contracts.contractCategory",
            "contracts.billing notes",  # any casing; a UDF
            "ContractCharges.notes",
            "Products.sku",
        )
    )
    assert field(api, "Contracts", "contractCategory")["isRequired"] is True
    assert field(api, "Contracts", "contractNumber")["isRequired"] is False
    assert field(api, "ContractCharges", "notes")["isRequired"] is True
    udfs = api.ok("GET", "/Contracts/entityInformation/userDefinedFields")["fields"]
    assert {u["name"]: u["isRequired"] for u in udfs} == {
        "Subscription ID": False,
        "Billing Notes": True,
    }
    company = api.company()
    errors = api.errors("POST", "/Contracts", contract_fields(company))
    assert errors == [
        "Missing Required Field: contractCategory.",
        "Missing Required Field: Billing Notes.",
    ]
    assert "Missing Required Field: sku." in api.errors(
        "POST",
        "/Products",
        {
            "name": "x",
            "isActive": True,
            "isSerialized": False,
            "productBillingCodeID": api.material_code(),
        },
    )
    contract = api.contract(
        company,
        contractCategory=1,
        userDefinedFields=[
            {"name": "Subscription ID", "value": "sub-1"},
            {"name": "Billing Notes", "value": "seen"},
        ],
    )
    product = api.product(sku="SKU-1")
    charge = {"name": "x", "datePurchased": "2026-10-01T12:00:00Z", "chargeType": 1,
              "unitQuantity": 1, "productID": product}  # fmt: skip
    assert api.errors("POST", f"/Contracts/{contract}/Charges", charge) == [
        "Missing Required Field: notes."
    ]
    api.ok("POST", f"/Contracts/{contract}/Charges", {**charge, "notes": "billbridge"})
    # Existing records are not refused for fields the tenant started requiring later...
    api.ok("PATCH", "/Contracts", {"id": contract, "description": "changed"})
    # ...but a write that blanks one is.
    assert api.errors("PATCH", "/Contracts", {"id": contract, "contractCategory": None}) == [
        "Missing Required Field: contractCategory."
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("contractCategory", "expected ENTITY.FIELD"),
        ("Tickets.title", "serves no entity 'Tickets'"),
        ("Contracts.nope", "Contracts has no field 'nope'"),
        ("Contracts.id", "read-only"),
    ],
)
def test_bad_required_field_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SandboxOptions(required_fields=(spec,))


# -- 2. date-only fields ---------------------------------------------------------------------


def dates_of(api: Api, start: str, end: str | None = None) -> tuple[str, str]:
    body = contract_fields(api.company(), startDate=start, endDate=end or "2027-09-30T12:00:00Z")
    item = api.ok("GET", f"/Contracts/{api.ok('POST', '/Contracts', body)['itemId']}")["item"]
    return item["startDate"], item["endDate"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("2026-10-01T00:00:00Z", "2026-09-30T04:00:00.000Z"),  # midnight UTC: 8 pm in New York
        ("2026-10-01T00:00:00", "2026-09-30T04:00:00.000Z"),  # naive: UTC, as Autotask reads
        ("2026-10-01", "2026-09-30T04:00:00.000Z"),  # a bare date binds as naive midnight
        ("2026-10-01T12:00:00Z", "2026-10-01T04:00:00.000Z"),  # noon UTC: same day everywhere
        ("2026-10-01T00:00:00-04:00", "2026-10-01T04:00:00.000Z"),  # an offset is honoured
        ("2026-12-01T12:00:00.000Z", "2026-12-01T05:00:00.000Z"),  # winter: EST
    ],
)
def test_convert_reads_the_instant_in_the_tenants_zone(serve: Serve, sent: str, kept: str) -> None:
    assert dates_of(serve(), sent)[0] == kept


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("2026-10-01T00:00:00Z", "2026-10-01T00:00:00.000Z"),
        ("2026-10-01", "2026-10-01T00:00:00.000Z"),
        ("2026-10-01T12:00:00Z", "2026-10-01T00:00:00.000Z"),
        ("2026-10-01T23:30:00-04:00", "2026-10-02T00:00:00.000Z"),  # 03:30 UTC next day
    ],
)
def test_keep_takes_the_day_in_utc(serve: Serve, sent: str, kept: str) -> None:
    assert dates_of(serve(date_reading="keep"), sent)[0] == kept


def test_another_time_zone(serve: Serve) -> None:
    api = serve(timezone="Europe/Berlin")
    # 23:00 UTC on Sep 30 is 01:00 on Oct 1 in Berlin; read back as Berlin's midnight.
    assert dates_of(api, "2026-09-30T23:00:00Z")[0] == "2026-09-30T22:00:00.000Z"
    with pytest.raises(ValueError, match="unknown time zone"):
        SandboxOptions(timezone="Mars/Olympus")


def test_charge_dates_and_filters_use_the_same_reading(serve: Serve) -> None:
    api = serve()
    contract = api.contract(api.company())
    product = api.product()
    midnight = api.charge(contract, product, datePurchased="2026-10-01T00:00:00Z")
    noon = api.charge(contract, product, datePurchased="2026-10-01T12:00:00Z")
    read = {c["id"]: c["datePurchased"] for c in api.query("ContractCharges")}
    assert read == {midnight: "2026-09-30T04:00:00.000Z", noon: "2026-10-01T04:00:00.000Z"}

    def found(*filters: dict[str, Any]) -> set[int]:
        return {c["id"] for c in api.query("ContractCharges", *filters)}

    window = [
        {"op": "gte", "field": "datePurchased", "value": "2026-10-01T00:00:00Z"},
        {"op": "lt", "field": "datePurchased", "value": "2026-10-02T00:00:00Z"},
    ]
    assert found(*window) == {noon}  # the midnight charge is kept on Sep 30
    assert found({"op": "eq", "field": "datePurchased", "value": "2026-10-01T04:00:00Z"}) == {noon}
    # A filter value is read as a written one: midnight UTC on Oct 1 is Sep 30 in New York.
    assert found({"op": "eq", "field": "datePurchased", "value": "2026-10-01T00:00:00Z"}) == set()
    assert found({"op": "eq", "field": "datePurchased", "value": "2026-10-01"}) == set()


def test_kept_days_survive_a_restart_and_another_reading(tmp_path: Path, serve: Serve) -> None:
    data = tmp_path / "tenant.db"
    first = serve(data=data)
    contract = first.contract(
        first.company(), startDate="2026-10-01T00:00:00Z", endDate="2027-09-30T12:00:00Z"
    )
    assert first.sandbox is not None
    first.sandbox.stop()
    second = serve(data=data, date_reading="keep")
    item = second.ok("GET", f"/Contracts/{contract}")["item"]
    assert item["startDate"] == "2026-09-30T00:00:00.000Z"  # the day kept, read in UTC now


# -- 6. UDFs absent, company 0 ---------------------------------------------------------------


def test_records_without_udf_values_have_no_udf_key(serve: Serve) -> None:
    api = serve()
    bare = api.company()
    assert "userDefinedFields" not in api.ok("GET", f"/Companies/{bare}")["item"]
    contract = api.contract(bare, subscription="sub-9")
    item = api.ok("GET", f"/Contracts/{contract}")["item"]
    assert item["userDefinedFields"] == [
        {"name": "Subscription ID", "value": "sub-9"},
        {"name": "Billing Notes", "value": None},
    ]
    listed = api.query("Companies", {"op": "eq", "field": "id", "value": bare})
    assert "userDefinedFields" not in listed[0]
    kept = serve(keep_empty_udfs=True)
    assert kept.ok("GET", f"/Companies/{kept.company()}")["item"]["userDefinedFields"] == [
        {"name": "Microsoft Tenant ID", "value": None}
    ]


def test_company_zero_is_the_tenants_own(serve: Serve) -> None:
    api = serve()
    own = api.ok("GET", "/Companies/0")["item"]
    assert own["id"] == 0 and own["isActive"] is True and own["companyName"] == "Sandbox MSP"
    assert 0 in {c["id"] for c in api.query("Companies")}
    assert api.errors("PATCH", "/Companies", {"id": 0, "isActive": False}) == [
        "Your local organization cannot be inactivated."
    ]
    assert api.company() == 10001  # new companies still start at the usual id


def test_charges_of_the_own_company_never_reach_approve_and_post(
    tmp_path: Path, serve: Serve
) -> None:
    data = tmp_path / "tenant.db"
    api = serve(data=data)
    product = api.product()
    own = api.charge(api.contract(0, subscription="internal"), product)
    customer = api.charge(api.contract(api.company()), product)
    assert approve_and_post(data) == 1
    billed = {c["id"]: c["isBilled"] for c in api.query("ContractCharges")}
    assert billed == {own: False, customer: True}


def test_zone_information_answers_the_servers_own_url(serve: Serve) -> None:
    api = serve()
    assert api.sandbox is not None
    zone = api.client.get(
        "/atservicesrest/v1.0/zoneInformation", params={"user": api.sandbox.username}
    )
    assert zone.json()["url"] == f"{api.sandbox.origin}/ATServicesRest/"


# -- 7. procurement, cost permission, precision ----------------------------------------------


def test_procurement_holds_back_charges_of_products_that_need_it(
    tmp_path: Path, serve: Serve
) -> None:
    data = tmp_path / "tenant.db"
    api = serve(data=data, procurement=True)
    contract = api.contract(api.company())
    needs = api.charge(contract, api.product(sku="HW-1"))
    explicit_false = api.charge(contract, api.product(sku="HW-2", doesNotRequireProcurement=False))
    exempt = api.charge(contract, api.product(sku="CSP-1", doesNotRequireProcurement=True))
    fulfilled = api.charge(contract, api.product(sku="HW-3"), status=5)
    by_code = api.charge(contract, api.product(sku="HW-4"))
    api.ok("PATCH", f"/Contracts/{contract}/Charges", {"id": by_code, "status": 5})
    assert api.sandbox is not None
    api.sandbox.stop()  # approve-and-post reads the settings kept in the data file
    assert approve_and_post(data) == 3
    after = serve(data=data, procurement=True)
    billed = {c["id"]: c["isBilled"] for c in after.query("ContractCharges")}
    assert billed == {needs: False, explicit_false: False, exempt: True, fulfilled: True,
                      by_code: True}  # fmt: skip


def test_without_procurement_every_charge_is_posted(tmp_path: Path, serve: Serve) -> None:
    data = tmp_path / "tenant.db"
    api = serve(data=data)
    api.charge(api.contract(api.company()), api.product())
    assert approve_and_post(data) == 1


def test_without_cost_permission_costs_read_empty_and_writes_are_ignored(serve: Serve) -> None:
    api = serve(cost_permission=False)
    product = api.product(unitCost=18.7)
    assert api.ok("GET", f"/Products/{product}")["item"]["unitCost"] is None
    contract = api.contract(api.company())
    charge = api.charge(contract, product, unitCost="18.70")
    item = api.ok("GET", f"/ContractCharges/{charge}")["item"]
    assert item["unitCost"] is None and item["extendedCost"] is None
    assert item["unitPrice"] == 22.0  # prices stay visible
    api.ok("PATCH", "/Products", {"id": product, "unitCost": 99})
    code = api.query("BillingCodes")[0]
    assert code["unitCost"] is None
    # What the tenant holds: the writes above were ignored, not hidden.
    stored = api.runtime.tenant.get(schema.PRODUCTS, product)
    assert stored is not None and stored["unitCost"] is None


def test_unit_fields_are_kept_at_the_tenants_precision(serve: Serve) -> None:
    api = serve()
    contract = api.contract(api.company())
    product = api.product(unitPrice="0.12345")
    assert api.ok("GET", f"/Products/{product}")["item"]["unitPrice"] == 0.1235
    charge = api.charge(contract, product, unitQuantity=1000, unitPrice="0.12345",
                        unitCost="0.00005")  # fmt: skip
    item = api.ok("GET", f"/ContractCharges/{charge}")["item"]
    assert item["unitPrice"] == 0.1235  # half away from zero
    assert item["unitCost"] == 0.0001
    assert item["billableAmount"] == 123.5  # 1000 x 0.1235, not the report's 123.45
    quantity = api.charge(contract, product, unitQuantity="2.123456", unitPrice=1)
    assert api.ok("GET", f"/ContractCharges/{quantity}")["item"]["unitQuantity"] == 2.1235


def test_a_tenant_keeping_two_decimals(serve: Serve) -> None:
    api = serve(precision=2)
    contract = api.contract(api.company())
    charge = api.charge(contract, api.product(), unitQuantity="3.005", unitPrice="0.125")
    item = api.ok("GET", f"/ContractCharges/{charge}")["item"]
    assert (item["unitQuantity"], item["unitPrice"], item["billableAmount"]) == (3.01, 0.13, 0.39)
    assert Decimal(str(item["billableAmount"])) == Decimal("0.39")


# -- 4. Approve & Post keeps what it does not bill -------------------------------------------


def test_approve_and_post_keeps_notes_and_purchase_order_numbers(
    tmp_path: Path, serve: Serve
) -> None:
    data = tmp_path / "tenant.db"
    api = serve(data=data)
    contract = api.contract(api.company())
    kept = {
        "description": "Microsoft 365 Business Premium, 27 seats, 2026-10",
        "notes": "billbridge report 42 key abc",
        "internalPurchaseOrderNumber": "bb:42:abc",
        "purchaseOrderNumber": "PO-7",
    }
    first = api.charge(contract, api.product(), **kept)
    assert approve_and_post(data) == 1
    item = api.ok("GET", f"/ContractCharges/{first}")["item"]
    assert item["isBilled"] is True
    assert {k: item[k] for k in kept} == kept
    second = api.charge(contract, api.product(sku="S2"), **kept)
    assert approve_and_post(data, edit_description="M365 BP (27)") == 1
    edited = api.ok("GET", f"/ContractCharges/{second}")["item"]
    assert edited["description"] == "M365 BP (27)"
    assert {k: edited[k] for k in kept if k != "description"} == {
        k: v for k, v in kept.items() if k != "description"
    }
    # A billed charge cannot be changed any more, notes included.
    refused = api.errors("PATCH", f"/Contracts/{contract}/Charges", {"id": second, "notes": "x"})
    assert "can no longer be updated" in refused[0]

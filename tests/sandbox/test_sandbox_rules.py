"""Autotask's write rules as the sandbox applies them (docs/sandbox.md, the checklist)."""

from __future__ import annotations

from typing import Any

import pytest

from billbridge.sandbox import USERNAME
from tests.sandbox.sandbox_helpers import AUTH, V1, Api

# -- auth and zone ---------------------------------------------------------------------------


def test_zone_lookup_is_unauthenticated_and_answers_the_sandbox_itself(api: Api) -> None:
    response = api.client.get(f"{V1}/zoneInformation", params={"user": USERNAME.upper()})
    assert response.status_code == 200
    assert response.json()["url"] == "http://sandbox.test/ATServicesRest/"


@pytest.mark.parametrize("user", ["someone@else.test", ""])
def test_zone_lookup_of_an_unknown_user_is_500(api: Api, user: str) -> None:
    response = api.client.get(f"{V1}/ZoneInformation", params={"user": user})
    assert response.status_code == 500
    assert response.json() == {"errors": ["Zone information could not be determined"]}


def test_paths_and_header_names_are_case_insensitive(api: Api) -> None:
    headers = {k.lower(): v for k, v in AUTH.items()}
    response = api.client.get("/ATServicesRest/V1.0/VERSION", headers=headers)
    assert response.status_code == 200
    assert response.json()["build"] == "billbridge-sandbox"


@pytest.mark.parametrize(
    ("header", "value", "status", "body"),
    [
        ("Secret", "wrong", 401, None),
        ("UserName", "nobody@sandbox.test", 500, "not known"),
        ("ApiIntegrationCode", "SOMETHING-ELSE", 500, "IntegrationCode is invalid."),
    ],
)
def test_credential_failures(
    api: Api, header: str, value: str, status: int, body: str | None
) -> None:
    response = api.client.get(f"{V1}/Version", headers={**AUTH, header: value})
    assert response.status_code == status
    if body is None:
        assert response.content == b""
    else:
        assert body in response.json()["errors"][0]


def test_impersonation_is_checked_and_recorded(api: Api) -> None:
    admin = api.first_id("Resources", "userName", "admin@sandbox.billbridge.test")
    body = {"companyName": "Impersonated", "companyType": 1, "phone": "1",
            "ownerResourceID": admin}  # fmt: skip
    created = api.call("POST", "/Companies", body, headers={"ImpersonationResourceId": str(admin)})
    item = api.ok("GET", f"/Companies/{created.json()['itemId']}")["item"]
    assert item["createdByResourceID"] == admin
    assert item["impersonatorCreatorResourceID"] == api.resource_id()
    refused = api.call("POST", "/Companies", body, headers={"ImpersonationResourceId": "42"})
    assert refused.status_code == 500
    assert "ImpersonationResourceId 42" in refused.json()["errors"][0]


def test_missing_credentials_are_401(api: Api) -> None:
    assert api.client.get(f"{V1}/Companies/1").status_code == 401


# -- responses -------------------------------------------------------------------------------


def test_get_by_id_of_a_missing_record_is_item_null(api: Api) -> None:
    assert api.ok("GET", "/Companies/999999") == {"item": None}


def test_create_answers_200_item_id_and_returns_every_field(api: Api) -> None:
    company = api.company()
    item = api.ok("GET", f"/Companies/{company}")["item"]
    assert item["id"] == company
    assert item["isActive"] is True
    assert item["fax"] is None  # every field present, null when empty
    assert item["createDate"].endswith("Z") and len(item["createDate"]) == 24
    assert "userDefinedFields" not in item  # no UDF has a value


def test_bodies_bind_leniently_like_asp_net(api: Api) -> None:
    resource = api.resource_id()
    body = {
        "CompanyName": "Fabrikam",  # any casing
        "companyType": "1",  # string -> int
        "Phone": 5550100,  # number -> string
        "ownerResourceID": str(resource),
        "isTaxExempt": "True",
        "unknownProperty": "ignored",
        "createDate": "1999-01-01T00:00:00Z",  # read-only: ignored
    }
    company = api.ok("POST", "/Companies", body)["itemId"]
    item = api.ok("GET", f"/Companies/{company}")["item"]
    assert item["companyName"] == "Fabrikam"
    assert item["companyType"] == 1
    assert item["phone"] == "5550100"
    assert item["isTaxExempt"] is True
    assert not item["createDate"].startswith("1999")


def test_unbindable_value_is_an_error(api: Api) -> None:
    errors = api.errors(
        "POST",
        "/Companies",
        {"companyName": "x", "companyType": True, "phone": "1", "ownerResourceID": 1},
    )
    assert errors == ["Error converting value \"true\" to type 'System.Int32'. Path 'companyType'."]
    # A string that is no number reaches SQL Server, which answers with its own text.
    sql = api.errors(
        "POST",
        "/Companies",
        {"companyName": "x", "companyType": "customer", "phone": "1", "ownerResourceID": 1},
    )
    assert sql == [
        "Conversion failed when converting the nvarchar value 'customer' to data type int."
    ]


# -- required fields, picklists, references ---------------------------------------------------


def test_required_fields_are_all_reported(api: Api) -> None:
    errors = api.errors("POST", "/Contracts", {"contractName": "x"})
    assert errors == [
        "Missing Required Field: companyID.",
        "Missing Required Field: contractType.",
        "Missing Required Field: endDate.",
        "Missing Required Field: startDate.",
        "Missing Required Field: status.",
        "Missing Required Field: timeReportingRequiresStartAndStopTimes.",
    ]


def test_picklist_values_must_exist_and_be_active(api: Api) -> None:
    company = api.company()
    unknown = api.call("POST", "/Contracts", contract_body(company, contractType=2))
    assert unknown.status_code == 500
    assert "contractType" in unknown.json()["errors"][0]
    inactive = api.call("POST", "/Contracts", contract_body(company, contractCategory=3))
    assert inactive.status_code == 500
    assert "contractCategory" in inactive.json()["errors"][0]
    assert api.call("POST", "/Contracts", contract_body(company, contractCategory=2)).is_success


def contract_body(company: int, **fields: Any) -> dict[str, Any]:
    return {
        "companyID": company,
        "contractName": "M365",
        "contractType": 7,
        "contractPeriodType": 1,
        "startDate": "2024-10-01T12:00:00Z",
        "endDate": "2025-09-30T12:00:00Z",
        "status": 1,
        "timeReportingRequiresStartAndStopTimes": 0,
        **fields,
    }


def test_references_must_exist(api: Api) -> None:
    errors = api.errors("POST", "/Contracts", contract_body(123456789))
    assert errors == ["Value does not reference an existing entity for companyID."]


def test_contract_end_before_start_is_refused(api: Api) -> None:
    company = api.company()
    errors = api.errors("POST", "/Contracts", contract_body(company, endDate="2024-09-01"))
    assert errors == ["The contract's endDate must be on or after its startDate."]


def test_contract_udf_is_stored_and_unknown_udf_refused(api: Api) -> None:
    contract = api.contract(api.company(), subscription="abc-123")
    item = api.ok("GET", f"/Contracts/{contract}")["item"]
    assert item["userDefinedFields"] == [
        {"name": "Subscription ID", "value": "abc-123"},
        {"name": "Billing Notes", "value": None},
    ]
    body = contract_body(api.company(), userDefinedFields=[{"name": "Nope", "value": "1"}])
    errors = api.errors("POST", "/Contracts", body)
    assert errors == ["User-defined field 'Nope' does not exist for the Contract entity."]


# -- products ------------------------------------------------------------------------------------


def test_product_needs_an_active_material_billing_code(api: Api) -> None:
    work_type = api.first_id("BillingCodes", "name", "Remote Support")
    inactive = api.first_id("BillingCodes", "name", "Legacy Hardware")
    for code in (work_type, inactive):
        errors = api.errors(
            "POST",
            "/Products",
            {"name": "x", "isActive": True, "isSerialized": False, "productBillingCodeID": code},
        )
        assert errors == ["productBillingCodeID must reference an active material billing code."]


def test_product_billing_type_rules(api: Api) -> None:
    code = api.material_code()
    base = {"name": "x", "isActive": True, "isSerialized": False, "productBillingCodeID": code}
    assert api.errors("POST", "/Products", {**base, "billingType": 2, "periodType": 5}) == [
        "periodType must be Monthly when billingType is not Standard."
    ]
    assert api.errors("POST", "/Products", {**base, "priceCostMethod": 3}) == [
        "priceCostMethod must be Standard (Flat) when billingType is Standard."
    ]
    product = api.ok("POST", "/Products", base)["itemId"]
    item = api.ok("GET", f"/Products/{product}")["item"]
    assert (item["billingType"], item["priceCostMethod"]) == (1, 1)  # defaults


def test_billing_codes_are_read_only(api: Api) -> None:
    assert api.call("POST", "/BillingCodes", {"name": "x"}).status_code == 404
    assert api.call("PATCH", "/BillingCodes", {"id": 1}).status_code == 404


# -- contract charges ------------------------------------------------------------------------


@pytest.fixture
def contract_and_product(api: Api) -> tuple[int, int]:
    return api.contract(api.company()), api.product()


def test_charge_computed_fields(api: Api, contract_and_product: tuple[int, int]) -> None:
    contract, product = contract_and_product
    charge = api.charge(contract, product, unitQuantity=3, unitPrice="7.10", unitCost="5.0")
    raw = api.call("GET", f"/ContractCharges/{charge}").text
    assert '"billableAmount":21.3' in raw  # a JSON number, exact
    item = api.ok("GET", f"/ContractCharges/{charge}")["item"]
    assert item["contractID"] == contract
    assert item["isBilled"] is False
    assert item["extendedCost"] == 15.0
    assert item["creatorResourceID"] == api.resource_id()


def test_charge_billable_amount_cannot_be_written(
    api: Api, contract_and_product: tuple[int, int]
) -> None:
    contract, product = contract_and_product
    charge = api.charge(contract, product, billableAmount=1, isBilled=True)
    item = api.ok("GET", f"/ContractCharges/{charge}")["item"]
    assert item["billableAmount"] == 264.0
    assert item["isBilled"] is False


def test_charge_unit_price_defaults_from_the_billing_code(api: Api) -> None:
    contract = api.contract(api.company())
    code = api.first_id("BillingCodes", "name", "Azure Consumption")
    body = {"name": "x", "datePurchased": "2024-10-01", "chargeType": 1, "unitQuantity": 2}
    charge = api.ok("POST", f"/Contracts/{contract}/Charges", {**body, "billingCodeID": code})
    item = api.ok("GET", f"/ContractCharges/{charge['itemId']}")["item"]
    assert item["unitPrice"] == 0.0
    assert item["billingCodeID"] == code


def test_charge_needs_product_or_billing_code(api: Api) -> None:
    contract = api.contract(api.company())
    body = {"name": "x", "datePurchased": "2024-10-01", "chargeType": 1, "unitQuantity": 1}
    assert api.errors("POST", f"/Contracts/{contract}/Charges", body) == [
        "ContractCharge must have either a productID or billingCodeID."
    ]
    work_type = api.first_id("BillingCodes", "name", "Remote Support")
    errors = api.errors(
        "POST", f"/Contracts/{contract}/Charges", {**body, "billingCodeID": work_type}
    )
    assert errors == ["billingCodeID must reference an active material billing code."]


def test_charges_refused_on_block_hours_contracts(api: Api) -> None:
    contract = api.contract(api.company(), contractType=4)
    errors = api.errors(
        "POST",
        f"/Contracts/{contract}/Charges",
        {"name": "x", "datePurchased": "2024-10-01", "chargeType": 1, "unitQuantity": 1,
         "productID": api.product()},
    )  # fmt: skip
    assert errors == ["Charges cannot be added to a Block Hours contract."]


def test_charge_to_a_missing_contract(api: Api) -> None:
    product = api.product()
    errors = api.errors(
        "POST",
        "/Contracts/424242/Charges",
        {"name": "x", "datePurchased": "2024-10-01", "chargeType": 1, "unitQuantity": 1,
         "productID": product},
    )  # fmt: skip
    assert errors == ["Value does not reference an existing entity for contractID."]


def test_patch_is_partial_and_explicit_null_clears(
    api: Api, contract_and_product: tuple[int, int]
) -> None:
    contract, product = contract_and_product
    charge = api.charge(contract, product, description="keep me", notes="clear me")
    api.ok(
        "PATCH", f"/Contracts/{contract}/Charges", {"id": charge, "unitQuantity": 2, "notes": None}
    )
    item = api.ok("GET", f"/ContractCharges/{charge}")["item"]
    assert item["unitQuantity"] == 2.0
    assert item["billableAmount"] == 44.0
    assert item["description"] == "keep me"
    assert item["notes"] is None


def test_put_sets_missing_writable_fields_to_null(
    api: Api, contract_and_product: tuple[int, int]
) -> None:
    contract, product = contract_and_product
    charge = api.charge(contract, product, description="gone after PUT")
    body = {"id": charge, "name": "replaced", "datePurchased": "2024-10-01", "chargeType": 1,
            "unitQuantity": 1, "productID": product}  # fmt: skip
    api.ok("PUT", f"/Contracts/{contract}/Charges", body)
    item = api.ok("GET", f"/ContractCharges/{charge}")["item"]
    assert item["name"] == "replaced"
    assert item["description"] is None
    assert item["unitPrice"] == 22.0  # defaulted again from the product
    assert item["contractID"] == contract
    missing = api.call("PUT", f"/Contracts/{contract}/Charges", {"id": charge, "name": "x"})
    assert "Missing Required Field: datePurchased." in missing.json()["errors"]


def test_a_charge_is_updated_only_through_its_own_contract(
    api: Api, contract_and_product: tuple[int, int]
) -> None:
    contract, product = contract_and_product
    charge = api.charge(contract, product)
    other = api.contract(api.company(name="Other"))
    errors = api.errors("PATCH", f"/Contracts/{other}/Charges", {"id": charge, "name": "x"})
    assert errors[0].startswith("No message. No matching records found.")


def test_billed_charges_cannot_change(api: Api, contract_and_product: tuple[int, int]) -> None:
    contract, product = contract_and_product
    charge = api.charge(contract, product)
    assert api.runtime.tenant.approve_and_post() == 1
    errors = api.errors("PATCH", f"/Contracts/{contract}/Charges", {"id": charge, "name": "x"})
    assert "has been billed" in errors[0]
    errors = api.errors("DELETE", f"/Contracts/{contract}/Charges/{charge}")
    assert "has been billed" in errors[0]
    assert api.ok("GET", f"/ContractCharges/{charge}")["item"]["isBilled"] is True


def test_delete_an_unbilled_charge(api: Api, contract_and_product: tuple[int, int]) -> None:
    contract, product = contract_and_product
    charge = api.charge(contract, product)
    assert api.ok("DELETE", f"/Contracts/{contract}/Charges/{charge}") == {"itemId": charge}
    assert api.ok("GET", f"/ContractCharges/{charge}") == {"item": None}
    errors = api.errors("DELETE", f"/Contracts/{contract}/Charges/{charge}")
    assert "No matching records found" in errors[0]


def test_child_routes(api: Api, contract_and_product: tuple[int, int]) -> None:
    contract, product = contract_and_product
    charge = api.charge(contract, product)
    listed = api.ok("GET", f"/Contracts/{contract}/Charges")
    assert [c["id"] for c in listed["items"]] == [charge]
    assert api.ok("GET", f"/Contracts/{contract}/Charges/{charge}")["item"]["id"] == charge
    assert api.ok("GET", f"/Contracts/{contract + 1}/Charges/{charge}") == {"item": None}


def test_update_needs_an_existing_id(api: Api) -> None:
    errors = api.errors("PATCH", "/Companies", {"companyName": "no id"})
    assert errors[0].startswith("No message. No matching records found.")


# -- metadata --------------------------------------------------------------------------------


def test_fields_metadata_has_string_picklist_values(api: Api) -> None:
    fields = api.ok("GET", "/Contracts/entityInformation/fields")["fields"]
    contract_type = next(f for f in fields if f["name"] == "contractType")
    assert contract_type["isPickList"] is True
    assert contract_type["isRequired"] is True
    assert {"value": "7", "label": "Recurring Service"}.items() <= next(
        p for p in contract_type["picklistValues"] if p["value"] == "7"
    ).items()
    assert all(isinstance(p["value"], str) for p in contract_type["picklistValues"])
    company = next(f for f in fields if f["name"] == "companyID")
    assert (company["isReference"], company["referenceEntityType"]) == (True, "Account")
    charge_fields = api.ok("GET", "/ContractCharges/entityInformation/fields")["fields"]
    billable = next(f for f in charge_fields if f["name"] == "billableAmount")
    assert billable["isReadOnly"] is True and billable["dataType"] == "double"


def test_udf_metadata(api: Api) -> None:
    udfs = api.ok("GET", "/Contracts/entityInformation/userDefinedFields")["fields"]
    assert [(u["name"], u["type"]) for u in udfs] == [
        ("Subscription ID", "string"),
        ("Billing Notes", "string"),
    ]
    assert api.ok("GET", "/ContractCharges/entityInformation/userDefinedFields") == {"fields": []}


def test_entity_information(api: Api) -> None:
    info = api.ok("GET", "/ContractCharges/entityInformation")["info"]
    assert (info["canCreate"], info["canUpdate"], info["canDelete"]) == (True, True, True)
    codes = api.ok("GET", "/BillingCodes/entityInformation")["info"]
    assert (codes["canCreate"], codes["canUpdate"], codes["canQuery"]) == (False, False, True)
    listed = api.ok("GET", "/EntityInformation")["entityDescriptions"]
    assert {d["info"]["name"] for d in listed} >= {"Companies", "Contracts", "ContractCharges"}


def test_seed(api: Api) -> None:
    codes = api.query("BillingCodes", {"op": "eq", "field": "useType", "value": 2})
    active = {c["name"] for c in codes if c["isActive"]}
    assert {"Microsoft Licensing", "Azure Consumption"} <= active
    assert any(not c["isActive"] for c in codes)
    assert api.query("Resources")

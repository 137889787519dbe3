"""Each rule of the README's "What lands in Autotask", exported into the sandbox over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from billbridge.autotask import F, udf_value
from billbridge.export.engine import Selection
from tests.export.conftest import Tenant
from tests.export.data import import_lines, line, seed_store

ORG = "org-contoso"
TERM = ("2026-03-01", "2027-02-28")


def setup(tenant: Tenant, *, active: bool = True, company_active: bool = True) -> int:
    company = tenant.company("Contoso Ltd", active=company_active)
    seed_store(tenant.store, tenant.workdir, [(ORG, "Contoso Ltd", company, active)])
    return company


def contracts_by_subscription(tenant: Tenant) -> dict[str, dict[str, object]]:
    udf = tenant.settings.autotask.subscription_udf
    found = {}
    for contract in tenant.all("Contracts"):
        subscription = udf_value(contract, udf)
        if subscription:
            found[subscription] = contract
    return found


def test_licence_contract_charge_and_product(tenant: Tenant) -> None:
    company = setup(tenant)
    ids = import_lines(
        tenant.store,
        tenant.workdir,
        [
            line("r1", ORG, "2026-10", "sub-1", quantity="10", term=TERM),
            line(
                "r1", ORG, "2026-10", "sub-1", quantity="14", cost="5.10", price="5.90", term=TERM
            ),
            line("r1", ORG, "2026-10", "sub-1", quantity="12", term=TERM),
        ],
    )
    result = tenant.engine().export(Selection(tuple(ids)))
    assert result.exit_code == 0 and result.summary.created == 3
    [contract] = contracts_by_subscription(tenant).values()
    assert contract["companyID"] == company
    assert "Microsoft 365 Business Basic" in str(contract["contractName"])
    assert contract["contractType"] == 7 and contract["status"] == 1
    assert str(contract["startDate"]).startswith("2026-03-01")
    assert str(contract["endDate"]).startswith("2027-02-28")
    [charge] = tenant.all("ContractCharges")
    assert charge["contractID"] == contract["id"]
    assert str(charge["datePurchased"]).startswith("2026-10-01")
    assert "Microsoft 365 Business Basic" in str(charge["name"]) and "2026-10" in str(
        charge["name"]
    )
    assert (
        Decimal(str(charge["unitQuantity"])),
        Decimal(str(charge["unitCost"])),
        Decimal(str(charge["unitPrice"])),
    ) == (
        Decimal("14"),
        Decimal("5.10"),
        Decimal("5.90"),
    )
    assert charge["isBillableToCompany"] is True
    [product] = tenant.all("Products")
    assert charge["productID"] == product["id"]
    assert product["sku"] == "CFQ7TTC0LH18:0001"
    assert (Decimal(str(product["unitCost"])), Decimal(str(product["unitPrice"]))) == (
        Decimal("5.40"),
        Decimal("6.00"),
    )
    assert product["productBillingCodeID"] == 29682802
    assert product["isActive"] is True and product["isSerialized"] is False


def test_azure_usage_rolls_into_one_azure_plan_charge(tenant: Tenant) -> None:
    setup(tenant)
    meters = [
        line("r1", ORG, "2026-10", "az-1", "azure", f"meter-{i}", f"Meter {i}", q, c, p)
        for i, (q, c, p) in enumerate(
            [
                ("744", "0.0816", "0.096"),
                ("7.10833E-05", "100", "120"),
                ("69.57", "0.07395", "0.087"),
                ("1", "0.004", "0.004"),
            ]
        )
    ]
    ids = import_lines(tenant.store, tenant.workdir, meters)
    tenant.engine().export(Selection(tuple(ids)))
    [charge] = tenant.all("ContractCharges")
    expected_cost = (
        Decimal("744") * Decimal("0.0816")
        + Decimal("7.10833E-05") * 100
        + Decimal("69.57") * Decimal("0.07395")
        + Decimal("0.004")
    )
    expected_price = (
        Decimal("744") * Decimal("0.096")
        + Decimal("7.10833E-05") * 120
        + Decimal("69.57") * Decimal("0.087")
        + Decimal("0.004")
    )
    assert Decimal(str(charge["unitQuantity"])) == 1
    assert Decimal(str(charge["unitCost"])) == expected_cost.quantize(Decimal("0.01"))
    assert Decimal(str(charge["unitPrice"])) == expected_price.quantize(Decimal("0.01"))
    assert str(charge["unitPrice"]) == "77.49"  # 71.424 + 0.00853 + 6.05259 + 0.004 = 77.48912
    [product] = tenant.all("Products")
    assert product["name"] == "Azure Plan" and charge["productID"] == product["id"]
    assert product["productBillingCodeID"] == 29682802
    [contract] = tenant.all("Contracts")
    assert (str(contract["startDate"])[:10], str(contract["endDate"])[:10]) == (
        "2026-10-01",
        "2036-10-01",
    )


def test_perpetual_has_a_synthetic_term_and_marketplace_its_own(tenant: Tenant) -> None:
    setup(tenant)
    ids = import_lines(
        tenant.store,
        tenant.workdir,
        [
            line(
                "r1",
                ORG,
                "2026-09",
                "perp-1",
                "perpetual",
                "DG7GMGF0D7FV:0002",
                "Office LTSC Professional Plus 2021",
                "2",
                "428",
                "499",
            ),
            line(
                "r1",
                ORG,
                "2026-09",
                "mkt-1",
                "marketplace",
                "DZH318Z0BXWC:0002",
                "Barracuda WAF-as-a-Service",
                "1",
                "180",
                "210",
                ("2026-09-01", "2026-09-30"),
            ),
        ],
    )
    tenant.engine().export(Selection(tuple(ids)))
    contracts = contracts_by_subscription(tenant)
    assert (
        str(contracts["perp-1"]["startDate"])[:10],
        str(contracts["perp-1"]["endDate"])[:10],
    ) == ("2026-09-01", "2036-09-01")
    assert str(contracts["mkt-1"]["endDate"])[:10] == "2026-09-30"


def test_renewal_moves_the_end_date_and_creates_no_contract(tenant: Tenant) -> None:
    setup(tenant)
    september = import_lines(
        tenant.store,
        tenant.workdir,
        [line("sep", ORG, "2026-09", "sub-1", term=("2025-10-01", "2026-09-30"))],
        "a.csv",
    )
    tenant.engine().export(Selection(tuple(september)))
    october = import_lines(
        tenant.store,
        tenant.workdir,
        [line("oct", ORG, "2026-10", "sub-1", quantity="12", term=("2026-10-01", "2027-09-30"))],
        "b.csv",
    )
    result = tenant.engine().export(Selection(tuple(october)))
    [contract] = tenant.all("Contracts")
    assert str(contract["endDate"])[:10] == "2027-09-30"
    assert str(contract["startDate"])[:10] == "2025-10-01"
    assert result.summary.updated == 1 and result.summary.created == 1  # end date; October's charge
    assert len(tenant.all("ContractCharges")) == 2


def test_types_not_configured_are_left_out(make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant(subscription_types="csp365")
    setup(tenant)
    ids = import_lines(
        tenant.store,
        tenant.workdir,
        [
            line("r1", ORG, "2026-10", "sub-1"),
            line("r1", ORG, "2026-10", "az-1", "azure", "m", "M", "1", "1", "1"),
        ],
    )
    tenant.engine().export(Selection(tuple(ids)))
    assert list(contracts_by_subscription(tenant)) == ["sub-1"]


def test_unmapped_and_inactive_organizations_are_skipped_without_requests(tenant: Tenant) -> None:
    seed_store(
        tenant.store,
        tenant.workdir,
        [(ORG, "Contoso", None, True), ("org-old", "Old Co", 5, False)],
    )
    ids = import_lines(
        tenant.store,
        tenant.workdir,
        [line("r1", ORG, "2026-10", "s1"), line("r2", "org-old", "2026-10", "s2")],
    )
    result = tenant.engine().export(Selection(tuple(ids)))
    assert [(r.status, r.reason) for r in result.reports] == [
        ("skipped", "unmapped"),
        ("skipped", "inactive"),
    ]
    assert result.requests == 0 and result.exit_code == 0


def test_unknown_or_inactive_company_fails_the_report_and_the_rest_goes_on(tenant: Tenant) -> None:
    good = tenant.company("Good Co")
    inactive = tenant.company("Closed Co", active=False)
    seed_store(
        tenant.store,
        tenant.workdir,
        [
            ("a", "Good Co", good, True),
            ("b", "Gone", 999999, True),
            ("c", "Closed Co", inactive, True),
        ],
    )
    ids = import_lines(
        tenant.store,
        tenant.workdir,
        [
            line("ra", "a", "2026-10", "s1"),
            line("rb", "b", "2026-10", "s2"),
            line("rc", "c", "2026-10", "s3"),
        ],
    )
    result = tenant.engine().export(Selection(tuple(ids)))
    statuses = {r.report_id: (r.status, r.reason) for r in result.reports}
    assert statuses["ra"] == ("exported", None)
    assert statuses["rb"] == ("failed", "company 999999 does not exist in Autotask")
    assert statuses["rc"][0] == "failed" and "inactive" in str(statuses["rc"][1])
    assert result.exit_code == 1
    assert len(tenant.all("Contracts")) == 1


def test_adopts_an_existing_contract_by_udf_and_product_by_sku(tenant: Tenant) -> None:
    company = setup(tenant)
    client = tenant.client
    existing = client.create(
        "Contracts",
        {
            "companyID": company,
            "contractName": "M365 Basic (set up by hand)",
            "contractType": 7,
            "contractPeriodType": tenant.client.picklist_value(
                "Contracts", "contractPeriodType", "Monthly"
            ),
            "status": 1,
            "startDate": date(2026, 3, 1),
            "endDate": date(2027, 2, 28),
            "timeReportingRequiresStartAndStopTimes": 1,
            "userDefinedFields": [{"name": "Subscription ID", "value": "sub-1"}],
        },
    )
    product = client.create(
        "Products",
        {
            "name": "Basic",
            "sku": "CFQ7TTC0LH18:0001",
            "isActive": True,
            "isSerialized": False,
            "productBillingCodeID": 29682802,
            "unitPrice": Decimal("6.00"),
            "unitCost": Decimal("5.40"),
        },
    )
    ids = import_lines(
        tenant.store, tenant.workdir, [line("r1", ORG, "2026-10", "sub-1", term=TERM)]
    )
    result = tenant.engine().export(Selection(tuple(ids)))
    assert len(tenant.all("Contracts")) == 1 and len(tenant.all("Products")) == 1
    [charge] = tenant.all("ContractCharges")
    assert (charge["contractID"], charge["productID"]) == (existing, product)
    product_op = result.reports[0].operations[0]
    assert (product_op.action, product_op.changes) == (
        "update",
        {"name": {"from": "Basic", "to": "Microsoft 365 Business Basic"}},
    )
    contract_name = client.get("Contracts", existing)
    assert (
        contract_name is not None and contract_name["contractName"] == "M365 Basic (set up by hand)"
    )


def test_look_alike_contract_is_reported_not_touched(tenant: Tenant) -> None:
    company = setup(tenant)
    tenant.client.create(
        "Contracts",
        {
            "companyID": company,
            "contractName": "Microsoft 365 Business Basic - Contoso",
            "contractType": 7,
            "contractPeriodType": tenant.client.picklist_value(
                "Contracts", "contractPeriodType", "Monthly"
            ),
            "status": 1,
            "startDate": date(2026, 3, 1),
            "endDate": date(2027, 2, 28),
            "timeReportingRequiresStartAndStopTimes": 1,
        },
    )
    ids = import_lines(tenant.store, tenant.workdir, [line("r1", ORG, "2026-10", "sub-1")])
    plan = tenant.engine().plan(Selection(tuple(ids)))
    assert any("possible duplicate" in w for w in plan.reports[0].warnings)


def test_plan_writes_nothing_and_export_does_what_it_showed(tenant: Tenant) -> None:
    setup(tenant)
    ids = import_lines(
        tenant.store,
        tenant.workdir,
        [
            line("r1", ORG, "2026-10", "sub-1"),
            line("r1", ORG, "2026-10", "az", "azure", "m", "M", "2", "1", "3"),
        ],
    )
    plan = tenant.engine().plan(Selection(tuple(ids)))
    assert tenant.all("Contracts") == [] and tenant.all("Products") == []
    with tenant.store.transaction() as uow:
        assert uow.runs.recent() == []
    result = tenant.engine().export(Selection(tuple(ids)))
    planned = [(o.action, o.entity, o.key, o.changes) for r in plan.reports for o in r.operations]
    done = [(o.action, o.entity, o.key, o.changes) for r in result.reports for o in r.operations]
    assert planned == done
    assert all(o.state == "done" for r in result.reports for o in r.operations)


def test_charges_are_found_again_by_their_marker(tenant: Tenant) -> None:
    setup(tenant)
    ids = import_lines(tenant.store, tenant.workdir, [line("r1", ORG, "2026-10", "sub-1")])
    tenant.engine().export(Selection(tuple(ids)))
    [charge] = tenant.client.query(
        "ContractCharges", [F.contains("notes", "[billbridge report=r1 key=sub-1/2026-10]")]
    )
    assert charge["description"] == "Microsoft 365 Business Basic, 10 seats, 2026-10"


def test_a_correction_that_drops_a_subscription_reports_the_charge_left_behind(
    tenant: Tenant,
) -> None:
    setup(tenant)
    first = [line("r1", ORG, "2026-10", "sub-1"), line("r1", ORG, "2026-10", "sub-2", quantity="3")]
    import_lines(tenant.store, tenant.workdir, first, "v1.csv")
    tenant.engine().export(Selection(("r1",)))
    import_lines(tenant.store, tenant.workdir, [line("r1", ORG, "2026-10", "sub-1")], "v2.csv")
    result = tenant.engine().export(Selection(("r1",)))
    [left] = [o for o in result.reports[0].operations if o.action == "conflict"]
    assert left.key == "sub-2/2026-10" and "no longer bills it" in str(left.reason)
    assert result.exit_code == 1
    assert len(tenant.all("ContractCharges")) == 2  # nothing is deleted


def test_a_rejected_write_fails_its_report_with_autotasks_exact_error(tenant: Tenant) -> None:
    good = tenant.company("Good Co")
    blocked = tenant.company("Block Hours Co")
    # Someone set the subscription id on a Block Hours contract: billbridge adopts it by key,
    # and Autotask refuses charges on such contracts.
    tenant.client.create(
        "Contracts",
        {
            "companyID": blocked,
            "contractName": "Prepaid hours",
            "contractType": 4,
            "status": 1,
            "startDate": date(2026, 1, 1),
            "endDate": date(2026, 12, 31),
            "timeReportingRequiresStartAndStopTimes": 1,
            "userDefinedFields": [{"name": "Subscription ID", "value": "sub-b"}],
        },
    )
    seed_store(
        tenant.store,
        tenant.workdir,
        [("a", "Good Co", good, True), ("b", "Block Hours Co", blocked, True)],
    )
    ids = import_lines(
        tenant.store,
        tenant.workdir,
        [line("ra", "a", "2026-10", "sub-a"), line("rb", "b", "2026-10", "sub-b")],
    )
    result = tenant.engine().export(Selection(tuple(ids)))
    statuses = {r.report_id: r for r in result.reports}
    assert statuses["ra"].status == "exported"
    failed = statuses["rb"]
    assert failed.status == "failed" and result.exit_code == 1
    assert "Charges cannot be added to a Block Hours contract." in str(failed.reason)
    with tenant.store.transaction() as uow:
        detail = uow.runs.get(result.run_id or 0)
    assert detail is not None
    [journal] = [
        o for o in detail.operations if o.report_id == "rb" and o.entity == "ContractCharge"
    ]
    assert journal.state == "failed"
    assert "Charges cannot be added to a Block Hours contract." in str(journal.error)
    assert {r.report_id: r.status for r in detail.reports} == {"ra": "exported", "rb": "failed"}

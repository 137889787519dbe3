"""The real client against the real sandbox, over real HTTP (uvicorn on a free port)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from billbridge.autotask import (
    AuthenticationError,
    AutotaskClient,
    AutotaskError,
    F,
    OpaqueServerError,
    PicklistError,
    ThrottledError,
    UnknownOutcomeError,
    ValidationError,
    parse_date,
    udf_list,
    udf_value,
)
from billbridge.sandbox import FaultSpec, RunningSandbox, SandboxOptions, start_in_background
from billbridge.sandbox import schema as sandbox_schema
from tests.autotask.autotask_helpers import Sleeps

MakeClient = Callable[..., AutotaskClient]
_names = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix} {next(_names)}"


def new_company(client: AutotaskClient, name: str | None = None) -> int:
    owner = next(client.query("Resources", [F.eq("userName", "api@sandbox.billbridge.test")]))
    return client.create(
        "Companies",
        {"companyName": name or unique("Contoso"), "companyType": 1, "phone": "+1 555 0100",
         "ownerResourceID": owner["id"]},
    )  # fmt: skip


def contract_body(client: AutotaskClient, company: int, subscription: str) -> dict[str, Any]:
    return {
        "companyID": company,
        "contractName": "Microsoft 365 Business Premium",
        "contractType": client.picklist_value("Contracts", "contractType", "Recurring Service"),
        "contractPeriodType": client.picklist_value("Contracts", "contractPeriodType", "Monthly"),
        "status": client.picklist_value("Contracts", "status", "Active"),
        "timeReportingRequiresStartAndStopTimes": client.picklist_value(
            "Contracts", "timeReportingRequiresStartAndStopTimes", "No"
        ),
        "startDate": date(2024, 10, 1),
        "endDate": date(2025, 9, 30),
        "userDefinedFields": udf_list({"Subscription ID": subscription}),
    }


def material_code(client: AutotaskClient, name: str = "Microsoft Licensing") -> int:
    return int(next(client.query("BillingCodes", [F.eq("name", name)]))["id"])


def seed_directly(sandbox: RunningSandbox, entity: str, bodies: list[dict[str, Any]]) -> None:
    """Bulk setup through the tenant itself, to keep the tests fast."""
    definition = sandbox_schema.entity(entity)
    assert definition is not None
    for body in bodies:
        sandbox.runtime.tenant.create(definition, body, actor=29682886)


# -- zone, CRUD, metadata --------------------------------------------------------------------


def test_zone_lookup_answers_the_sandbox(client: AutotaskClient, sandbox: RunningSandbox) -> None:
    zone = client.zone()
    assert zone.url == f"{sandbox.origin}/ATServicesRest/"
    assert zone.api_base == f"{sandbox.origin}/ATServicesRest/V1.0"
    assert client.version().build == "billbridge-sandbox"


def test_create_read_update_a_contract_and_its_charges(client: AutotaskClient) -> None:
    company = new_company(client)
    subscription = unique("sub")
    contract = client.create("Contracts", contract_body(client, company, subscription))
    product = client.create(
        "Products",
        {"name": "Microsoft 365 Business Premium", "sku": unique("CFQ7TTC0LCHC"),
         "isActive": True, "isSerialized": False, "productBillingCodeID": material_code(client),
         "unitCost": Decimal("18.70"), "unitPrice": Decimal("22.00")},
    )  # fmt: skip
    charge = client.create_child(
        "Contracts",
        contract,
        "Charges",
        {"name": "M365 BP 2024-10", "datePurchased": date(2024, 10, 1),
         "chargeType": client.picklist_value("ContractCharges", "chargeType", "Operational"),
         "unitQuantity": Decimal("12"), "unitCost": Decimal("18.70"),
         "unitPrice": Decimal("22.00"), "productID": product,
         "description": "billbridge:sub:2024-10"},
    )  # fmt: skip
    stored = client.get("ContractCharges", charge)
    assert stored is not None
    assert stored["contractID"] == contract
    assert stored["billableAmount"] == Decimal("264")
    assert isinstance(stored["unitPrice"], Decimal)
    assert parse_date(stored["datePurchased"]) == date(2024, 10, 1)

    assert (
        client.update_child(
            "Contracts", contract, "Charges", {"id": charge, "unitQuantity": Decimal("13")}
        )
        == charge
    )
    stored = client.get("ContractCharges", charge)
    assert stored is not None
    assert stored["billableAmount"] == Decimal("286") and stored["name"] == "M365 BP 2024-10"

    assert client.update("Contracts", {"id": contract, "endDate": date(2026, 9, 30)}) == contract
    updated = client.get("Contracts", contract)
    assert updated is not None
    assert parse_date(updated["endDate"]) == date(2026, 9, 30)
    assert udf_value(updated, "Subscription ID") == subscription

    found = list(client.query("Contracts", [F.udf_eq("Subscription ID", subscription)]))
    assert [c["id"] for c in found] == [contract]
    assert client.count("ContractCharges", [F.eq("contractID", contract)]) == 1
    marker = list(client.query("ContractCharges", [F.contains("description", "sub:2024-10")]))
    assert charge in [c["id"] for c in marker]
    assert [c["id"] for c in client.children("Contracts", contract, "Charges")] == [charge]
    assert client.get("Contracts", 1) is None


def test_validation_errors_carry_the_sandbox_messages(client: AutotaskClient) -> None:
    company = new_company(client)
    body = contract_body(client, company, unique("sub"))
    body["endDate"] = date(2020, 1, 1)
    with pytest.raises(ValidationError) as caught:
        client.create("Contracts", body)
    assert caught.value.errors == ["The contract's endDate must be on or after its startDate."]
    assert caught.value.status == 500


def test_picklists_resolve_by_label_and_are_checked_before_writing(
    client: AutotaskClient,
) -> None:
    assert client.picklist_value("Contracts", "contractType", "Recurring Service") == 7
    assert client.picklist_value("Contracts", "contractType", "recurring service") == 7
    assert client.picklist_value("Contracts", "contractType", "7") == 7
    assert client.picklist_value("Products", "periodType", "Monthly") == 2
    with pytest.raises(PicklistError, match="unknown value"):
        client.picklist_value("Contracts", "contractType", "Subscription")
    with pytest.raises(PicklistError, match="inactive"):
        client.picklist_value("Contracts", "contractCategory", "Legacy")
    company = new_company(client)
    before = client.stats.by_method.get("POST", 0)
    with pytest.raises(PicklistError, match="contractType") as caught:
        client.create("Contracts", {**contract_body(client, company, "x"), "contractType": 2})
    assert client.stats.by_method.get("POST", 0) == before  # nothing was sent
    # In the error tree, as a rejection of this one record: the run goes on with the others.
    assert isinstance(caught.value, AutotaskError) and caught.value.kind == "rejected"
    fields = {f.name: f for f in client.fields("ContractCharges")}
    assert fields["billableAmount"].is_read_only
    assert "Subscription ID" in [u.name for u in client.udfs("Contracts")]


def test_paging_over_more_than_500_records(client: AutotaskClient, sandbox: RunningSandbox) -> None:
    prefix = unique("Paging")
    owner = 29682886
    seed_directly(
        sandbox,
        "Companies",
        [{"companyName": f"{prefix} {i:04d}", "companyType": 1, "phone": "1",
          "ownerResourceID": owner} for i in range(1100)],
    )  # fmt: skip
    before = client.stats.by_endpoint.get("companies", 0)
    found = list(client.query("Companies", [F.begins_with("companyName", prefix + " ")]))
    assert len(found) == 1100
    assert [c["companyName"] for c in found] == [f"{prefix} {i:04d}" for i in range(1100)]
    assert client.stats.by_endpoint["companies"] - before == 3  # 500 + 500 + 100
    small = list(
        client.query("Companies", [F.begins_with("companyName", prefix)], max_records=400,
                     include_fields=["companyName"])
    )  # fmt: skip
    assert len(small) == 1100 and set(small[0]) == {"id", "companyName"}


def test_in_batching_with_a_udf(client: AutotaskClient, sandbox: RunningSandbox) -> None:
    company = new_company(client)
    prefix = unique("batch")
    seed_directly(
        sandbox,
        "Contracts",
        [{**contract_body(client, company, f"{prefix}-{i}"), "startDate": "2024-10-01",
          "endDate": "2025-09-30"} for i in range(430)],
    )  # fmt: skip
    wanted = [f"{prefix}-{i}" for i in range(0, 430, 1)] + [f"{prefix}-missing"] * 3
    before = client.stats.by_endpoint.get("contracts", 0)
    found = list(
        client.query_in(
            "Contracts", "Subscription ID", wanted, udf=True, extra=[F.eq("companyID", company)]
        )
    )
    assert len(found) == 430
    assert client.stats.by_endpoint["contracts"] - before == 3  # 200 + 200 + 31 values
    # The batches read at once: the same records in the same order, the same 3 requests.
    before = client.stats.by_endpoint["contracts"]
    at_once = client.query_in_all(
        "Contracts", "Subscription ID", wanted, udf=True, extra=[F.eq("companyID", company)]
    )
    assert [r["id"] for r in at_once] == [r["id"] for r in found]
    assert client.stats.by_endpoint["contracts"] - before == 3


# -- faults, for real ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faulty() -> Iterator[RunningSandbox]:
    spec = FaultSpec.parse("error500=0.2,lost=0.2,throttle=0.15,seed=7")
    with start_in_background(SandboxOptions(port=0, faults=spec)) as running:
        yield running


def test_faults_reads_recover_and_writes_are_never_duplicated(
    make_client: MakeClient, faulty: RunningSandbox
) -> None:
    sleeps = Sleeps()
    client = make_client(
        faulty, sleep=sleeps, clock=sleeps.clock, threshold_check_every=0, max_attempts=8
    )
    owner = next(client.query("Resources", [F.eq("isActive", True)]))["id"]
    for _ in range(25):  # reads always get through, by retrying
        assert client.count("BillingCodes", [F.eq("isActive", True)]) == 7
    assert client.stats.retries > 0
    assert 1.0 in sleeps  # Retry-After of the throttle fault honoured

    outcomes: dict[str, str] = {}
    for index in range(40):
        name = f"Faulty {index}"
        try:
            client.create(
                "Companies",
                {"companyName": name, "companyType": 1, "phone": "1", "ownerResourceID": owner},
            )
            outcomes[name] = "created"
        except UnknownOutcomeError:
            outcomes[name] = "unknown"
    injected = dict(faulty.runtime.faults.injected)
    faulty.runtime.faults.spec = None  # look at the tenant without faults
    exists = {name: client.count("Companies", [F.eq("companyName", name)]) for name in outcomes}
    assert all(count <= 1 for count in exists.values()), "a create was sent twice"
    assert all(exists[n] == 1 for n, o in outcomes.items() if o == "created")
    unknown = [n for n, o in outcomes.items() if o == "unknown"]
    lost = [n for n in unknown if exists[n] == 1]
    never = [n for n in unknown if exists[n] == 0]
    assert lost and never, "the seed exercises both kinds of unknown outcome"
    assert injected["lost"] >= len(lost)


# -- the thread limit ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow() -> Iterator[RunningSandbox]:
    with start_in_background(SandboxOptions(port=0, latency_ms=300)) as running:
        yield running


@pytest.mark.slow
def test_raw_concurrency_trips_the_limit_the_client_never_does(
    make_client: MakeClient, slow: RunningSandbox
) -> None:
    url = f"{slow.base_url}/v1.0/Products/query"
    headers = {"ApiIntegrationCode": slow.integration_code, "UserName": slow.username,
               "Secret": slow.secret}  # fmt: skip
    search = {"search": '{"filter":[{"op":"gte","field":"id","value":0}]}'}
    barrier = threading.Barrier(5)

    def raw(_: int) -> int:
        with httpx.Client(timeout=30) as http:
            barrier.wait()
            return http.get(url, params=search, headers=headers).status_code

    with ThreadPoolExecutor(5) as pool:
        statuses = sorted(pool.map(raw, range(5)))
    assert statuses == [200, 200, 200, 500, 500]
    refusals = slow.runtime.limits.thread_refusals

    client = make_client(slow, threshold_check_every=0, validate_picklists=False)
    owner = next(client.query("Resources", [F.eq("isActive", True)]))["id"]
    code = material_code(client)

    def create(index: int) -> int:
        if index % 2:
            return client.create(
                "Products",
                {"name": f"P{index}", "isActive": True, "isSerialized": False,
                 "productBillingCodeID": code},
            )  # fmt: skip
        return client.create(
            "Companies",
            {"companyName": f"T{index}", "companyType": 1, "phone": "1", "ownerResourceID": owner},
        )

    with ThreadPoolExecutor(12) as pool:
        ids = list(pool.map(create, range(36)))
    assert len(set(ids)) == 36
    assert slow.runtime.limits.thread_refusals == refusals  # the client never tripped it
    assert client.stats.retries == 0
    peaks = client.stats.peak_in_flight
    assert peaks["products"] == 3 and peaks["companies"] == 3  # and it used all 3 threads
    code_key = slow.integration_code.casefold()
    assert slow.runtime.limits.peak_in_flight[(code_key, "products")] == 3


# -- the hourly threshold ------------------------------------------------------------------------


def test_threshold_information_counts_every_request(make_client: MakeClient) -> None:
    with start_in_background(SandboxOptions(port=0)) as fresh:
        client = make_client(fresh, threshold_check_every=0)
        client.version()
        list(client.query("BillingCodes"))
        client.get("Companies", 1)
        info = client.threshold()
        authenticated = client.stats.total - client.stats.by_endpoint["zoneinformation"]
        assert info.current_timeframe_request_count == authenticated == 4
        assert (info.external_request_threshold, info.request_threshold_timeframe) == (10000, 60)


def test_the_client_slows_down_and_stops_at_its_share(make_client: MakeClient) -> None:
    with start_in_background(SandboxOptions(port=0, request_threshold=100)) as small:
        sleeps = Sleeps()
        client = make_client(
            small,
            sleep=sleeps,
            clock=sleeps.clock,
            threshold_share=0.5,
            threshold_check_every=20,
            threshold_max_wait_s=120,
        )
        sent = 0
        with pytest.raises(ThrottledError, match="share"):
            for _ in range(100):
                client.get("Companies", 1)
                sent += 1
        used = small.runtime.limits.current_count()
        waits = sleeps.count(60.0)
        # half of the threshold (plus the ThresholdInformation reads while waiting), the
        # other half left to other integrations
        assert 45 <= used <= 51 + waits
        assert small.runtime.limits.threshold_refusals == 0
        assert sleeps[-2:] == [60.0, 60.0]  # waited for the window, up to the maximum wait
        pacing = sleeps[:-2]
        assert len(pacing) >= 3  # but first slowed down, more and more
        assert all(a < b for a, b in itertools.pairwise(pacing))
        assert sent < 50


# -- credentials ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "status"),
    [
        ({"secret": "wrong"}, 401),
        ({"integration_code": "NOT-REGISTERED"}, 500),
        ({"username": "nobody@sandbox.billbridge.test"}, 500),
    ],
)
def test_credential_failures_are_authentication_errors(
    make_client: MakeClient, override: dict[str, str], status: int
) -> None:
    client = make_client(threshold_check_every=0, **override)
    with pytest.raises(AuthenticationError) as caught:
        client.version()
    assert caught.value.status == status
    assert caught.value.kind == "fatal"
    assert "wrong" not in str(caught.value)


def test_budget_reads_the_threshold_now(client: AutotaskClient) -> None:
    client.zone()
    before = client.stats.total
    estimate = client.budget(120)
    assert client.stats.total == before + 1  # one ThresholdInformation
    assert estimate.threshold == 10_000 and estimate.share == client.config.threshold_share
    assert estimate.fits and estimate.requests == 120


def test_an_opaque_500_on_a_write_is_an_unknown_outcome_with_the_exact_text(
    client: AutotaskClient, sandbox: RunningSandbox
) -> None:
    company = new_company(client)
    name = unique("Opaque")
    rule = sandbox.runtime.reject_writes(
        "Contracts", lambda body: body.get("contractName") == name, times=1
    )
    before = client.stats.by_method.get("POST", 0)
    try:
        with pytest.raises(OpaqueServerError) as caught:
            client.create(
                "Contracts", {**contract_body(client, company, "o"), "contractName": name}
            )
    finally:
        sandbox.runtime.clear_write_rules()
    assert rule.hits == 1
    assert caught.value.errors == rule.texts  # Autotask's text, exactly
    assert "Error ID:" in caught.value.reason
    assert caught.value.kind == "unknown_outcome"
    assert client.stats.by_method.get("POST", 0) == before + 1  # sent once, never again
    found = list(client.query("Contracts", [F.eq("contractName", name)]))
    assert found == []  # looked up once: absent, so a rejection for the caller


def test_impersonation_on_products_only_so_contract_writes_go_through(
    make_client: MakeClient,
) -> None:
    client = make_client(impersonation_resource_id=29682885)  # an active, non-API resource
    company = new_company(client)  # Companies support impersonation
    contract_id = client.create("Contracts", contract_body(client, company, unique("imp")))
    charge_id = client.create_child(
        "Contracts",
        contract_id,
        "Charges",
        {
            "name": "impersonated?",
            "datePurchased": date(2024, 10, 1),
            "chargeType": client.picklist_value("ContractCharges", "chargeType", "Operational"),
            "unitQuantity": Decimal(1),
            "unitPrice": Decimal("2.00"),
            "billingCodeID": material_code(client),
        },
    )
    product_id = client.create(
        "Products",
        {
            "name": unique("Impersonated product"),
            "productBillingCodeID": material_code(client),
            "isActive": True,
            "isSerialized": False,
        },
    )
    product = client.get("Products", product_id)
    assert product is not None and product["impersonatorCreatorResourceID"] == 29682886
    assert charge_id > 0

"""The tenant as billbridge resolves it, `doctor --tenant` and `doctor --canary`, against the
strict sandbox over real HTTP (a typical US tenant unless a test switches a reading)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from billbridge.autotask import AutotaskClient, F, ServerError, parse_date
from billbridge.cli import app, export_errors
from billbridge.config import Settings
from billbridge.demo import sandbox_settings
from billbridge.export.connection import client_from_settings
from billbridge.export.tenant import TenantMisfitError, resolve_tenant
from billbridge.sandbox import RunningSandbox, SandboxOptions, start_in_background
from billbridge.store import Store
from tests.export.data import import_lines, line, seed_store


@dataclass
class World:
    sandbox: RunningSandbox
    client: AutotaskClient
    workdir: Path

    def settings(self, **export: Any) -> Settings:
        return sandbox_settings(self.sandbox, f"sqlite:///{self.workdir / 'bb.db'}", **export)

    def company(self, name: str) -> int:
        owner = next(iter(self.client.query("Resources", [F.eq("isActive", True)])))["id"]
        return self.client.create(
            "Companies",
            {
                "companyName": name,
                "companyType": self.client.picklist_value("Companies", "companyType", "Customer"),
                "ownerResourceID": owner,
                "phone": "+1 425 555 0100",
            },
        )

    def contract(self, company: int, subscription: str, **export: Any) -> int:
        tenant = resolve_tenant(self.client, self.settings(**export))
        return self.client.create(
            "Contracts",
            {
                "companyID": company,
                "contractName": "by hand",
                "startDate": parse_date("2026-01-01"),
                "endDate": parse_date("2026-12-31"),
                **tenant.contract_extras(),
                "userDefinedFields": tenant.contract_udf_list(subscription),
            },
        )

    def product(self, sku: str, cost: str = "5.00") -> int:
        tenant = resolve_tenant(self.client, self.settings())
        return self.client.create(
            "Products",
            {
                "name": f"Product {sku}",
                "sku": sku,
                "unitCost": Decimal(cost),
                "unitPrice": Decimal("7.00"),
                "productBillingCodeID": tenant.billing_code_id,
                "isActive": True,
                "isSerialized": False,
                **tenant.product_extras(),
            },
        )

    def write_config(self, extra: str = "") -> None:
        sandbox = self.sandbox
        (self.workdir / "billbridge.toml").write_text(
            f'[database]\nurl = "sqlite:///{self.workdir / "bb.db"}"\n'
            f'[autotask]\nzone_lookup_url = "{sandbox.zone_lookup_url}"\n'
            f'username = "{sandbox.username}"\n'
            f'secret = "{sandbox.secret}"\nintegration_code = "{sandbox.integration_code}"\n'
            '[web]\nadmin_password = "correct horse"\n'
            '[export]\nproduct_billing_code = "Microsoft Licensing"\n' + extra
        )


@pytest.fixture
def make_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., World]]:
    opened: list[World] = []
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("BILLBRIDGE_")]:
        monkeypatch.delenv(name)

    def make(**options: Any) -> World:
        sandbox = start_in_background(SandboxOptions(port=0, **options))
        settings = sandbox_settings(sandbox, f"sqlite:///{tmp_path / 'bb.db'}")
        world = World(sandbox, client_from_settings(settings), tmp_path)
        opened.append(world)
        return world

    yield make
    for world in opened:
        world.client.close()
        world.sandbox.stop()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


# -- the tenant context -----------------------------------------------------------------------


def test_the_strict_tenant_resolves_with_a_period_type(make_world: Callable[..., World]) -> None:
    world = make_world()
    tenant = resolve_tenant(world.client, world.settings())
    period = world.client.picklist_value("Contracts", "contractPeriodType", "Monthly")
    assert tenant.contract_period_type == period
    assert tenant.contract_extras()["contractPeriodType"] == period
    assert tenant.product_extras() == {"doesNotRequireProcurement": True}
    assert tenant.cost_visible and tenant.unit_decimals == 4
    assert tenant.kept(Decimal("0.12345")) == Decimal("0.1235")
    assert tenant.udf_length >= 36
    assert tenant.field_lengths["ContractCharges"]["notes"] > 0
    # The contract billbridge's context describes is one the strict tenant accepts.
    company = world.company("Contoso")
    contract = world.client.get("Contracts", world.contract(company, "sub-1"))
    assert contract is not None and contract["contractPeriodType"] == period


def test_metadata_is_read_in_parallel(make_world: Callable[..., World]) -> None:
    world = make_world(latency_ms=300)
    started = time.perf_counter()
    resolve_tenant(world.client, world.settings())
    elapsed = time.perf_counter() - started
    # The zone, then ten reads at once (the threshold among them): one after another they
    # would take 3.3 s.
    assert world.client.stats.total == 11
    assert elapsed < 1.5, elapsed


def test_a_required_field_nothing_fills_names_its_setting(
    make_world: Callable[..., World],
) -> None:
    world = make_world(required_fields=("Contracts.contractCategory", "Products.manufacturerName"))
    with pytest.raises(TenantMisfitError) as caught:
        resolve_tenant(world.client, world.settings())
    problems = caught.value.problems
    assert any(
        p.startswith("export.contract_fields.contractCategory: Autotask requires") for p in problems
    )
    assert any(p.startswith("export.product_fields.manufacturerName:") for p in problems)
    assert "'Standard'" in " ".join(problems)  # the picklist's labels are named
    settings = world.settings(
        contract_fields={"contractCategory": "cloud services"},
        product_fields={"manufacturerName": "Microsoft"},
    )
    tenant = resolve_tenant(world.client, settings)
    category = world.client.picklist_value("Contracts", "contractCategory", "Cloud Services")
    assert tenant.contract_fields == {"contractCategory": category}
    assert tenant.contract_extras()["contractCategory"] == category
    assert tenant.product_extras()["manufacturerName"] == "Microsoft"
    made = world.contract(
        world.company("Fabrikam"),
        "s",
        contract_fields={"contractCategory": "Standard"},
        product_fields={"manufacturerName": "Microsoft"},
    )
    contract = world.client.get("Contracts", made)
    category = world.client.picklist_value("Contracts", "contractCategory", "Standard")
    assert contract is not None and contract["contractCategory"] == category


def test_every_misfit_of_the_settings_is_named_at_once(make_world: Callable[..., World]) -> None:
    world = make_world()
    settings = world.settings(
        contract_period_type="Fortnightly",
        contract_fields={"contractCategory": "Legacy", "nosuchField": "x", "contractName": "x"},
        charge_fields={"chargeType": "Capitalized", "isBilled": True},
    )
    with pytest.raises(TenantMisfitError) as caught:
        resolve_tenant(world.client, settings)
    text = "\n".join(caught.value.problems)
    assert "export.contract_period_type: " in text and "'Fortnightly'" in text
    assert "export.contract_fields.contractCategory: " in text and "inactive" in text
    assert "export.contract_fields.nosuchField: Autotask's Contracts have no field" in text
    assert "export.contract_fields.contractName: billbridge fills contractName itself" in text
    assert "export.charge_fields.isBilled: ContractCharges.isBilled is read-only" in text
    assert "chargeType" not in text  # a field billbridge picks may be chosen by the table


def test_hidden_costs_are_detected_read_only(make_world: Callable[..., World]) -> None:
    world = make_world(cost_permission=False)
    assert resolve_tenant(world.client, world.settings()).cost_visible  # nothing to tell yet
    world.product("SKU-1", cost="5.00")
    tenant = resolve_tenant(world.client, world.settings())
    assert not tenant.cost_visible
    assert "empty or zero unit cost" in tenant.cost_evidence


def test_costs_are_visible_with_the_permission(make_world: Callable[..., World]) -> None:
    world = make_world()
    world.product("SKU-1", cost="5.00")
    assert resolve_tenant(world.client, world.settings()).cost_visible


# -- doctor ------------------------------------------------------------------------------------


def test_doctor_tenant_reports_the_probes_and_the_duplicates(
    make_world: Callable[..., World],
) -> None:
    world = make_world(cost_permission=False)
    world.write_config()
    company = world.company("Contoso")
    first = world.contract(company, "4f1c0a3e-0000-4000-8000-000000000001")
    second = world.contract(company, "4F1C0A3E-0000-4000-8000-000000000001")
    world.contract(company, "4f1c0a3e-0000-4000-8000-000000000002")
    skus = [world.product("ABC-1"), world.product("abc-1 "), world.product("XYZ-2")]
    code, output = run("doctor", "--tenant", "--json")
    checks = {c["name"]: c for c in json.loads(output)["checks"]}
    assert code == 1, output
    assert checks["required fields"]["status"] == "ok"
    assert "Recurring Service" in checks["contract picklists"]["detail"]
    assert "period Monthly" in checks["contract picklists"]["detail"]
    assert "type Operational" in checks["charge picklists"]["detail"]
    assert checks["contract UDF"]["status"] == "ok"
    assert checks["billing code"]["status"] == "ok"
    assert checks["cost permission"]["status"] == "warn"
    duplicates = checks["duplicate contracts"]
    assert duplicates["status"] == "warn" and f"{first}, {second}" in duplicates["detail"]
    assert "never deletes" in duplicates["fix"]
    assert checks["duplicate products"]["status"] == "warn"
    assert f"{skus[0]}, {skus[1]}" in checks["duplicate products"]["detail"]
    assert checks["duplicate charges"]["status"] == "ok"
    # Read-only: nothing was written by the probes.
    assert len(list(world.client.query("Contracts", [F.gte("id", 0)]))) == 3
    code, text = run("doctor", "--tenant")
    assert "warn duplicate contracts" in text and "ok   required fields" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_doctor_tenant_names_the_setting_of_a_required_field(
    make_world: Callable[..., World],
) -> None:
    world = make_world(required_fields=("Contracts.contractCategory",))
    world.write_config()
    code, output = run("doctor", "--tenant", "--json")
    failed = [c for c in json.loads(output)["checks"] if c["status"] == "fail"]
    assert code == 1
    assert any("export.contract_fields.contractCategory" in c["detail"] for c in failed)
    world.write_config('[export.contract_fields]\ncontractCategory = "Standard"\n')
    code, output = run("doctor", "--tenant", "--json")
    assert not [c for c in json.loads(output)["checks"] if c["status"] == "fail"], output


def test_doctor_fails_on_an_empty_admin_password(make_world: Callable[..., World]) -> None:
    world = make_world()
    world.write_config()
    toml = world.workdir / "billbridge.toml"
    toml.write_text(
        toml.read_text().replace('admin_password = "correct horse"', 'admin_password = " "')
    )
    code, output = run("doctor", "--json")
    checks = {c["name"]: c for c in json.loads(output)["checks"]}
    assert code == 1 and checks["web admin password"]["status"] == "fail"


# -- the canary ------------------------------------------------------------------------------


@pytest.mark.parametrize("reading", ["convert", "keep"])
def test_canary_reports_what_the_tenant_kept(
    make_world: Callable[..., World], reading: str
) -> None:
    world = make_world(date_reading=reading)
    world.write_config()
    company = world.company("Canary Test Co")
    code, output = run("doctor", "--canary", str(company), "--json")
    body = json.loads(output)
    canary = body["canary"]
    checks = {c["name"]: c for c in canary["checks"]}
    assert code == 0, output
    assert canary["company_id"] == company
    contract = world.client.get("Contracts", canary["contract_id"])
    charge = world.client.get("ContractCharges", canary["charge_id"])
    assert contract is not None and charge is not None and charge["contractID"] == contract["id"]
    assert checks["canary dates"]["status"] == "ok"
    assert parse_date(charge["datePurchased"]).day == 1
    assert checks["canary decimals"]["status"] == "ok"
    assert "kept 0.1235: 4 decimals" in checks["canary decimals"]["detail"]
    assert checks["canary cost"]["status"] == "ok"
    assert str(canary["contract_id"]) in checks["canary records"]["detail"]


def test_canary_says_which_precision_to_set_and_that_costs_are_hidden(
    make_world: Callable[..., World],
) -> None:
    world = make_world(precision=2, cost_permission=False)
    world.write_config()
    company = world.company("Canary Test Co")
    code, output = run("doctor", "--canary", str(company))
    output = " ".join(output.split())  # the text is wrapped at 80 columns
    assert code == 1
    assert "kept 0.12: 2 decimals" in output and "autotask.unit_decimals = 2" in output
    assert "warn canary cost" in output
    assert "contract " in output and "never deletes" in output
    # The canary's charge is evidence enough for the read-only probe from now on.
    code, output = run("doctor", "--tenant", "--json")
    checks = {c["name"]: c for c in json.loads(output)["checks"]}
    assert checks["cost permission"]["status"] == "warn"
    assert "products and charges sampled" in checks["cost permission"]["detail"]


def test_canary_refuses_the_own_company_and_writes_nothing(
    make_world: Callable[..., World],
) -> None:
    world = make_world()
    world.write_config()
    code, output = run("doctor", "--canary", "0", "--json")
    canary = json.loads(output)["canary"]
    assert code == 1 and canary["contract_id"] is None
    assert "own company" in canary["checks"][0]["detail"]
    assert list(world.client.query("Contracts", [F.gte("id", 0)])) == []


# -- what stops a command ----------------------------------------------------------------------


def test_an_outage_while_reading_says_try_again_with_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import typer

    with pytest.raises(typer.Exit) as caught, export_errors():
        raise ServerError("Autotask server error", status=503, method="GET", url="x")
    assert caught.value.exit_code == 1
    message = capsys.readouterr().err
    assert "nothing was written, try again" in message and "HTTP 503" in message


def test_what_billbridge_says_it_fills_is_what_an_export_sends(
    make_world: Callable[..., World],
) -> None:
    # The tenant requires fields that only billbridge's own create bodies fill: the required
    # check passes and the strict tenant, which refuses a create without them, takes the export.
    world = make_world(
        required_fields=(
            "Contracts.description",
            "ContractCharges.notes",
            "ContractCharges.productID",
            "Products.description",
        )
    )
    world.write_config()
    code, output = run("doctor", "--tenant", "--json")
    failed = [c["detail"] for c in json.loads(output)["checks"] if c["status"] == "fail"]
    # A product has a description only when the price list gives one: the table fills it.
    assert [d.split(":")[0] for d in failed] == ["export.product_fields.description"]
    world.write_config('[export.product_fields]\ndescription = "Microsoft cloud licence"\n')
    company = world.company("Contoso")
    store = Store(f"sqlite:///{world.workdir / 'bb.db'}")
    try:
        seed_store(store, world.workdir, [("org", "Contoso", company, True)])
        import_lines(store, world.workdir, [line("r1", "org", "2026-10", "sub-1")])
    finally:
        store.close()
    code, output = run("doctor", "--tenant", "--json")
    failed = [c for c in json.loads(output)["checks"] if c["status"] == "fail"]
    assert not failed, failed
    code, output = run("export", "r1", "--json")
    assert code == 0, output
    assert len(list(world.client.query("Contracts", [F.gte("id", 0)]))) == 1
    charges = list(world.client.query("ContractCharges", [F.gte("id", 0)]))
    assert len(charges) == 1 and charges[0]["notes"]


def test_no_canary_on_a_tenant_that_does_not_fit(make_world: Callable[..., World]) -> None:
    world = make_world(required_fields=("Contracts.contractCategory",))
    world.write_config()
    company = world.company("Canary Test Co")
    code, output = run("doctor", "--canary", str(company))
    assert code == 1 and "the canary was not written" in output
    assert "export.contract_fields.contractCategory" in output
    assert list(world.client.query("Contracts", [F.gte("id", 0)])) == []

"""Partner Center files exported into the sandbox: every charge matches the files to the cent."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.export.engine import Selection
from tests.export.conftest import Tenant

DATA = Path(__file__).parents[1] / "sources" / "partner_center" / "data"
EXPECTED = json.loads((DATA / "expected-2025-11.json").read_text())


def test_partner_center_charges_match_the_files_to_the_cent(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tenant.workdir)
    (tenant.workdir / "billbridge.toml").write_text(
        f'[database]\nurl = "{tenant.settings.database.url}"\n'
    )
    options = EXPECTED["import"]
    files = [str(DATA / name) for name in options["files"]]
    result = CliRunner().invoke(
        app,
        [
            "import",
            "partner-center",
            *files,
            "--generated-on",
            options["generated_on"],
            "--license-markup",
            options["license_markup"],
        ],
    )
    assert result.exit_code == 0, result.output
    companies = {}
    for organization_id, organization in EXPECTED["organizations"].items():
        companies[organization_id] = tenant.company(organization["name"])
        with tenant.store.transaction() as uow:
            assert uow.organizations.link(organization_id, companies[organization_id])

    exported = tenant.engine().export(Selection(tuple(EXPECTED["reports"])))
    assert exported.exit_code == 0, [(r.report_id, r.reason) for r in exported.reports]

    contracts = {c["id"]: c for c in tenant.all("Contracts")}
    subscription_of = {
        c["id"]: next(p["value"] for p in c["userDefinedFields"] if p["name"] == "Subscription ID")
        for c in contracts.values()
    }
    charges = {subscription_of[c["contractID"]]: c for c in tenant.all("ContractCharges")}
    expected_charges = {
        subscription: (report["organization_id"], charge)
        for report in EXPECTED["reports"].values()
        for subscription, charge in report["charges"].items()
    }
    assert set(charges) == set(expected_charges)
    for subscription, (organization_id, expected) in expected_charges.items():
        charge = charges[subscription]
        contract = contracts[charge["contractID"]]
        assert contract["companyID"] == companies[organization_id]
        actual = tuple(Decimal(str(charge[f])) for f in ("unitQuantity", "unitCost", "unitPrice"))
        wanted = tuple(Decimal(expected[f]) for f in ("unit_quantity", "unit_cost", "unit_price"))
        assert actual == wanted, subscription
        if expected["subscription_type"] == "azure":
            exact_cost = Decimal(expected["exact_cost"])
            assert actual[1] == exact_cost.quantize(Decimal("0.01"))


def test_importing_the_same_files_another_day_changes_nothing(sqlite_store) -> None:  # type: ignore[no-untyped-def]
    from datetime import date

    from billbridge.importing import import_partner_center

    files = [DATA / name for name in EXPECTED["import"]["files"]]
    first = import_partner_center(sqlite_store, files, generated_on=None, today=date(2025, 12, 6))
    again = import_partner_center(sqlite_store, files, generated_on=None, today=date(2025, 12, 9))
    assert first.reports.created == len(EXPECTED["reports"])
    assert (again.reports.created, again.reports.corrected) == (0, 0)
    with sqlite_store.transaction() as uow:
        assert {s.generated_on for s in uow.reports.summaries()} == {date(2025, 12, 6)}
    moved = import_partner_center(
        sqlite_store, files, generated_on=date(2025, 12, 9), today=date(2025, 12, 9)
    )
    assert moved.reports.corrected == len(EXPECTED["reports"])  # an explicit date is a change

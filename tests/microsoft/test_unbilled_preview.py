"""`plan --unbilled current` and `reconcile --unbilled current`: the month to date from the
emulator's unbilled usage export, held against the sandbox tenant over real HTTP, and nothing
written in Autotask or the store."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from billbridge.autotask import AutotaskClient, F
from billbridge.cli import app
from billbridge.domain.organization import Organization
from billbridge.export.connection import client_from_settings
from billbridge.export.engine import ExportEngine, Selection
from billbridge.preview import fetch_unbilled
from billbridge.sandbox.cli import app as sandbox_cli
from tests.microsoft.conftest import DATA, USAGE, USAGE_INVOICE, Pull, PullFactory

CONTOSO = "3f1b2c4d-1111-4aaa-8bbb-000000000001"
FABRIKAM = "3f1b2c4d-2222-4aaa-8bbb-000000000002"
CONTOSO_USAGE = f"pc-usage-2025-11-{CONTOSO}"
WRITTEN = ("Contracts", "ContractCharges", "Products", "Companies")
PLAN_CACHE = {"tenant_metadata"}
"""The cache of the tenant's metadata, which any plan may refresh (export/tenant_cache.py)."""


def _computed(organization_id: str) -> dict[str, dict[str, str]]:
    """Subscription -> the organization's Azure charge for November, as computed from the
    usage file independently of billbridge."""
    expected = json.loads((DATA / "expected-2025-11.json").read_text())
    charges: dict[str, dict[str, str]] = expected["reports"][f"pc-usage-2025-11-{organization_id}"][
        "charges"
    ]
    return charges


def _expected_azure(organization_id: str) -> dict[str, tuple[str, str]]:
    """Subscription -> (unit cost, unit price), rounded to the cent."""
    return {key: (c["unit_cost"], c["unit_price"]) for key, c in _computed(organization_id).items()}


@dataclass
class Month:
    """The sandbox serving November's usage as the current period, Contoso linked."""

    pulling: Pull
    config: Path

    def autotask_records(self) -> dict[str, int]:
        with client_from_settings(self.pulling.settings) as client:
            return {entity: len(list(client.query(entity, [F.gte("id", 0)]))) for entity in WRITTEN}

    def store_rows(self) -> dict[str, int]:
        path = self.pulling.settings.database.url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as db:
            tables = [
                name
                for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if name not in PLAN_CACHE
            ]
            return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def _new_company(client: AutotaskClient, name: str) -> int:
    owner = next(iter(client.query("Resources", [F.eq("isActive", True)])))["id"]
    body = {
        "companyName": name,
        "companyType": client.picklist_value("Companies", "companyType", "Customer"),
        "ownerResourceID": owner,
        "phone": "+1 425 555 0100",
    }
    return client.create("Companies", body)


def _write_config(pulling: Pull) -> Path:
    """billbridge.toml for the CLI: the pull's settings, and the sandbox tenant."""
    sandbox = pulling.sandbox
    path = pulling.write_config()
    path.write_text(
        path.read_text() + f'[autotask]\nzone_lookup_url = "{sandbox.zone_lookup_url}"\n'
        f'username = "{sandbox.username}"\n'
        f'secret = "{sandbox.secret}"\nintegration_code = "{sandbox.integration_code}"\n'
        '[export]\nproduct_billing_code = "Microsoft Licensing"\n'
    )
    return path


@pytest.fixture
def month(make_pull: PullFactory, monkeypatch: pytest.MonkeyPatch) -> Month:
    pulling = make_pull()
    pulling.emulator.unbilled_invoice_id = USAGE_INVOICE
    for name in [n for n in os.environ if n.startswith("BILLBRIDGE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(pulling.workdir)
    with client_from_settings(pulling.settings) as client:
        company = _new_company(client, "Contoso Ltd")
    with pulling.store.transaction() as uow:
        contoso = Organization(CONTOSO, "Contoso Ltd", autotask_company_id=company)
        uow.organizations.upsert([contoso], keep_links=False)
    return Month(pulling, _write_config(pulling))


def run(month: Month, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--config", str(month.config), *args])
    return result.exit_code, result.output


def words(output: str) -> str:
    """The output as one line of words, whatever wrapped it or boxed it."""
    return " ".join(output.replace("│", " ").split())


def _charges(report: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Subscription -> (unit cost, unit price) of the charges a planned report creates."""
    return {
        op["key"].rsplit("/", 1)[0]: (op["changes"]["unitCost"], op["changes"]["unitPrice"])
        for op in report["operations"]
        if op["entity"] == "ContractCharge" and op["action"] == "create"
    }


def test_plan_shows_the_month_to_date_to_the_cent_and_writes_nothing(month: Month) -> None:
    records = month.autotask_records()
    rows = month.store_rows()

    code, output = run(month, "plan", "--unbilled", "current", "--json")

    assert code == 0, output
    data = json.loads(output)
    assert data["unbilled"] == "current"
    assert "run_id" not in data
    reports = {r["report_id"]: r for r in data["reports"]}
    contoso = reports[CONTOSO_USAGE]
    assert (contoso["status"], contoso["revision"]) == ("exported", None)
    assert _charges(contoso) == _expected_azure(CONTOSO)
    assert contoso["money"] == [
        {
            "currency": "USD",
            "cost": "22.82",
            "price": "26.84",
            "margin": "4.02",
            "margin_percent": "14.98",
        }
    ]
    assert month.pulling.emulator.exports[-1].body["billingPeriod"] == "current"
    assert month.autotask_records() == records
    assert month.store_rows() == rows


def test_the_plan_text_is_marked_as_the_month_to_date(month: Month) -> None:
    code, output = run(month, "plan", "--unbilled", "current", "-v")

    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].startswith("The month to date (2025-11), from Microsoft's unbilled usage")
    assert "never exported" in words(output)
    assert f"{CONTOSO_USAGE} (Contoso Ltd): would export" in words(output)
    assert "Billing: 26.84 USD, cost 22.82, margin 4.02 (14.98%)" in output
    assert max(len(line) for line in lines) <= 80


def test_an_organization_not_imported_is_skipped_not_a_crash(make_pull: PullFactory) -> None:
    pulling = make_pull()
    pulling.emulator.unbilled_invoice_id = USAGE_INVOICE
    unbilled = fetch_unbilled(pulling.settings)
    with client_from_settings(pulling.settings) as client:
        engine = ExportEngine(pulling.store, pulling.settings, client)
        result = engine.plan_unstored(unbilled.reports, names=unbilled.names)

    assert result.reports and {r.status for r in result.reports} == {"skipped"}
    fabrikam = next(r for r in result.reports if r.organization_id == FABRIKAM)
    assert (fabrikam.reason, fabrikam.organization_name) == ("unmapped", "Fabrikam Inc")
    assert f"organization {FABRIKAM} is not imported" in fabrikam.warnings[0]
    assert result.requests == 0  # nothing to export: Autotask is not even read


def _rows(data: dict[str, Any], organization_id: str) -> dict[str, dict[str, Any]]:
    return {
        r["subscription_id"]: r for r in data["rows"] if r["organization_id"] == organization_id
    }


def test_reconcile_finds_the_month_to_date_not_yet_exported_then_matched(month: Month) -> None:
    code, output = run(month, "reconcile", "--unbilled", "current", "--json", "--csv", "r.csv")

    assert code == 1, output
    data = json.loads(output)
    assert (data["unbilled"], data["period"]) == ("current", "2025-11")
    contoso = _rows(data, CONTOSO)
    assert set(contoso) == set(_expected_azure(CONTOSO))
    for row in contoso.values():
        assert row["status"] == "not_in_autotask"
        assert row["reason"].startswith("not yet exported: the month to date")
    [fabrikam] = _rows(data, FABRIKAM).values()
    assert fabrikam["reason"] == f"unmapped: organization {FABRIKAM} is not imported"
    assert fabrikam["organization_name"] == "Fabrikam Inc"  # as Microsoft names it
    with (month.pulling.workdir / "r.csv").open(newline="") as handle:
        sheet = list(csv.DictReader(handle))
    assert sheet and {row["unbilled"] for row in sheet} == {"current"}

    # The same usage, billed: November's invoice pulled, Contoso's usage exported.
    month.pulling.pull()
    with client_from_settings(month.pulling.settings) as client:
        engine = ExportEngine(month.pulling.store, month.pulling.settings, client)
        assert engine.export(Selection((CONTOSO_USAGE,))).exit_code == 0
    code, output = run(month, "reconcile", "--unbilled", "current", "--json")

    data = json.loads(output)
    contoso = _rows(data, CONTOSO)
    assert {s: r["status"] for s, r in contoso.items()} == dict.fromkeys(contoso, "matched")
    prices = {s: (r["autotask_cost"], r["autotask_price"]) for s, r in contoso.items()}
    assert prices == _expected_azure(CONTOSO)
    assert not [r for r in data["rows"] if r["status"] == "autotask_only"]


def test_the_reconcile_text_is_marked_and_fits_80_columns(month: Month) -> None:
    code, output = run(month, "reconcile", "--unbilled", "current")

    assert code == 1, output
    lines = output.splitlines()
    assert lines[0].startswith("The month to date (2025-11)")
    assert "Reconciliation 2025-11" in output
    assert max(len(line) for line in lines) <= 80


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("plan", "--unbilled", "current", CONTOSO_USAGE),
            "plans the month to date, not imported reports: leave out REPORT_ID, --due and --today",
        ),
        (
            ("plan", "--unbilled", "current", "--due"),
            "plans the month to date, not imported reports: leave out REPORT_ID, --due and --today",
        ),
        (
            ("plan", "--unbilled", "current", "--today", "2025-11-20"),
            "plans the month to date, not imported reports: leave out REPORT_ID, --due and --today",
        ),
        (("plan", "--unbilled", "previous"), "only 'current' is supported"),
        (
            ("reconcile", "--unbilled", "current", "--period", "2025-11"),
            "reconciles the month to date, whose period Microsoft sets: leave out --period",
        ),
        (("reconcile", "--unbilled", "last"), "only 'current' is supported"),
        (("reconcile",), "give --period YYYY-MM, or --unbilled current"),
    ],
)
def test_what_the_month_to_date_refuses(month: Month, args: tuple[str, ...], message: str) -> None:
    code, output = run(month, *args)

    assert code == 2, output
    assert message in words(output)
    assert month.pulling.emulator.exports == []


def test_no_unbilled_data_is_nothing_to_plan(month: Month) -> None:
    month.pulling.emulator.unbilled_invoice_id = None  # Microsoft answers "No data available"
    records = month.autotask_records()

    code, output = run(month, "plan", "--unbilled", "current")
    assert code == 0, output
    assert words(output) == (
        "Microsoft has no unbilled usage for the current period yet: nothing to plan"
    )
    code, output = run(month, "plan", "--unbilled", "current", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert (data["unbilled"], data["reports"]) == ("current", [])
    assert data["notes"] == [
        "Microsoft has no unbilled usage for the current period yet: nothing to plan"
    ]
    code, output = run(month, "reconcile", "--unbilled", "current")
    assert code == 0, output
    assert "nothing to reconcile" in output
    code, output = run(month, "reconcile", "--unbilled", "current", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert (data["unbilled"], data["rows"], data["requests"]) == ("current", [], 0)
    assert month.autotask_records() == records


def test_the_pull_preview_still_reads_the_same_month(month: Month) -> None:
    code, output = run(month, "pull", "partner-center", "--unbilled", "current", "--json")

    assert code == 0, output
    lines = {line["organization"]: line for line in json.loads(output)["organizations"]}
    exact = sum((Decimal(c["exact_cost"]) for c in _computed(CONTOSO).values()), Decimal(0))
    assert lines["Contoso Ltd"]["cost"] == f"{exact:.2f}"
    assert month.store_rows()["reports"] == 0


def test_the_sandbox_serves_the_invoice_it_is_given_as_the_month_to_date(
    make_pull: PullFactory,
) -> None:
    """`billbridge sandbox --unbilled-invoice ID`, as a user tries `--unbilled current`."""
    pulling = make_pull(unbilled_invoice=USAGE_INVOICE)

    to_date = fetch_unbilled(pulling.settings)

    assert to_date.rows == 45
    assert CONTOSO_USAGE in {report.report_id for report in to_date.reports}
    assert pulling.emulator.exports[-1].body["billingPeriod"] == "current"


def test_the_sandbox_refuses_an_unbilled_invoice_it_does_not_serve() -> None:
    result = CliRunner().invoke(
        sandbox_cli, ["--partner-center", str(USAGE), "--unbilled-invoice", "G0NOPE", "--port", "0"]
    )

    assert result.exit_code == 2, result.output
    assert "--unbilled-invoice G0NOPE: no file served holds that invoice" in result.output
    assert f"(served: {USAGE_INVOICE})" in result.output

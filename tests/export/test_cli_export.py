"""`billbridge plan`, `export` and `runs` through the CLI, with the JSON of docs/cli.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from billbridge.cli import app
from tests.export.conftest import Tenant
from tests.export.data import import_lines, line, seed_store


@pytest.fixture
def configured(cli_tenant: Tenant) -> Tenant:
    tenant = cli_tenant
    company = tenant.company("Contoso")
    seed_store(
        tenant.store,
        tenant.workdir,
        [("org", "Contoso", company, True), ("unlinked", "Coho", None, True)],
    )
    import_lines(
        tenant.store,
        tenant.workdir,
        [
            line("sep", "org", "2026-09", "sub-1"),
            line("oct", "org", "2026-10", "sub-1", quantity="12"),
            line("coho", "unlinked", "2026-10", "sub-9"),
        ],
    )
    return tenant


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_plan_json_has_the_public_shape_and_writes_nothing(configured: Tenant) -> None:
    code, output = run("plan", "sep", "coho", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert "run_id" not in data
    assert data["summary"] == {
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "conflicts": 0,
        "failed_reports": 0,
    }
    sep, coho = data["reports"]
    assert (sep["report_id"], sep["organization_id"], sep["status"]) == ("sep", "org", "exported")
    assert (coho["status"], coho["reason"]) == ("skipped", "unmapped")
    actions = [(op["action"], op["entity"]) for op in sep["operations"]]
    assert actions == [("create", "Product"), ("create", "Contract"), ("create", "ContractCharge")]
    charge = sep["operations"][2]
    assert charge["key"] == "sub-1/2026-09" and charge["autotask_id"] is None
    assert (
        charge["changes"]["unitQuantity"] == "10"
        and charge["changes"]["datePurchased"] == "2026-09-01"
    )
    assert configured.all("Contracts") == []


def test_export_due_json_then_runs(configured: Tenant) -> None:
    code, output = run("export", "--due", "--today", "2026-10-10", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["run_id"] == 1
    assert [r["report_id"] for r in data["reports"]] == ["sep"]
    assert all(op["autotask_id"] for op in data["reports"][0]["operations"])
    assert run("export", "--due", "--today", "2026-10-11")[1].strip() == "nothing is due"

    code, output = run("export", "--due", "--today", "2026-11-10", "--json")
    data = json.loads(output)
    assert [(r["report_id"], r["status"]) for r in data["reports"]] == [
        ("coho", "skipped"),
        ("oct", "exported"),
    ]

    code, output = run("runs", "--json")
    listed = json.loads(output)["runs"]
    assert [r["run_id"] for r in listed] == [3, 2, 1]  # a check with nothing due is a run too
    code, output = run("runs", "1", "--json")
    detail = json.loads(output)
    assert detail["run_id"] == 1 and detail["summary"]["created"] == 3
    assert [op["state"] for op in detail["reports"][0]["operations"]] == ["done", "done", "done"]
    code, output = run("runs", "1")
    assert "sub-1" in output and "10 x 6.00" in output and code == 0


def test_export_table_and_exit_status(configured: Tenant) -> None:
    code, output = run("export", "sep", "coho")
    assert code == 0
    assert "exported" in output and "unmapped" in output and "created 3" in output


def test_bad_selections_exit_2(configured: Tenant) -> None:
    code, output = run("export")
    assert code == 2 and "name the reports to export, or use --due" in output
    code, output = run("plan", "nope")
    assert code == 2 and "unknown report: nope" in output
    code, output = run("export", "--due", "--today", "tomorrow")
    assert code == 2
    code, output = run("export", "sep", "nope")
    assert code == 2 and "unknown report: nope" in output
    with configured.store.transaction() as uow:
        assert uow.runs.recent() == []  # a refused selection records no run


def test_missing_credentials_are_a_settings_error(configured: Tenant, tmp_path: Path) -> None:
    (configured.workdir / "billbridge.toml").write_text(
        f'[database]\nurl = "{configured.settings.database.url}"\n'
    )
    code, output = run("export", "sep")
    assert code == 2
    assert "autotask.username: is not set" in output and "autotask.secret: is not set" in output


def test_wrong_billing_code_writes_nothing(configured: Tenant) -> None:
    toml = configured.workdir / "billbridge.toml"
    toml.write_text(toml.read_text().replace("Microsoft Licensing", "Legacy Hardware"))
    code, output = run("export", "sep")
    assert code == 2 and "billing code 'Legacy Hardware' is inactive" in output
    assert configured.all("Contracts") == []
    toml.write_text(toml.read_text().replace("Legacy Hardware", "Remote Support"))
    code, output = run("export", "sep")
    assert code == 2 and "not a material code" in output

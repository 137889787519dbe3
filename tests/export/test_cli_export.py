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


LIVE_ONLY = {"notes"}
"""What only a live run knows: its waits for writes of unknown outcome (not stored)."""
STORED_ONLY = {"started_at", "finished_at"}
"""What only a stored run knows: the run is closed after the live result is made."""


def test_a_run_reads_the_same_live_and_stored(configured: Tenant) -> None:
    code, output = run("export", "sep", "oct", "coho", "--json")
    assert code == 0, output
    live = json.loads(output)
    code, output = run("runs", str(live["run_id"]), "--json")
    assert code == 0, output
    stored = json.loads(output)
    assert set(stored) - set(live) == STORED_ONLY
    assert set(live) - set(stored) <= LIVE_ONLY
    assert {k: v for k, v in live.items() if k not in LIVE_ONLY} == {
        k: v for k, v in stored.items() if k not in STORED_ONLY
    }
    assert live["status"] == "succeeded" and live["error"] is None
    assert [r["report_id"] for r in live["reports"]] == ["coho", "oct", "sep"]
    charge = live["reports"][2]["operations"][2]
    assert charge["state"] == "done" and charge["autotask_id"]


def test_money_per_report_and_per_run_to_the_cent(configured: Tenant) -> None:
    code, output = run("plan", "sep", "oct", "coho", "--json")
    data = json.loads(output)
    money = {r["report_id"]: r["money"] for r in data["reports"]}
    # sep: 10 x 6.00 (cost 5.40); oct: 12 x 6.00; coho (skipped): 10 x 6.00
    assert money["sep"] == [
        {
            "currency": "USD",
            "cost": "54.00",
            "price": "60.00",
            "margin": "6.00",
            "margin_percent": "10.00",
        }
    ]
    assert money["oct"][0]["price"] == "72.00" and money["oct"][0]["cost"] == "64.80"
    assert data["money"]["totals"] == [
        {
            "currency": "USD",
            "cost": "118.80",
            "price": "132.00",
            "margin": "13.20",
            "margin_percent": "10.00",
        }
    ]
    assert data["money"]["left_out"][0]["price"] == "60.00"
    code, output = run("export", "sep", "oct", "coho")
    assert "  Billing: 132.00 USD, cost 118.80, margin 13.20 (10.00%)" in output
    assert "  Left out (not exported): 60.00 USD" in output
    code, output = run("runs", "1")
    assert "  Billing: 132.00 USD, cost 118.80, margin 13.20 (10.00%)" in output
    assert "  billing 72.00 USD, cost 64.80, margin 7.20 (10.00%)" in output
    code, output = run("plan", "sep", "-v")
    assert code == 0
    assert "  billing 60.00 USD, cost 54.00, margin 6.00 (10.00%)" in output
    assert all(len(text) <= 80 for text in output.splitlines())


def test_a_fatal_stop_is_shown_with_its_text_live_and_stored(configured: Tenant) -> None:
    text = "User does not have adequate permissions to create Contracts."
    configured.sandbox.runtime.reject_writes("Contracts", text=text, times=1)
    code, output = run("export", "sep", "--json")
    assert code == 1, output  # the product was written before the stop
    live = json.loads(output)
    assert live["status"] == "failed" and text in live["error"]
    code, output = run("runs", str(live["run_id"]), "--json")
    assert text in json.loads(output)["error"]
    code, output = run("runs", str(live["run_id"]))
    stopped = " ".join(output.split("  stopped: ", 1)[1].split())
    assert stopped.startswith(live["error"]) or live["error"].startswith(stopped[:60])
    assert text in " ".join(output.split())
    code, output = run("runs")
    assert "failed" in output

"""The import commands, end to end through the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.store import Store
from tests.foundation.helpers import GOOD_LINE, REPORT_HEADER, csv_file, write


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("BILLBRIDGE_"):
            monkeypatch.delenv(name)
    csv_file(tmp_path, "orgs.csv", "organization_id,name,autotask_company_id", "org-1,Contoso,101")
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def stored_report_ids(workdir: Path) -> list[str]:
    store = Store(f"sqlite:///{workdir / 'billbridge.db'}")
    with store.transaction() as uow:
        ids = [s.report_id for s in uow.reports.summaries()]
    store.close()
    return ids


def test_help_reads_well() -> None:
    code, output = run("--help")
    assert code == 0
    for command in ("import",):
        assert command in output
    result = subprocess.run(
        [sys.executable, "-m", "billbridge", "import", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "partner-center" in result.stdout and "price-list" in result.stdout


def test_import_then_reimport_changes_nothing(workdir: Path) -> None:
    reports = csv_file(workdir, "r.csv", REPORT_HEADER, GOOD_LINE)
    assert run("import", "organizations", "orgs.csv") == (
        0,
        "organizations: 1 new, 0 updated, 0 unchanged\n",
    )
    assert run("import", "reports", str(reports)) == (
        0,
        "reports: 1 new, 0 corrected, 0 unchanged\n",
    )
    assert run("import", "reports", str(reports)) == (
        0,
        "reports: 0 new, 0 corrected, 1 unchanged\n",
    )
    corrected = csv_file(workdir, "r2.csv", REPORT_HEADER, GOOD_LINE.replace(",10,", ",11,"))
    assert run("import", "reports", str(corrected)) == (
        0,
        "reports: 0 new, 1 corrected, 0 unchanged\n",
    )


def test_one_bad_file_and_nothing_of_the_command_is_stored(workdir: Path) -> None:
    run("import", "organizations", "orgs.csv")
    good = csv_file(workdir, "good.csv", REPORT_HEADER, GOOD_LINE)
    bad = csv_file(
        workdir,
        "bad.csv",
        REPORT_HEADER,
        GOOD_LINE.replace("r1", "r2").replace("org-1", "org-unknown"),
        GOOD_LINE.replace("r1", "r3").replace("5.40", "abc"),
    )
    code, output = run("import", "reports", str(good), str(bad))
    assert code == 2
    assert f"{bad}:3: unit_cost: 'abc' is not a number" in output
    assert f"{bad}:2: organization_id: unknown organization 'org-unknown'" in output
    assert "2 problems found; nothing was imported" in output
    assert stored_report_ids(workdir) == []


def test_price_list_import(workdir: Path) -> None:
    path = write(
        workdir,
        "p.json",
        '[{"sku": "A:1", "product_name": "Microsoft 365 E3", "subscription_type": "csp365",'
        ' "unit_cost": 33.6, "unit_price": 36, "currency": "USD"}]',
    )
    assert run("import", "price-list", str(path)) == (
        0,
        "price list: 1 new, 0 updated, 0 unchanged\n",
    )


def test_bad_settings_stop_before_anything_runs(workdir: Path) -> None:
    (workdir / "billbridge.toml").write_text("[export]\nlag_days = -1\n")
    code, output = run("import", "organizations", "orgs.csv")
    assert code == 2
    assert "export.lag_days: Input should be greater than or equal to 0" in output
    assert not (workdir / "billbridge.db").exists()


def test_usage_errors_exit_2(workdir: Path) -> None:
    assert run("import", "reports")[0] == 2
    assert run("import", "partner-center", "x.csv", "--generated-on", "11/24/2026")[0] == 2

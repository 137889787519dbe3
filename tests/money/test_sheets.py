"""Formula injection: no cell billbridge writes to CSV or XLSX runs as a formula."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.export.sheets import Sheet, safe_cell, write_csv, write_xlsx
from tests.export.conftest import Tenant
from tests.export.data import import_lines, line, seed_store

HOSTILE = [
    "=cmd|'/C calc'!A0",
    "+1+cmd|'/C calc'!A0",
    "-2+3+cmd|'/C calc'!A0",
    "@SUM(1+1)*cmd|'/C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_formula_text_is_made_inert(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["-4.80", "12", "Contoso", "", "a=b", "1-2"])
def test_plain_text_and_numbers_stay_as_they_are(text: str) -> None:
    assert safe_cell(text) == text


def test_csv_and_xlsx_cells_never_hold_a_formula(tmp_path: Path) -> None:
    sheet = Sheet("=evil", ["=header", "amount"], [[t, Decimal("1.50")] for t in HOSTILE],
                  frozenset({1}))  # fmt: skip
    write_csv(tmp_path / "x.csv", sheet)
    with (tmp_path / "x.csv").open(encoding="utf-8", newline="") as handle:
        cells = list(csv.reader(handle))
    assert cells[0] == ["'=header", "amount"]
    assert [row[0] for row in cells[1:]] == ["'" + t for t in HOSTILE]
    write_xlsx(tmp_path / "x.xlsx", [sheet])
    page = load_workbook(tmp_path / "x.xlsx").worksheets[0]
    for row in page.iter_rows():
        assert row[0].data_type == "s", row[0].value
    # XML keeps no bare carriage return: a spreadsheet reads it as a line feed.
    assert [r[0].value for r in page.iter_rows(2)] == ["'" + t.replace("\r", "\n") for t in HOSTILE]
    assert [r[1].value for r in page.iter_rows(2)] == [1.5] * len(HOSTILE)


def test_a_hostile_customer_name_through_reconcile(cli_tenant: Tenant) -> None:
    company = cli_tenant.company("Hostile")
    name = "=cmd|'/C calc'!A0"
    seed_store(cli_tenant.store, cli_tenant.workdir, [("=org", name, company, True)])
    import_lines(
        cli_tenant.store, cli_tenant.workdir, [line("oct", "=org", "2026-10", "@SUM(1+1)")]
    )
    result = CliRunner().invoke(
        app, ["reconcile", "--period", "2026-10", "--csv", "r.csv", "--xlsx", "r.xlsx"]
    )
    assert result.exit_code == 1, result.output
    with Path("r.csv").open(encoding="utf-8", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    assert row["organization_name"] == "'" + name
    assert row["organization_id"] == "'=org"
    assert row["subscription_id"] == "'@SUM(1+1)"
    book = load_workbook("r.xlsx")
    for page in book.worksheets:
        for cells in page.iter_rows():
            for cell in cells:
                assert cell.data_type != "f", (page.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "@")), cell.value

"""Needs attention: a billed charge's refused correction with its amount, a failed report,
unlinked billing, margins and ending terms; resolving one with a note, who and when."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.export.engine import Selection
from billbridge.sandbox import approve_and_post
from tests.export.conftest import Tenant
from tests.export.data import import_lines, line, seed_store
from tests.money.conftest import use_for_cli

PREMIUM = {"sku": "CFQ7TTC0LCHC:0002", "name": "Microsoft 365 Business Premium"}
TODAY = "2026-11-10"


def premium(report: str, seats: str) -> list[str]:
    return line(report, "contoso", "2026-10", "SUB-P", quantity=seats, cost="19.80",
               price="22.00", term=("2026-01-01", "2026-11-30"), **PREMIUM)  # fmt: skip


@pytest.fixture
def billed_then_corrected(
    make_tenant: Callable[..., Tenant], monkeypatch: pytest.MonkeyPatch
) -> Tenant:
    tenant = make_tenant(data=True)
    use_for_cli(tenant, monkeypatch, "[reconcile]\nmargin_floor = 12\n")
    contoso = tenant.company("Contoso Ltd")
    seed_store(
        tenant.store,
        tenant.workdir,
        [
            ("contoso", "Contoso Ltd", contoso, True),
            ("gone", "Gone Corp", 987_654, True),
            ("coho", "Coho Winery", None, True),
        ],
    )
    rows = [
        premium("oct", "25"),
        line("oct", "contoso", "2026-10", "SUB-LOSS", quantity="3", cost="7.00", price="6.50"),
        line("gone-oct", "gone", "2026-10", "SUB-G"),
        line("coho-oct", "coho", "2026-10", "SUB-C", quantity="4"),
    ]
    import_lines(tenant.store, tenant.workdir, rows)
    tenant.engine().export(Selection(report_ids=("oct", "gone-oct")))
    assert approve_and_post(tenant.workdir / "sandbox.db") == 2
    corrected = [premium("oct", "27"), rows[1]]
    import_lines(tenant.store, tenant.workdir, corrected, name="corrected.csv")
    assert tenant.engine().export(Selection(report_ids=("oct",))).summary.conflicts == 1
    return tenant


def attention() -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["attention", "--json", "--today", TODAY])
    return result.exit_code, json.loads(result.output)


def test_everything_that_needs_a_person(billed_then_corrected: Tenant) -> None:
    code, data = attention()
    assert code == 1
    items = {item["kind"]: item for item in data["items"]}
    conflict = items["conflict"]
    charge = next(
        int(str(c["id"])) for c in billed_then_corrected.all("ContractCharges")
        if c["unitQuantity"] in (25, "25", 25.0)
    )  # fmt: skip
    assert conflict["detail"].startswith(
        f"2 more seats x 22.00 = 44.00 USD to bill (charge {charge} is billed)"
    )
    assert (conflict["amount"], conflict["currency"]) == ("44.00", "USD")
    assert conflict["detail"].count("44.00 USD") == 1  # the plan's reason carries it once
    failed = items["failed_report"]
    assert failed["report_id"] == "gone-oct" and "987654" in failed["detail"]
    assert items["unlinked"]["organization_id"] == "coho"
    assert items["unlinked"]["amount"] == "24.00"
    loss = items["below_cost"]
    assert loss["amount"] == "-1.50" and "SUB-LOSS" in loss["title"]
    # 10 % on Premium (and on Basic), under the floor of 12 %.
    floors = [i for i in data["items"] if i["kind"] == "margin_below_floor"]
    [floor] = [i for i in floors if "SUB-P" in i["title"]]
    assert floor["amount"] == "59.40" and "(10.00%)" in floor["detail"]
    term = items["term_ending"]
    assert "2026-11-30" in term["title"] and "in 20 days" in term["detail"]


def test_a_resolved_conflict_is_kept_with_its_note(billed_then_corrected: Tenant) -> None:
    _, data = attention()
    [key] = [i["key"] for i in data["items"] if i["kind"] == "conflict"]
    result = CliRunner().invoke(
        app,
        ["attention", "resolve", key, "--note", "billed 2 seats by hand on INV-1042",
         "--by", "dana", "--today", TODAY],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    _, after = attention()
    assert all(i["key"] != key for i in after["items"])
    [resolved] = after["resolved"]
    assert resolved["resolution"]["note"] == "billed 2 seats by hand on INV-1042"
    assert resolved["resolution"]["by"] == "dana"
    assert date.fromisoformat(resolved["resolution"]["at"][:10]) >= date(2026, 1, 1)
    unknown = CliRunner().invoke(app, ["attention", "resolve", "nope", "--note", "x"])
    assert unknown.exit_code == 2


def test_the_plain_listing_fits_80_columns(billed_then_corrected: Tenant) -> None:
    result = CliRunner().invoke(app, ["attention", "--today", TODAY])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert max(len(t) for t in lines) <= 80
    assert "Conflicts (1)" in lines and "Failed reports (1)" in lines

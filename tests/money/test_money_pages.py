"""The money pages over real HTTP: reconciliation, needs attention, charts, spreadsheet exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest
from openpyxl import load_workbook

from billbridge.autotask import F
from billbridge.export.engine import ExportEngine, Selection
from tests.web.conftest import TODAY, World, csrf_of, login, world

__all__ = ["world"]


def exported(world: World) -> World:
    """The demo's September and October exported, then one charge edited by hand."""
    engine = ExportEngine(world.store, world.settings, world.client)
    engine.export(Selection(due=True, today=TODAY.date()))
    october = [F.gte("datePurchased", "2026-10-01T00:00:00Z")]
    charge = next(iter(world.client.query("ContractCharges", october)))
    world.client.update_child(
        "Contracts", int(charge["contractID"]), "Charges",
        {"id": charge["id"], "unitPrice": str(float(charge["unitPrice"]) + 1)},
    )  # fmt: skip
    return world


@pytest.fixture
def admin(world: World) -> Iterator[httpx.Client]:
    exported(world)
    url = world.serve().url
    with httpx.Client(base_url=url, follow_redirects=False, timeout=60) as client:
        assert login(client, url).status_code == 303
        yield client


def test_reconcile_page_filters_and_exports(admin: httpx.Client) -> None:
    page = admin.get("/reconcile")
    assert page.status_code == 200, page.text
    assert "Reconciliation 2026-10" in page.text
    assert "over-billed" in page.text and "balanced" in page.text
    only = admin.get("/reconcile", params={"period": "2026-10", "status": "over_billed"})
    assert only.text.count('<span class="badge bad">over-billed</span>') == 1
    sheet = admin.get("/reconcile/export.csv", params={"period": "2026-10"})
    assert sheet.status_code == 200
    assert sheet.headers["content-disposition"].endswith('2026-10.csv"')
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert {r["status"] for r in rows} >= {"matched", "over_billed"}
    book = admin.get("/reconcile/export.xlsx", params={"period": "2026-10"})
    assert load_workbook(io.BytesIO(book.content)).sheetnames[0] == "Rows 2026-10"
    assert admin.get("/reconcile", params={"period": "2026-13"}).status_code == 200
    assert admin.get("/reconcile/export.exe", params={"period": "2026-10"}).status_code == 404


def test_attention_resolve_needs_csrf_and_keeps_the_note(admin: httpx.Client) -> None:
    page = admin.get("/attention")
    assert page.status_code == 200, page.text
    assert "Unlinked organizations with billing" in page.text
    key = page.text.split('name="key" value="', 1)[1].split('"', 1)[0]
    refused = admin.post("/attention/resolve", data={"key": key, "note": "done"})
    assert refused.status_code == 403
    token = csrf_of(page.text)
    done = admin.post(
        "/attention/resolve",
        data={"key": key, "note": "called the customer", "by": "dana", "csrf_token": token},
    )
    assert done.status_code == 303
    after = admin.get("/attention").text
    assert "called the customer" in after and "dana" in after


def test_money_page_draws_charts(admin: httpx.Client) -> None:
    page = admin.get("/money")
    assert page.status_code == 200, page.text
    assert page.text.count("<svg") == 3
    assert "Azure spend per customer" in page.text
    assert "Revenue per customer per month" in page.text

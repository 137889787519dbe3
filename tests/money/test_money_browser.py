"""The money pages in a real browser (Debian's Chromium, headless, via Playwright); each page
is saved to `test-artifacts/screenshots/` as `money-*.png` for people to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.money.test_money_pages import exported
from tests.web.conftest import PASSWORD, World, world
from tests.web.test_web_browser import CHROMIUM, SCREENSHOTS, page

__all__ = ["page", "world"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"money-{name}.png"), full_page=True)


def test_reconcile_attention_and_charts(world: World, page: Page) -> None:
    p = page
    url = exported(world).serve().url
    p.goto(f"{url}/login")
    p.get_by_label("Admin password").fill(PASSWORD)
    p.get_by_role("button", name="Log in").click()
    expect(p.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(p.get_by_role("heading", name="Billing 2026-10")).to_be_visible()
    shot(p, "00-dashboard")

    p.get_by_role("link", name="Reconcile", exact=True).click()
    expect(p.get_by_role("heading", name="Reconciliation 2026-10")).to_be_visible()
    expect(p.get_by_text("balanced", exact=True)).to_be_visible()
    shot(p, "01-reconcile")
    p.get_by_label("Status").select_option("over_billed")
    p.get_by_role("button", name="Show").click()
    expect(p.locator("table.reconcile tbody tr")).to_have_count(1)
    shot(p, "02-reconcile-over-billed")
    with p.expect_download() as download:
        p.get_by_role("link", name="Export XLSX").click()
    assert download.value.suggested_filename == "billbridge-reconcile-2026-10.xlsx"

    p.get_by_role("link", name="Attention", exact=True).click()
    expect(p.get_by_role("heading", name="Needs attention")).to_be_visible()
    shot(p, "03-attention")
    first = p.locator("form.resolve-form").first
    first.get_by_placeholder("What was done").fill("Linked in Autotask next week")
    first.get_by_placeholder("Your name").fill("dana")
    first.get_by_role("button", name="Resolve").click()
    expect(p.get_by_role("status")).to_contain_text("Resolved:")
    expect(p.get_by_role("cell", name="Linked in Autotask next week")).to_be_visible()
    shot(p, "04-attention-resolved")

    p.get_by_role("link", name="Money", exact=True).click()
    expect(p.get_by_role("img", name="Azure spend per customer", exact=False)).to_be_visible()
    expect(p.locator("svg.chart")).to_have_count(3)
    shot(p, "05-money")

    p.get_by_role("link", name="Reports", exact=True).click()
    expect(p.get_by_role("columnheader", name="Margin")).to_be_visible()
    shot(p, "06-reports")
    p.get_by_role("link", name="Runs", exact=True).click()
    expect(p.get_by_role("columnheader", name="Billing")).to_be_visible()
    shot(p, "07-runs")
    p.get_by_role("link", name="Organizations", exact=True).click()
    p.get_by_role("link", name="Contoso Ltd").click()
    expect(p.get_by_role("heading", name="Billing per month")).to_be_visible()
    shot(p, "08-organization")

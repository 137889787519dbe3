"""A first-time user's hour in a real browser (Debian's Chromium, headless, via Playwright):
log in, link an organization from a suggestion, preview a plan, export, open the run.

Each page is saved to `test-artifacts/screenshots/` for people to look at.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.web.conftest import PASSWORD, World, correct_contoso

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed at /usr/bin/chromium (`make test` installs"
        " it when it runs as root)",
    ),
]


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 860})
            yield context.new_page()
            context.close()
        finally:
            browser.close()


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_log_in_link_preview_export_and_open_the_run(world: World, page: Page) -> None:
    p = page
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    url = world.serve().url

    # Every page asks for the password first.
    p.goto(f"{url}/")
    expect(p).to_have_url(f"{url}/login?next=/")
    shot(p, "01-login")
    p.get_by_label("Admin password").fill("not the password")
    p.get_by_role("button", name="Log in").click()
    expect(p.get_by_role("alert")).to_have_text("Wrong password.")
    p.get_by_label("Admin password").fill(PASSWORD)
    p.get_by_role("button", name="Log in").click()
    expect(p.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(p.get_by_text("2026-11-11 02:00")).to_be_visible()
    shot(p, "02-dashboard")

    # Link Fabrikam from the suggestion of the company list in Autotask.
    p.get_by_role("link", name="Organizations", exact=True).click()
    expect(p.get_by_role("heading", name="Organizations")).to_be_visible()
    shot(p, "03-organizations")
    p.get_by_role("link", name="Fabrikam, Inc.").click()
    expect(p.get_by_text("Fabrikam Logistics")).to_be_visible()
    shot(p, "04-organization-suggestions")
    p.get_by_role("button", name="Link to Fabrikam Inc").click()
    expect(p.get_by_role("status")).to_contain_text("Linked Fabrikam, Inc.")
    shot(p, "05-organization-linked")
    fabrikam = world.organization_id("Fabrikam, Inc.")
    with world.store.transaction() as uow:
        linked = uow.organizations.get(fabrikam)
    assert linked is not None and linked.autotask_company_id is not None

    # Preview what exporting Fabrikam's October report would write.
    p.get_by_role("link", name="Reports", exact=True).click()
    expect(p.get_by_role("heading", name="Reports")).to_be_visible()
    shot(p, "06-reports")
    p.get_by_role("link", name="bb-2026-10-fabrikam").click()
    expect(p.get_by_text("Would create")).to_be_visible()
    expect(p.get_by_text("would export")).to_be_visible()
    shot(p, "07-report-plan")

    # Export it, and land on its run.
    p.get_by_role("button", name="Export now").click()
    expect(p.get_by_role("heading", name="Run 1")).to_be_visible()
    expect(p.get_by_role("status")).to_contain_text("Run 1 finished")
    shot(p, "08-run")

    # Export everything due, then open that run from the history.
    p.get_by_role("link", name="Dashboard").click()
    p.get_by_role("button", name="Export all due now").click()
    expect(p.get_by_role("heading", name="Run 2")).to_be_visible()
    p.get_by_role("link", name="Runs", exact=True).click()
    shot(p, "09-runs")
    p.get_by_role("link", name="2", exact=True).click()
    expect(p.get_by_text("Skipped reports")).to_be_visible()
    shot(p, "10-run-due")

    # A charge billed meanwhile, then a corrected report: the run shows the conflict.
    world.sandbox.runtime.tenant.approve_and_post(date(2026, 10, 31))
    correct_contoso(world)
    p.goto(f"{url}/reports/bb-2026-10-contoso")
    expect(p.get_by_text("refuse 1 conflict")).to_be_visible()
    shot(p, "11-report-conflict-plan")
    p.get_by_role("button", name="Export now").click()
    expect(p.get_by_text("Conflicts: a person must decide")).to_be_visible()
    shot(p, "12-run-conflict")

    p.get_by_role("link", name="Doctor").click()
    expect(p.get_by_role("heading", name="Doctor")).to_be_visible()
    shot(p, "13-doctor")
    p.get_by_role("link", name="Settings").click()
    expect(p.get_by_text("admin_password")).to_be_visible()
    assert PASSWORD not in p.content()
    shot(p, "14-settings")

    p.get_by_role("button", name="Log out").click()
    expect(p.get_by_text("You are logged out.")).to_be_visible()
    p.goto(f"{url}/runs")
    expect(p).to_have_url(f"{url}/login?next=/runs")

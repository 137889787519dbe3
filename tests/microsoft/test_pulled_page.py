"""The web admin's "Pulled" page in a real browser: what was pulled, and what failed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from playwright.sync_api import Page, expect
from pydantic import SecretStr

from billbridge.config import WebSettings
from billbridge.export.daily import DailyCheck
from billbridge.web import create_web_app
from tests.microsoft.conftest import RECON_INVOICE, USAGE_INVOICE, PullFactory
from tests.web.conftest import PASSWORD, ServedApp
from tests.web.test_web_browser import CHROMIUM, shot
from tests.web.test_web_browser import page as page  # the browser page fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


def test_the_pulled_page_lists_each_invoice(make_pull: PullFactory, page: Page) -> None:
    pulling = make_pull()
    pulling.pull(invoice_ids=[RECON_INVOICE])
    settings = replace(
        pulling.settings,
        web=WebSettings(admin_password=SecretStr(PASSWORD), session_secret=SecretStr("s" * 32)),
    )
    daily = DailyCheck(
        settings.export.check_time, export=lambda day: None, has_run=lambda day: True
    )
    daily.last_pull_error = "CredentialsError: partner_center.client_secret is wrong"
    served = ServedApp(create_web_app(settings, pulling.store, daily=daily), settings)
    try:
        page.goto(f"{served.url}/pulls")
        page.get_by_label("Admin password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Pulled from Microsoft")).to_be_visible()
        row = page.get_by_role("row").filter(has_text=RECON_INVOICE)
        expect(row).to_contain_text("2025-12-08")
        expect(row).to_contain_text("imported")
        expect(row.get_by_role("link").first).to_have_attribute(
            "href", "/reports/pc-invoice-2025-11-3f1b2c4d-4444-4aaa-8bbb-000000000004"
        )
        expect(page.get_by_role("alert")).to_contain_text("client_secret is wrong")
        expect(page.get_by_text(USAGE_INVOICE)).to_have_count(0)
        shot(page, "pulled-from-microsoft")
        page.get_by_role("link", name="Pulled").click()
        expect(page).to_have_url(f"{served.url}/pulls")
    finally:
        served.stop()

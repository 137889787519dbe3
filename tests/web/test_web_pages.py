"""What the pages show and do, over real HTTP against the sandbox: linking, plan previews,
exports, runs with their conflicts and errors, doctor, settings, the daily check."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import date

import httpx
import pytest

from billbridge.autotask import F
from billbridge.config import ExportSettings
from billbridge.domain.organization import Organization
from billbridge.export.daily import DailyCheck
from billbridge.store.runs import OperationRecord, ReportRecord, RunTotals
from billbridge.web import create_web_app
from tests.web.conftest import TODAY, ServedApp, World, correct_contoso, csrf_of, login


@pytest.fixture
def browser(world: World) -> Iterator[httpx.Client]:
    """A logged-in client of a fresh world's admin that follows redirects, as a browser does."""
    url = world.serve().url
    with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
        assert login(client, url).status_code == 200
        yield client


def post(client: httpx.Client, path: str, **data: str | list[str]) -> httpx.Response:
    token = csrf_of(client.get("/").text)
    return client.post(path, data={"csrf_token": token, **data})


def flashes(html: str) -> str:
    return " ".join(part.split("</div>")[0] for part in html.split('class="flash ')[1:])


def test_dashboard_shows_the_daily_check_what_is_due_and_what_is_unlinked(
    browser: httpx.Client,
) -> None:
    html = browser.get("/").text
    assert "2026-11-11 02:00" in html and "In 16 h 30 min" in html
    assert "24 reports" in html and "6 of them skipped" in html  # Coho, Fabrikam, Fourth Coffee
    assert "Coho Winery" in html and "Fabrikam, Inc." in html
    assert "No exports yet." in html


def test_organizations_are_searched_by_name_domain_and_id(browser: httpx.Client) -> None:
    assert "Northwind Traders" in browser.get("/organizations", params={"q": "north"}).text
    by_domain = browser.get("/organizations", params={"q": "litwareinc.com"}).text
    assert "Litware, Inc." in by_domain and "Northwind" not in by_domain
    by_id = browser.get("/organizations", params={"q": "0003-4c1e"}).text
    assert "Northwind Traders" in by_id and "Contoso" not in by_id
    unlinked = browser.get("/organizations", params={"show": "unlinked"}).text
    assert "Coho Winery" in unlinked and "Contoso Ltd" not in unlinked


def test_an_organization_is_linked_from_a_suggestion_and_unlinked(
    world: World, browser: httpx.Client
) -> None:
    fabrikam = world.organization_id("Fabrikam, Inc.")
    listing = browser.get("/organizations", params={"show": "unlinked"}).text
    assert "Fabrikam Inc" in listing and "same name" in listing
    page = browser.get(f"/organizations/{fabrikam}").text
    # ranked: the same name first, the namesake below it
    assert page.index("Fabrikam Inc<") < page.index("Fabrikam Logistics")
    company = _company_id(world, "Fabrikam Inc")
    linked = post(browser, f"/organizations/{fabrikam}/link", company_id=str(company))
    assert f"Linked Fabrikam, Inc. ({fabrikam}) to Fabrikam Inc ({company})" in flashes(linked.text)
    assert _link(world, fabrikam) == company
    unlinked = post(browser, f"/organizations/{fabrikam}/unlink")
    assert "Unlinked Fabrikam, Inc." in flashes(unlinked.text)
    assert _link(world, fabrikam) is None


def test_link_errors_are_explained(world: World, browser: httpx.Client) -> None:
    coho = world.organization_id("Coho Winery")
    missing = post(browser, f"/organizations/{coho}/link", company_id="987654")
    assert "Not linked: Autotask has no company 987654." in flashes(missing.text)
    closed = world.client.create(
        "Companies",
        {
            "companyName": "Coho Winery (closed)",
            "companyType": world.client.picklist_value("Companies", "companyType", "Customer"),
            "ownerResourceID": _resource(world),
            "phone": "+1 425 555 0199",
            "isActive": False,
        },
    )
    inactive = post(browser, f"/organizations/{coho}/link", company_id=str(closed))
    assert "is inactive in Autotask" in flashes(inactive.text)
    nonsense = post(browser, f"/organizations/{coho}/link", company_id="abc")
    assert "is not an Autotask company id" in flashes(nonsense.text)
    unknown = post(browser, "/organizations/no-such-org/link", company_id="10001")
    assert "There is no organization &#39;no-such-org&#39;." in flashes(unknown.text)
    assert str(unknown.url).endswith("/organizations")
    assert _link(world, coho) is None


def test_link_all_exact_matches(world: World, browser: httpx.Client) -> None:
    page = post(browser, "/organizations/link-exact", return_to="/organizations")
    fabrikam = world.organization_id("Fabrikam, Inc.")
    assert "Linked 1 by exact name or domain: Fabrikam, Inc. to Fabrikam Inc" in flashes(page.text)
    assert _link(world, fabrikam) == _company_id(world, "Fabrikam Inc")


def test_reports_show_their_state(world: World, browser: httpx.Client) -> None:
    html = browser.get("/reports").text
    assert "unmapped: not linked to an Autotask company" in html  # Coho, Fabrikam
    assert "inactive organization" in html  # Fourth Coffee
    due = browser.get("/reports", params={"state": "due"}).text
    assert "bb-2026-10-contoso" in due and "bb-2026-10-cohowinery" not in due
    # before its due day, a report is "not yet due"
    with world.store.transaction() as uow:
        uow.exports.mark_exported("bb-2026-09-contoso", "an older content", 0)
    changed = browser.get("/reports", params={"q": "2026-09-contoso"}).text
    assert "corrected (revision 1) since it was exported" in changed


def test_a_plan_preview_shows_every_operation_and_writes_nothing(
    world: World, browser: httpx.Client
) -> None:
    html = browser.get("/reports/bb-2026-10-contoso").text
    assert "would export" in html
    assert "Would create 6, update 0, leave 0 unchanged" in html
    assert html.count('<span class="badge good">create</span>') == 6
    assert "Microsoft 365 Business Premium (9722df52)" in html
    assert _count(world, "Contracts") == 0
    with world.store.transaction() as uow:
        assert uow.runs.recent(5) == []
    skipped = browser.get("/reports/bb-2026-10-cohowinery").text
    assert "would be skipped" in skipped and "unmapped" in skipped


def test_a_plan_preview_lists_look_alike_contracts(world: World, browser: httpx.Client) -> None:
    contoso = world.companies["Contoso Ltd"]
    world.client.create(
        "Contracts",
        {
            "companyID": contoso,
            "contractName": "Microsoft 365 Business Premium (by hand)",
            "contractType": 7,
            "status": 1,
            "contractPeriodType": world.client.picklist_value(
                "Contracts", "contractPeriodType", "Monthly"
            ),
            "startDate": "2026-01-01T12:00:00Z",
            "endDate": "2026-12-31T12:00:00Z",
            "timeReportingRequiresStartAndStopTimes": 1,
        },
    )
    html = browser.get("/reports/bb-2026-10-contoso").text
    assert "possible duplicate: contract" in html


def test_export_now_runs_the_export_and_shows_the_run(world: World, browser: httpx.Client) -> None:
    page = post(browser, "/reports/bb-2026-10-contoso/export")
    assert str(page.url).endswith("/runs/1")
    assert "Run 1 finished: 6 created, 0 updated" in flashes(page.text)
    assert '<span class="badge good">succeeded</span>' in page.text
    assert page.text.count('<span class="badge good">done</span>') == 6
    assert _count(world, "Contracts") == 2
    again = post(browser, "/reports/bb-2026-10-contoso/export")
    assert "Run 2 finished: 0 created, 0 updated, 6 unchanged" in flashes(again.text)
    assert "exported in its current content" in browser.get("/reports/bb-2026-10-contoso").text
    assert "Unchanged" in browser.get("/runs").text
    data = browser.get("/runs/1.json").json()
    assert data["run_id"] == 1 and data["summary"]["created"] == 6
    assert data["reports"][0]["report_id"] == "bb-2026-10-contoso"


def test_export_selected_and_all_due(world: World, browser: httpx.Client) -> None:
    nothing = post(browser, "/reports/export")
    assert "Select the reports to export first." in flashes(nothing.text)
    selected = post(
        browser, "/reports/export", report_id=["bb-2026-09-contoso", "bb-2026-09-litwareinc"]
    )
    assert str(selected.url).endswith("/runs/1")
    assert "Run 1 finished: 12 created" in flashes(selected.text)
    assert "bb-2026-09-litwareinc" in selected.text and "bb-2026-10-contoso" not in selected.text
    due = post(browser, "/reports/export", due="1", return_to="/")
    assert "/runs/2" in str(due.url)
    html = due.text
    assert "Skipped reports" in html and "bb-2026-10-cohowinery" in html
    assert "Link the organization" in html  # unmapped ones lead to the fix
    again = post(browser, "/reports/export", due="1")
    assert "/runs/3" in str(again.url)  # the skipped ones stay due
    with world.store.transaction() as uow:
        assert [r.trigger for r in uow.runs.recent(5)] == ["web", "web", "web"]


def test_an_export_while_another_runs_says_so(world: World, browser: httpx.Client) -> None:
    with world.store.exclusive("export"):
        page = post(browser, "/reports/bb-2026-10-contoso/export")
    assert "The export did not run: another export is running" in flashes(page.text)
    assert "try again when it has finished" in flashes(page.text)
    assert str(page.url).endswith("/reports/bb-2026-10-contoso")


def test_an_export_the_tenant_does_not_fit_says_what_to_fix(world: World) -> None:
    settings = dataclasses.replace(
        world.settings,
        export=ExportSettings(product_billing_code="No Such Billing Code"),
    )
    url = world.serve(settings).url
    with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
        login(client, url)
        page = post(client, "/reports/bb-2026-10-contoso/export")
        assert "The export did not run: nothing was written:" in flashes(page.text)
        assert "No Such Billing Code" in flashes(page.text)
        assert "The plan could not be made" in page.text


def test_an_export_stopped_by_a_fatal_error_shows_its_run_and_the_exact_text(
    world: World, browser: httpx.Client
) -> None:
    text = "User does not have adequate permissions to create Contracts."
    world.sandbox.runtime.reject_writes("Contracts", text=text, times=1)
    page = post(browser, "/reports/bb-2026-10-contoso/export")
    assert "the export stopped (run" in flashes(page.text)
    assert "The run stopped:" in page.text and text in page.text
    assert '<span class="badge bad">failed</span>' in page.text
    runs = browser.get("/runs").text
    assert "stopped: " in runs and "adequate permissions" in runs


def test_a_long_export_shows_its_run_while_it_goes_on(world: World) -> None:
    url = world.serve(export_wait_s=0.0).url
    world.sandbox.runtime.latency_s = 0.01
    with httpx.Client(base_url=url, follow_redirects=True, timeout=60) as client:
        login(client, url)
        page = post(client, "/reports/export", due="1")
        assert "The export is running" in flashes(page.text)
        assert str(page.url).endswith("/runs/1")
        assert '<meta http-equiv="refresh" content="2">' in page.text
        assert "The export is running:" in page.text
        # the run page follows the export until it has finished, then stops refreshing
        deadline = time.monotonic() + 60
        while '<meta http-equiv="refresh"' in client.get("/runs/1").text:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert "partly failed" not in client.get("/runs/1").text


def test_a_run_shows_conflicts_failures_and_exact_autotask_errors(
    world: World, browser: httpx.Client
) -> None:
    # a report whose company Autotask does not know fails with a clear reason
    coho = world.organization_id("Coho Winery")
    with world.store.transaction() as uow:
        uow.organizations.link(coho, 999999)
    page = post(browser, "/reports/bb-2026-10-cohowinery/export")
    assert "needs a look" in flashes(page.text)
    assert "company 999999 does not exist in Autotask" in page.text
    # a corrected report whose charge was billed meanwhile is a conflict
    post(browser, "/reports/bb-2026-10-contoso/export")
    world.sandbox.runtime.tenant.approve_and_post(date(2026, 10, 31))
    correct_contoso(world)
    conflict = post(browser, "/reports/bb-2026-10-contoso/export")
    assert "Conflicts: a person must decide" in conflict.text
    assert '<tr class="conflict">' in conflict.text and "billed" in conflict.text
    assert "more seats x" in conflict.text and "USD to bill (charge" in conflict.text
    assert '<span class="badge warn">needs attention</span>' in conflict.text
    assert "<h2>Billing</h2>" in conflict.text
    reports = browser.get("/reports").text
    row = reports.split("bb-2026-10-contoso</a>", 1)[1].split("</tr>", 1)[0]
    assert row.count('<span class="badge warn">needs attention</span>') == 2  # state, last run
    assert "a conflict needs a person" in row and "badge good" not in row
    # a write Autotask refused, with its words, and one whose outcome is unknown
    with world.store.transaction() as uow:
        run_id = uow.runs.start("cli", None)
        warning = "sku X is not in the price list; its product takes the report's name"
        uow.runs.record_reports(
            run_id,
            [ReportRecord("bb-2026-10-contoso", 2, "h", "org", "failed", "rejected", [warning])],
        )
        op_ids = uow.runs.add_operations(
            run_id,
            [
                OperationRecord(
                    "bb-2026-10-contoso", n, "create", "Contract", f"10001/s{n}", None, {}, None,
                    "planned",
                )
                for n in range(2)
            ],
        )  # fmt: skip
        uow.runs.set_operation_state(
            op_ids[:1], "failed", error="400 Bad Request: contractName: Value is too long <&>"
        )
        uow.runs.set_operation_state(op_ids[1:], "unknown", error="lost: resolved by key")
        uow.runs.finish(run_id, "partly_failed", RunTotals(failed_reports=1))
    failed = browser.get(f"/runs/{run_id}").text
    assert "Failed writes" in failed and "lost: resolved by key" in failed
    assert "Warnings" in failed and "is not in the price list" in failed
    assert "400 Bad Request: contractName: Value is too long &lt;&amp;&gt;" in failed
    assert '<span class="badge warn">unknown</span>' in failed
    # a fatal stop, word for word
    with world.store.transaction() as uow:
        stopped_id = uow.runs.start("cli", None)
        text = "User does not have adequate permissions to create Contracts. <b>"
        uow.runs.finish(stopped_id, "failed", RunTotals(), text)
    stopped = browser.get(f"/runs/{stopped_id}").text
    assert "The run stopped:" in stopped
    assert "permissions to create Contracts. &lt;b&gt;" in stopped


def test_settings_are_read_only_and_masked(browser: httpx.Client) -> None:
    html = browser.get("/settings").text
    assert "product_billing_code" in html and "Microsoft Licensing" in html
    for key in ("secret", "integration_code", "admin_password", "session_secret"):
        assert f'{key}</th><td class="mono">********</td>' in html
    assert "<form" not in html.split("</header>")[1]


def test_doctor_shows_the_checks_and_what_to_do(browser: httpx.Client) -> None:
    html = browser.get("/doctor").text
    assert "organizations without a company" in html
    assert "<code>billbridge map --suggest</code>" in html
    assert 'href="/organizations?show=unlinked"' in html
    assert "contract UDF" in html


def test_unknown_things_are_404_pages(browser: httpx.Client) -> None:
    for path in ("/reports/nope", "/runs/99", "/runs/x", "/organizations/nope", "/nope"):
        response = browser.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.text
    assert browser.get("/runs/99.json").status_code == 404


def _company_id(world: World, name: str) -> int:
    return next(
        int(c["id"])
        for c in world.client.query("Companies", [F.gte("id", 0)])
        if c["companyName"] == name
    )


def _link(world: World, organization_id: str) -> int | None:
    with world.store.transaction() as uow:
        found = uow.organizations.get(organization_id)
    assert found is not None
    return found.autotask_company_id


def _count(world: World, entity: str) -> int:
    return len(list(world.client.query(entity, [F.gte("id", 0)])))


def _resource(world: World) -> object:
    return next(iter(world.client.query("Resources", [F.eq("isActive", True)])))["id"]


def test_long_lists_come_in_pages(world: World, browser: httpx.Client) -> None:
    with world.store.transaction() as uow:
        uow.organizations.upsert(
            [Organization(f"extra-{n:03d}", f"Extra Customer {n:03d}") for n in range(60)],
            keep_links=False,
        )
    first = browser.get("/organizations", params={"q": "extra"}).text
    assert "1–50 of 60" in first and "Extra Customer 049" in first
    assert "Extra Customer 050" not in first
    assert 'href="?q=extra&amp;page=2"' in first
    second = browser.get("/organizations", params={"q": "extra", "page": "2"}).text
    assert "51–60 of 60" in second and "Extra Customer 059" in second
    assert "Extra Customer 049" not in second


def test_the_dashboard_shows_why_the_last_daily_check_failed(world: World) -> None:
    daily = DailyCheck(
        world.settings.export.check_time,
        export=lambda day: None,
        has_run=lambda day: False,
        clock=lambda: TODAY,
    )
    daily.last_error = "SettingsError: autotask.secret: is not set"
    served = ServedApp(
        create_web_app(world.settings, world.store, daily=daily, clock=lambda: TODAY),
        world.settings,
    )
    world.served.append(served)
    with httpx.Client(base_url=served.url, timeout=30) as client:
        login(client, served.url)
        html = client.get("/").text
    assert "SettingsError: autotask.secret: is not set" in html
    assert "2026-11-10 09:30" in html  # overdue: the check runs now

"""`billbridge demo`: a provider's month-end, start to finish, against the in-process sandbox.

It plays what a new user does in their first hour: the sandbox tenant gets the provider's
customer companies (as they would already exist in Autotask), billbridge imports the bundled
organizations, price list and two months of reports, links organizations to companies by exact
name, shows the plan, exports, exports again (nothing is written twice). Then the automatic path:
on December 8 the daily check pulls November's invoice from Microsoft (the sandbox's emulator,
serving `demo_data/pc-*.csv`), exports it when due, and a second pull finds nothing new.
Last, it prints what landed.
"""

from __future__ import annotations

import tempfile
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from rich.console import Console

from billbridge.autotask import AutotaskClient, F
from billbridge.config import (
    AutotaskSettings,
    DatabaseSettings,
    ExportSettings,
    PartnerCenterSettings,
    Settings,
    WebSettings,
)
from billbridge.export.connection import client_from_settings
from billbridge.export.engine import ExportEngine, Selection
from billbridge.importing import import_organizations, import_price_list, import_reports
from billbridge.pulling import pull_partner_center
from billbridge.render import amounts_by_company, changed_records, run_result, summary_line
from billbridge.sandbox import RunningSandbox, SandboxOptions, microsoft, start_in_background
from billbridge.store import Store

DATA = resources.files("billbridge") / "demo_data"
# Coho Winery has no company in Autotask yet: its reports are skipped as unmapped.
WITHOUT_COMPANY = {"Coho Winery"}


def sandbox_settings(sandbox: RunningSandbox, database_url: str, **export: Any) -> Settings:
    """Settings of billbridge pointed at a running sandbox (demo, benchmarks, tests)."""
    return Settings(
        database=DatabaseSettings(url=database_url),
        autotask=AutotaskSettings(
            zone_lookup_url=sandbox.zone_lookup_url,
            username=sandbox.username,
            secret=SecretStr(sandbox.secret),
            integration_code=SecretStr(sandbox.integration_code),
        ),
        export=ExportSettings(product_billing_code="Microsoft Licensing", **export),
        web=WebSettings(),
        partner_center=emulator_partner_center(sandbox),
    )


def emulator_partner_center(sandbox: RunningSandbox, **overrides: Any) -> PartnerCenterSettings:
    """`[partner_center]` settings pointed at the sandbox's Microsoft emulator."""
    values: dict[str, Any] = {
        "tenant_id": microsoft.TENANT_ID,
        "client_id": microsoft.CLIENT_ID,
        "client_secret": SecretStr(microsoft.CLIENT_SECRET),
        "poll_deadline_s": 60.0,
        **sandbox.microsoft_urls,
    }
    return PartnerCenterSettings(**(values | overrides))


def demo_files() -> dict[str, Path]:
    names = ("organizations.csv", "price-list.csv", "reports-2026-09.csv", "reports-2026-10.csv")
    return {name: Path(str(DATA / name)) for name in names}


def partner_center_files() -> tuple[Path, ...]:
    """November's invoice as Microsoft's emulator serves it (reconciliation and usage)."""
    names = ("pc-invoice-recon-2026-11.csv", "pc-daily-usage-2026-11.csv")
    return tuple(Path(str(DATA / name)) for name in names)


def run_demo(console: Console, keep: Path | None = None) -> int:
    workdir = keep or Path(tempfile.mkdtemp(prefix="billbridge-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    sandbox_data = workdir / "sandbox.db" if keep else None
    options = SandboxOptions(port=0, data=sandbox_data, partner_center=partner_center_files())
    with start_in_background(options) as sandbox:
        settings = sandbox_settings(sandbox, f"sqlite:///{workdir / 'billbridge.db'}")
        console.rule("billbridge demo")
        console.print(f"Autotask sandbox at {sandbox.base_url}")
        console.print(f"API user: {sandbox.username}")
        console.print(f"state store: {workdir / 'billbridge.db'}")
        store = Store(settings.database.url)
        try:
            with client_from_settings(settings) as client:
                return _play(console, store, settings, client, sandbox_data)
        finally:
            store.close()


def _play(
    console: Console,
    store: Store,
    settings: Settings,
    client: AutotaskClient,
    sandbox_data: Path | None = None,
) -> int:
    files = demo_files()
    console.rule("1. The Autotask tenant has the provider's customers as companies")
    companies = _ensure_companies(client, files["organizations.csv"])
    console.print(f"{len(companies)} companies in Autotask")

    console.rule("2. Import organizations, price list and two months of reports")
    console.print(f"organizations: {import_organizations(store, [files['organizations.csv']])}")
    console.print(f"price list: {import_price_list(store, [files['price-list.csv']])}")
    reports = import_reports(store, [files["reports-2026-09.csv"], files["reports-2026-10.csv"]])
    console.print(f"reports: {reports}")

    console.rule("3. Link organizations to companies by exact name")
    linked = _link_by_name(store, companies)
    console.print(f"linked {linked} organizations; Coho Winery has no company yet")

    engine = ExportEngine(store, settings, client)
    september_check, october_check = date(2026, 10, 10), date(2026, 11, 10)
    console.rule(f"4. Plan for the daily check of {september_check}: nothing is written yet")
    plan = engine.plan(Selection(due=True, today=september_check))
    console.print(summary_line(plan, planned=True))

    console.rule(f"5. Daily check of {september_check}: September's reports are due")
    first = engine.export(Selection(due=True, today=september_check), trigger="demo")
    run_result(console, first, planned=False)

    console.rule(f"6. Daily check of {october_check}: October, with a renewal and seat changes")
    second = engine.export(Selection(due=True, today=october_check), trigger="demo")
    run_result(console, second, planned=False, run_hint=False)
    changed_records(console, second)

    console.rule("7. Export everything again: exactly once, nothing is written twice")
    again = engine.export(Selection(tuple(reports.report_ids)), trigger="demo")
    console.print(summary_line(again, planned=False))

    november = _pull_and_export(console, store, settings, engine)

    console.rule("11. What landed in Autotask")
    _show_tenant(console, client)
    if sandbox_data is not None:
        console.print(
            f"Try it yourself: run `billbridge sandbox --data {sandbox_data}`,\n"
            f"point billbridge.toml at it (state store: {sandbox_data.parent / 'billbridge.db'}),\n"
            "and see the README."
        )
    else:
        console.print(
            "Try it yourself: `billbridge demo --keep demo/` keeps the tenant and the\n"
            "state store; then run `billbridge sandbox --data demo/sandbox.db` and see\n"
            "the README."
        )
    return max(first.exit_code, second.exit_code, again.exit_code, november)


def _pull_and_export(
    console: Console, store: Store, settings: Settings, engine: ExportEngine
) -> int:
    """November: nobody downloads a file; the daily check pulls, then exports when due."""
    invoice_day, due_day = date(2026, 12, 8), date(2026, 12, 12)
    console.rule(f"8. Daily check of {invoice_day}: November's invoice pulled from Microsoft")
    console.print(f"Microsoft (emulated) at {settings.partner_center.graph_url}")
    pulled = pull_partner_center(store, settings, today=invoice_day)
    for invoice in pulled.invoices:
        console.print(
            f"invoice {invoice.invoice_id} of {invoice.invoice_date}: {invoice.status},"
            f" {invoice.rows} rows\n  {invoice.detail}"
        )
    lag = settings.export.lag_days
    console.print(f"its reports are dated {invoice_day}: due {lag} days later (export.lag_days)")

    console.rule(f"9. Daily check of {due_day}: the pulled reports are due and exported")
    exported = engine.export(Selection(due=True, today=due_day), trigger="demo")
    console.print(summary_line(exported, planned=False))

    console.rule("10. Pull again: nothing new at Microsoft, no export started")
    again = pull_partner_center(store, settings, today=due_day)
    console.print(f"{len(again.invoices)} invoices to pull; every invoice is already pulled")
    return max(pulled.exit_code, exported.exit_code, again.exit_code)


def _ensure_companies(client: AutotaskClient, organizations: Path) -> dict[str, int]:
    import csv

    owner = next(iter(client.query("Resources", [F.eq("isActive", True)])))["id"]
    existing = {c["companyName"]: int(c["id"]) for c in client.query("Companies", [F.gte("id", 0)])}
    with organizations.open(encoding="utf-8") as handle:
        names = [row["name"] for row in csv.DictReader(handle)]
    for name in names:
        if name in WITHOUT_COMPANY or name in existing:
            continue
        existing[name] = client.create(
            "Companies",
            {
                "companyName": name,
                "companyType": client.picklist_value("Companies", "companyType", "Customer"),
                "ownerResourceID": owner,
                "phone": "+1 425 555 0100",
            },
        )
    return existing


def _link_by_name(store: Store, companies: dict[str, int]) -> int:
    linked = 0
    with store.transaction() as uow:
        for organization in uow.organizations.all():
            company_id = companies.get(organization.name)
            if company_id is not None and organization.autotask_company_id != company_id:
                uow.organizations.link(organization.organization_id, company_id)
                linked += 1
    return linked


def _show_tenant(console: Console, client: AutotaskClient) -> None:
    companies = {
        int(c["id"]): c["companyName"] for c in client.query("Companies", [F.gte("id", 0)])
    }
    contracts = {int(c["id"]): c for c in client.query("Contracts", [F.gte("id", 0)])}
    charges = list(client.query("ContractCharges", [F.gte("id", 0)]))
    products = list(client.query("Products", [F.gte("id", 0)]))
    console.print(f"{len(contracts)} contracts, {len(charges)} charges, {len(products)} products")
    amounts = [
        (
            companies.get(int(contracts[int(charge["contractID"])]["companyID"]), "?"),
            str(charge["datePurchased"])[:7],
            Decimal(str(charge["unitQuantity"])) * Decimal(str(charge["unitPrice"])),
        )
        for charge in charges
    ]
    amounts_by_company(console, amounts, currency="USD")

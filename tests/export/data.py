"""Report data for the export tests, imported through the real import path."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

from billbridge.importing import import_organizations, import_price_list, import_reports
from billbridge.store import Store

REPORT_COLUMNS = (
    "report_id,organization_id,generated_on,period_start,period_end,currency,subscription_id,"
    "subscription_type,sku,product_name,quantity,unit_cost,unit_price,subscription_start,"
    "subscription_end"
).split(",")
PRICE_LIST = [
    ("CFQ7TTC0LH18:0001", "Microsoft 365 Business Basic", "csp365", "5.40", "6.00"),
    ("CFQ7TTC0LCHC:0002", "Microsoft 365 Business Premium", "csp365", "19.80", "22.00"),
    ("DZH318Z0BXWC:0002", "Barracuda WAF-as-a-Service", "marketplace", "180", "210"),
    ("DG7GMGF0D7FV:0002", "Office LTSC Professional Plus 2021", "perpetual", "428", "499"),
]
PERIODS = {
    "2026-09": ("2026-09-01", "2026-09-30", "2026-10-06"),
    "2026-10": ("2026-10-01", "2026-10-31", "2026-11-06"),
}


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def seed_store(
    store: Store, workdir: Path, organizations: Sequence[tuple[str, str, int | None, bool]]
) -> None:
    rows = [
        (oid, name, "", company or "", "true" if active else "false")
        for oid, name, company, active in organizations
    ]
    import_organizations(
        store,
        [
            write_csv(
                workdir / "orgs.csv",
                ("organization_id", "name", "domain", "autotask_company_id", "active"),
                rows,
            )
        ],
    )
    prices = [(sku, name, kind, cost, price, "USD") for sku, name, kind, cost, price in PRICE_LIST]
    import_price_list(
        store,
        [
            write_csv(
                workdir / "prices.csv",
                ("sku", "product_name", "subscription_type", "unit_cost", "unit_price", "currency"),
                prices,
            )
        ],
    )


def line(
    report_id: str,
    organization_id: str,
    month: str,
    subscription_id: str,
    kind: str = "csp365",
    sku: str = "CFQ7TTC0LH18:0001",
    name: str = "Microsoft 365 Business Basic",
    quantity: str = "10",
    cost: str = "5.40",
    price: str = "6.00",
    term: tuple[str, str] = ("", ""),
) -> list[str]:
    start, end, generated = PERIODS[month]
    return [
        report_id,
        organization_id,
        generated,
        start,
        end,
        "USD",
        subscription_id,
        kind,
        sku,
        name,
        quantity,
        cost,
        price,
        term[0],
        term[1],
    ]


def import_lines(
    store: Store, workdir: Path, rows: Sequence[Sequence[str]], name: str = "reports.csv"
) -> list[str]:
    path = write_csv(workdir / name, REPORT_COLUMNS, rows)
    return import_reports(store, [path]).report_ids

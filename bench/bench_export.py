"""Benchmark of a first export and an unchanged re-export into the sandbox (issue 4).

A generated tenant: 100 organizations, 500 licence subscriptions and 25 Azure subscriptions
(one month), exported into the sandbox with 20 ms of latency on every request. Prints:

- requests made / (writes needed + 10)          goal <= 1.10
- wall time / (requests x 20 ms / 3)            goal <= 1.0 (endpoints overlapped)
- requests of an unchanged re-export / first's  goal <= 0.03

Run: .venv/bin/python bench/bench_export.py [--latency-ms 20] [--orgs 100] ...
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from billbridge.autotask import F
from billbridge.demo import sandbox_settings
from billbridge.export.connection import client_from_settings
from billbridge.export.engine import ExportEngine, Selection
from billbridge.importing import import_organizations, import_price_list, import_reports
from billbridge.sandbox import SandboxOptions, start_in_background
from billbridge.store import Store

SKUS = [
    ("CFQ7TTC0LH18:0001", "Microsoft 365 Business Basic", "5.40", "6.00"),
    ("CFQ7TTC0LDPB:0001", "Microsoft 365 Business Standard", "11.25", "12.50"),
    ("CFQ7TTC0LCHC:0002", "Microsoft 365 Business Premium", "19.80", "22.00"),
    ("CFQ7TTC0LFLX:0001", "Microsoft 365 E3", "32.40", "36.00"),
    ("CFQ7TTC0LH16:0001", "Exchange Online (Plan 1)", "3.60", "4.00"),
]


def write(path: Path, header: list[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--orgs", type=int, default=100)
    parser.add_argument("--licences", type=int, default=500)
    parser.add_argument("--azure", type=int, default=25)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-export-"))
    with start_in_background(SandboxOptions(port=0)) as sandbox:
        settings = sandbox_settings(sandbox, f"sqlite:///{workdir / 'state.db'}")
        store = Store(settings.database.url)
        with client_from_settings(settings) as setup:
            owner = next(iter(setup.query("Resources", [F.eq("isActive", True)])))["id"]
            customer = setup.picklist_value("Companies", "companyType", "Customer")
            companies = [
                setup.create(
                    "Companies",
                    {
                        "companyName": f"Customer {n:03d}",
                        "companyType": customer,
                        "ownerResourceID": owner,
                        "phone": "555",
                    },
                )
                for n in range(args.orgs)
            ]
        orgs = [
            [f"org-{n:03d}", f"Customer {n:03d}", "", companies[n], "true"]
            for n in range(args.orgs)
        ]
        import_organizations(
            store,
            [
                write(
                    workdir / "orgs.csv",
                    ["organization_id", "name", "domain", "autotask_company_id", "active"],
                    orgs,
                )
            ],
        )
        prices = [[sku, name, "csp365", cost, price, "USD"] for sku, name, cost, price in SKUS]
        import_price_list(
            store,
            [
                write(
                    workdir / "prices.csv",
                    [
                        "sku",
                        "product_name",
                        "subscription_type",
                        "unit_cost",
                        "unit_price",
                        "currency",
                    ],
                    prices,
                )
            ],
        )
        header = [
            "report_id",
            "organization_id",
            "generated_on",
            "period_start",
            "period_end",
            "currency",
            "subscription_id",
            "subscription_type",
            "sku",
            "product_name",
            "quantity",
            "unit_cost",
            "unit_price",
        ]
        rows: list[list[object]] = []
        for s in range(args.licences):
            org = s % args.orgs
            sku, name, cost, price = SKUS[s % len(SKUS)]
            rows.append(
                [
                    f"r-{org:03d}",
                    f"org-{org:03d}",
                    "2026-10-06",
                    "2026-10-01",
                    "2026-10-31",
                    "USD",
                    f"lic-{s:04d}",
                    "csp365",
                    sku,
                    name,
                    1 + s % 40,
                    cost,
                    price,
                ]
            )
        for a in range(args.azure):
            org = (a * 4) % args.orgs
            for meter in range(20):
                rows.append(
                    [
                        f"r-{org:03d}",
                        f"org-{org:03d}",
                        "2026-10-06",
                        "2026-10-01",
                        "2026-10-31",
                        "USD",
                        f"az-{a:03d}",
                        "azure",
                        f"meter-{meter}",
                        f"Meter {meter}",
                        f"{(meter + 1) * 7.1}",
                        "0.0816",
                        "0.096",
                    ]
                )
        ids = import_reports(store, [write(workdir / "reports.csv", header, rows)]).report_ids
        sandbox.runtime.latency_s = args.latency_ms / 1000  # set-up above ran without latency
        with client_from_settings(settings) as client:
            engine = ExportEngine(store, settings, client)
            started = time.perf_counter()
            first = engine.export(Selection(tuple(ids)), trigger="bench")
            wall = time.perf_counter() - started
            started = time.perf_counter()
            second = engine.export(Selection(tuple(ids)), trigger="bench")
            wall_again = time.perf_counter() - started
        writes = first.summary.created + first.summary.updated
        bound = first.requests * args.latency_ms / 1000 / 3
        summary = first.summary
        again_writes = second.summary.created + second.summary.updated
        lines = [
            f"reports {len(ids)}, writes {writes} (created {summary.created}),"
            f" failed reports {summary.failed_reports}",
            f"first export: {first.requests} requests in {wall:.2f} s",
            f"  requests / (writes + 10)        = {first.requests / (writes + 10):.3f}"
            "   (goal <= 1.10)",
            f"  wall / (requests x {args.latency_ms} ms / 3) = {wall / bound:.3f}   (goal <= 1.0)",
            f"re-export: {second.requests} requests in {wall_again:.2f} s, writes {again_writes}",
            f"  re-export requests / first's    = {second.requests / first.requests:.4f}"
            "  (goal <= 0.03)",
        ]
        print("\n".join(lines))
        print(f"by endpoint: {client.stats.snapshot().by_endpoint}")
        store.close()


if __name__ == "__main__":
    main()

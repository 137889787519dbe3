"""Benchmark: importing a big Partner Center daily-rated usage file.

Generates a 1,000,000-row daily-rated usage CSV with Microsoft's 55 columns and realistic values
(about 100 customers, 300 Azure subscriptions, several hundred meters, exponent-notation numbers,
US dates), then measures, each in a fresh process, the wall time and peak memory (RSS) of

- billbridge CLI: `billbridge import partner-center FILE` as a user runs it, its own process
  with a new SQLite state file: start-up, reading, checking, saving (wall time and peak RSS of
  that process, from wait4);
- billbridge: `read_partner_center` on the file (exact Decimal totals, every value validated);
- billbridge import: `import_partner_center` into SQLite, in-process (no start-up);
- the anchors: polars `read_csv` + group-by of the same file (floats), and DuckDB's `read_csv`
  + GROUP BY, which show how fast reading and summing this file can be;
- duckdb, same work: DuckDB doing what billbridge's reader does (`SAME_WORK`: every key as
  text, exact decimal sums checked against the reader's number pattern, the labels' minimum),
  which shows how much of the gap to the anchor is the work asked.

Each job runs --repeat times (default 3), interleaved, and the median is shown.

Usage: .venv/bin/python bench/bench_partner_center.py [--rows N] [--repeat 3] [--keep] [--gzip]
The file is written to DIR (default bench/out/, gitignored) and reused while it has N rows.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from decimal import Context, Decimal
from pathlib import Path
from typing import Any

from installed import compile_billbridge

COLUMNS = (
    "PartnerId,PartnerName,CustomerId,CustomerName,CustomerDomainName,CustomerCountry,MpnId,"
    "Tier2MpnId,InvoiceNumber,ProductId,SkuId,AvailabilityId,SkuName,ProductName,PublisherName,"
    "PublisherId,SubscriptionDescription,SubscriptionId,ChargeStartDate,ChargeEndDate,UsageDate,"
    "MeterType,MeterCategory,MeterId,MeterSubCategory,MeterName,MeterRegion,Unit,"
    "ResourceLocation,ConsumedService,ResourceGroup,ResourceURI,ChargeType,UnitPrice,Quantity,"
    "UnitType,BillingPreTaxTotal,BillingCurrency,PricingPreTaxTotal,PricingCurrency,ServiceInfo1,"
    "ServiceInfo2,Tags,AdditionalInfo,EffectiveUnitPrice,PCToBCExchangeRate,"
    "PCToBCExchangeRateDate,EntitlementId,EntitlementDescription,PartnerEarnedCreditPercentage,"
    "CreditPercentage,CreditType,BenefitId,BenefitOrderId,BenefitType"
).split(",")

_CATEGORIES = (
    ("Virtual Machines", "Virtual Machines Dv3 Series Windows", "1 Hour", "Microsoft.Compute"),
    ("Storage", "Standard HDD Managed Disks", "10K", "Microsoft.Compute"),
    ("Storage", "Tables", "1 GB/Month", "Microsoft.Storage"),
    ("Bandwidth", "Bandwidth Inter-Region", "1 GB", "Microsoft.Network"),
    ("Log Analytics", "Log Analytics", "1 GB", "Microsoft.OperationalInsights"),
    ("Azure App Service", "Azure App Service Basic Plan", "1 Hour", "Microsoft.Web"),
    ("SQL Database", "SQL Database Single Standard", "1/Day", "Microsoft.Sql"),
    ("Azure Database for PostgreSQL", "Flexible Server", "1 Hour", "Microsoft.DBforPostgreSQL"),
    ("Virtual Network", "IP Addresses", "1 Hour", "Microsoft.Network"),
    ("Key Vault", "Key Vault", "10K", "Microsoft.KeyVault"),
)
_TEN_DIGITS = Context(prec=10)
_REGIONS = (("AP Southeast", "southeastasia"), ("US East", "eastus"), ("EU West", "westeurope"))


def ms_number(value: Decimal) -> str:
    """A number as Microsoft's CSV writes it: plain, or `7.10833E-05` below 1E-4."""
    if value.is_zero():
        return "0"
    if abs(value) < Decimal("0.0001"):
        mantissa, exponent = f"{value:.5E}".split("E")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}E{int(exponent):+03d}"
    return format(value.normalize(), "f")


def usage_file(directory: Path, rows: int) -> Path:
    """The generated file of `rows` rows in `directory`, generated first if it is not there."""
    path = directory / f"daily-usage-{rows}.csv"
    if not path.exists():
        print(f"generating {path} ({rows:,} rows) ...", flush=True)
        generate(path, rows)
    return path


def generate(path: Path, rows: int, *, seed: int = 20251130) -> None:
    rnd = random.Random(seed)

    def guid() -> str:
        return str(uuid.UUID(int=rnd.getrandbits(128), version=4))

    partner = guid()
    customers: list[dict[str, Any]] = []
    for number in range(1, 101):
        eur = number % 10 == 0
        customers.append(
            {
                "id": guid(),
                "name": f"Customer {number:03d}",
                "domain": f"customer{number:03d}.onmicrosoft.com",
                "country": "DE" if eur else "US",
                "plan": guid(),
                "currency": "EUR" if eur else "USD",
                "rate": Decimal("0.921155") if eur else Decimal(1),
            }
        )
    meters: list[dict[str, Any]] = []
    for number in range(400):
        category, subcategory, unit, service = rnd.choice(_CATEGORIES)
        region, location = rnd.choice(_REGIONS)
        price = Decimal(rnd.choice(("0.08", "0.217", "0.0005", "0.045", "0.01", "0.00036", "2.3")))
        meters.append(
            {
                "id": guid(),
                "product": f"DZH318Z0{rnd.randrange(36**4):04X}"[:12],
                "sku": f"{rnd.randrange(1, 400):04d}",
                "category": category,
                "subcategory": subcategory,
                "name": f"{subcategory} meter {number}",
                "unit": unit,
                "service": service,
                "region": region,
                "location": location,
                "price": price,
            }
        )
    subscriptions: list[tuple[dict[str, Any], str, str, list[dict[str, Any]]]] = []
    for number in range(300):
        customer = customers[number % 100] if number < 100 else rnd.choice(customers)
        # Each Azure subscription uses its own few dozen meters, a few of them heavily.
        used = rnd.sample(meters, rnd.randrange(20, 121))
        subscriptions.append((customer, guid(), f"Azure subscription {number + 1:03d}", used))
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(COLUMNS) + "\n")
        for _ in range(rows):
            customer, entitlement, description, used = rnd.choice(subscriptions)
            meter = used[min(int(rnd.expovariate(1 / 15)), len(used) - 1)]
            day = rnd.randrange(1, 31)
            pec = rnd.random() > 0.02
            quantity = (
                Decimal(rnd.choice(("24", "1", "0.5")))
                if rnd.random() < 0.3
                else (Decimal(rnd.randrange(1, 10**7)).scaleb(-rnd.randrange(3, 12)))
            )
            unit_price = meter["price"]
            effective = unit_price * Decimal("0.85") if pec else unit_price
            pricing_total = effective * quantity
            # Microsoft writes about ten significant digits (`7.10833E-05`, `0.0127060295`).
            billing_total = _TEN_DIGITS.plus(pricing_total * customer["rate"])
            pricing_total = _TEN_DIGITS.plus(pricing_total)
            group = f"rg-{rnd.randrange(16**10):010x}"
            values = (
                partner,
                "Example Partner Ltd",
                customer["id"],
                customer["name"],
                customer["domain"],
                customer["country"],
                "",
                "",
                "G000100200",
                meter["product"],
                meter["sku"],
                "DZH318Z09SQD",
                meter["name"].split(" meter ")[0],
                meter["subcategory"],
                "Microsoft",
                "",
                "",
                customer["plan"],
                "11/01/2025",
                "11/30/2025",
                f"11/{day:02d}/2025",
                meter["unit"],
                meter["category"],
                meter["id"],
                meter["subcategory"],
                meter["name"],
                meter["region"],
                meter["unit"],
                meter["location"],
                meter["service"],
                group,
                f"/subscriptions/{entitlement}/resourceGroups/{group}/providers/res-{day}",
                "Usage",
                ms_number(unit_price),
                ms_number(quantity),
                meter["unit"],
                ms_number(billing_total),
                customer["currency"],
                ms_number(pricing_total),
                "USD",
                "",
                "",
                "",
                "",
                ms_number(effective),
                ms_number(customer["rate"]),
                "11/01/2025",
                entitlement,
                description,
                "15" if pec else "",
                "15" if pec else "",
                "Partner Earned Credit Applied" if pec else "Credit Not Applied",
                "",
                "",
                "Charge",
            )
            out.write(",".join(values) + "\n")


SAME_WORK = """
    from billbridge.sources.partner_center.columnar import FAST_NUMBER
    from billbridge.sources.partner_center.usage import KEY_FIELDS, LABEL_FIELDS, SUM_FIELDS
    import duckdb
    keys = [f.name for f in KEY_FIELDS if f.name not in ("ProductId", "SkuId")]
    labels = [f.name for f in LABEL_FIELDS if f.name not in ("ProductName", "SkuName")]
    sums = [f.name for f in SUM_FIELDS]
    pattern = FAST_NUMBER.replace("'", "''")
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in keys + sums + labels) + "}"
    source = SOURCE.format(path=PATH, columns=columns)
    query = (
        f"SELECT {', '.join(keys)}, count(*),"
        + ", ".join(f"sum(CAST({c} AS DECIMAL(38, 20)))" for c in sums) + ","
        + ", ".join(f"bool_and(regexp_full_match({c}, '{pattern}'))" for c in sums) + ","
        + ", ".join(f"min({c})" for c in labels)
        + f" FROM {source} GROUP BY ALL"
    )
    start = time.perf_counter()
    rows = duckdb.sql(query).fetchall()
    seconds = time.perf_counter() - start
    detail = f"{len(rows)} groups (exact decimals, checked)"
"""
"""DuckDB doing the reader's work: every key column as text, the two sums as
exact decimals checked against the reader's number pattern, and each label's minimum (a file
with meter ids, as generated here, groups by MeterId and labels by the meter's names). Not
asked of it: each group's first row (a window over the whole file would make DuckDB's scan
serial) and the line count. `SOURCE` is the table function that reads the file (`{path}`) with
the columns (`{columns}`) as text."""

# Each measured job runs in a fresh interpreter, so that its peak RSS is its own.
_JOBS = {
    "billbridge": """
        from datetime import date
        from pathlib import Path
        from billbridge.sources.partner_center import read_partner_center
        start = time.perf_counter()
        result = read_partner_center([Path(PATH)], generated_on=date(2025, 12, 6),
            azure_markup=None, license_markup=None, price_list={})
        seconds = time.perf_counter() - start
        lines = sum(len(located.report.lines) for located in result.reports)
        detail = f"{len(result.reports)} reports, {lines} lines"
    """,
    "billbridge import": """
        import tempfile
        from datetime import date
        from pathlib import Path
        from billbridge.importing import import_partner_center
        from billbridge.store import Store
        store = Store(f"sqlite:///{tempfile.mkdtemp()}/state.db")
        start = time.perf_counter()
        counts = import_partner_center(store, [Path(PATH)], generated_on=date(2025, 12, 6))
        seconds = time.perf_counter() - start
        detail = f"into SQLite: {counts.reports}"
    """,
    "polars": """
        import polars as pl
        start = time.perf_counter()
        frame = pl.read_csv(PATH).group_by("CustomerId", "EntitlementId", "MeterId").agg(
            pl.col("BillingPreTaxTotal").sum(),
            (pl.col("UnitPrice") * pl.col("Quantity") * pl.col("PCToBCExchangeRate")).sum(),
            pl.col("Quantity").sum())
        seconds = time.perf_counter() - start
        detail = f"{frame.height} groups (floats)"
    """,
    "duckdb": """
        import duckdb
        start = time.perf_counter()
        rows = duckdb.sql(f'''SELECT CustomerId, EntitlementId, MeterId, sum(BillingPreTaxTotal),
            sum(UnitPrice * Quantity * PCToBCExchangeRate), sum(Quantity)
            FROM read_csv('{PATH}') GROUP BY ALL''').fetchall()
        seconds = time.perf_counter() - start
        detail = f"{len(rows)} groups (doubles)"
    """,
    "duckdb, same work": "    SOURCE = \"read_csv('{path}', all_varchar = true)\"" + SAME_WORK,
    # the Graph export's blobs (gzipped JSON lines), PATH a glob of them: bench_pull.py
    "duckdb, blobs": """
        import duckdb
        start = time.perf_counter()
        rows = duckdb.sql(f'''SELECT CustomerId, EntitlementId, MeterId, sum(BillingPreTaxTotal),
            sum(UnitPrice * Quantity * PCToBCExchangeRate), sum(Quantity)
            FROM read_json('{PATH}', format = 'newline_delimited') GROUP BY ALL''').fetchall()
        seconds = time.perf_counter() - start
        detail = f"{len(rows)} groups (doubles)"
    """,
    "duckdb, blobs, same work": (
        "    SOURCE = \"read_json('{path}', format = 'newline_delimited', columns = {columns})\""
        + SAME_WORK
    ),
}


def measure(name: str, path: Path, before: Path | None = None) -> dict[str, object]:
    if name.startswith("billbridge CLI"):
        return measure_cli(path, before if name.endswith("(before)") else None)
    code = "import json, resource, time\n" + f"PATH = {str(path)!r}\n"
    code += textwrap.dedent(_JOBS[name])
    code += (
        "\nusage = resource.getrusage(resource.RUSAGE_SELF)"
        "\nprint(json.dumps({'seconds': seconds, 'detail': detail,"
        " 'cpu': usage.ru_utime + usage.ru_stime, 'rss_mb': usage.ru_maxrss / 1024}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} failed:\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure_cli(path: Path, source: Path | None = None) -> dict[str, object]:
    """`billbridge import partner-center FILE` as its own process, with a new SQLite state file:
    wall time from spawn to exit, and that process's peak RSS (wait4, not the whole tree).
    With `source`, the billbridge package is imported from that `src` directory instead."""
    script = Path(sys.executable).with_name("billbridge")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "billbridge"]
    with tempfile.TemporaryDirectory(prefix="bench-pc-") as directory:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BILLBRIDGE_")}
        env["BILLBRIDGE_DATABASE_URL"] = f"sqlite:///{directory}/state.db"
        if source is not None:
            env["PYTHONPATH"] = str(source.resolve())
        out = Path(directory) / "out.txt"
        with out.open("w+") as sink:
            start = time.perf_counter()
            process = subprocess.Popen(
                [*command, "import", "partner-center", str(path)],
                cwd=directory,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
            _, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - start
            process.returncode = os.waitstatus_to_exitcode(status)
            sink.seek(0)
            printed = sink.read()
    if process.returncode != 0:
        raise SystemExit(f"billbridge CLI failed:\n{printed}")
    reports = next((line for line in printed.splitlines() if line.startswith("reports:")), "")
    return {
        "seconds": seconds,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "detail": reports,
    }


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--repeat", type=int, default=3, help="runs per job; the median is shown")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    parser.add_argument(
        "--gzip",
        action="store_true",
        help="also import a gzipped copy (decompressed to a temp file)",
    )
    parser.add_argument(
        "--before",
        type=Path,
        metavar="SRC",
        help="also run the CLI with the billbridge package of SRC (e.g. an older commit's src/,"
        " from `git archive COMMIT src | tar -x -C DIR`), interleaved with the others",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    compile_billbridge()
    if args.before is not None:
        compile_billbridge(args.before)
    path = usage_file(args.out, args.rows)
    print(f"file: {path} ({path.stat().st_size / 2**20:,.0f} MiB, {args.rows:,} rows)")
    print(f"load average before: {_load()} ({os.cpu_count()} CPUs)", flush=True)
    jobs: list[tuple[str, Path]] = [
        (name, path) for name in ("billbridge CLI", "billbridge", "billbridge import", "duckdb")
    ]
    jobs.append(("duckdb, same work", path))
    jobs.append(("polars", path))
    if args.before is not None:
        jobs.insert(1, ("billbridge CLI (before)", path))
    if args.gzip:
        packed = path.with_suffix(".csv.gz")
        if not packed.exists():
            with path.open("rb") as plain, gzip.open(packed, "wb", compresslevel=1) as out:
                shutil.copyfileobj(plain, out, 1 << 22)
        jobs.append(("billbridge CLI .gz", packed))
    runs: dict[str, list[dict[str, object]]] = {name: [] for name, _ in jobs}
    for _ in range(args.repeat):  # interleaved, so that a busy moment hits every job alike
        for name, file in jobs:
            runs[name].append(measure(name, file, args.before))
    print(f"load average after: {_load()}")
    duck = statistics.median(float(str(run["seconds"])) for run in runs["duckdb"])
    print(f"median of {args.repeat}")
    print("(CPU s: user + system of the whole process, start-up and imports included; on a")
    print(" shared machine it varies far less than the wall time)")
    print(f"{'job':<24}{'wall s':>7}{'CPU s':>7}{'RSS MiB':>8}{'x duckdb':>9}  detail")
    for name, done in runs.items():
        seconds = statistics.median(float(str(run["seconds"])) for run in done)
        cpu = statistics.median(float(str(run["cpu"])) for run in done)
        rss = statistics.median(float(str(run["rss_mb"])) for run in done)
        spread = ", ".join(f"{float(str(run['seconds'])):.2f}" for run in done)
        print(
            f"{name:<24}{seconds:>7.2f}{cpu:>7.2f}{rss:>8.0f}{seconds / duck:>9.2f}"
            f"  {done[0]['detail']}"
        )
        print(f"{'':<24}wall of each run: {spread} s")
    if not args.keep:
        path.unlink()
        path.with_suffix(".csv.gz").unlink(missing_ok=True)


if __name__ == "__main__":
    main()

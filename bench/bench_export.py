"""A first export and an unchanged re-export, measured the way users run them (issue 10).

`billbridge sandbox --latency-ms L --data FILE` runs as its own process; every billbridge
command (`import organizations`, `import price-list`, `import reports`, `export`) runs as its
own process too, with its state in a SQLite file (or, with --postgres, in a fresh database on
the PostgreSQL server). The tenant is generated: N organizations (companies created in the
sandbox first, without latency), 5 licence subscriptions per organization over 5 skus, and one
Azure subscription of 20 meters per 4 organizations, as one month of reports.

Requests are counted by the sandbox (its ThresholdInformation count before and after each
command), not taken from the client. Each repeat starts from an empty sandbox and state store.
Printed per run:

  requests / (writes + 10)        goal <= 1.02 (reads batched, metadata read once)
  wall / (requests x L / 3)       goal <= 0.7 at 20 ms (contracts and charges overlap)
  wall / (requests x L / 6)       goal <= 1.05 at 250 ms (both endpoints' 3 slots busy)
  re-export requests / first's    goal <= 0.01 (an unchanged re-export only reads)

and the wall time of `export --due` when nothing is due (start-up cost, against the running
sandbox).

    .venv/bin/python bench/bench_export.py [--organizations 100 | 25,100,400]
        [--latency-ms 20] [--repeat 1] [--postgres] [--sandbox-arg=--some-switch]
        [--show-output] [--keep] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import pty
import re
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from billbridge.autotask import AutotaskClient, ClientConfig, F
from billbridge.sandbox import INTEGRATION_CODE, SECRET, USERNAME
from billbridge.sources.reports import LINE_FIELDS, REPORT_FIELDS
from installed import compile_billbridge

SKUS = [
    ("CFQ7TTC0LH18:0001", "Microsoft 365 Business Basic", "5.40", "6.00"),
    ("CFQ7TTC0LDPB:0001", "Microsoft 365 Business Standard", "11.25", "12.50"),
    ("CFQ7TTC0LCHC:0002", "Microsoft 365 Business Premium", "19.80", "22.00"),
    ("CFQ7TTC0LFLX:0001", "Microsoft 365 E3", "32.40", "36.00"),
    ("CFQ7TTC0LH16:0001", "Exchange Online (Plan 1)", "3.60", "4.00"),
]
REPORT_HEADER = [*REPORT_FIELDS, *LINE_FIELDS.required]  # in the order `row` writes them
GENERATED_ON = "2026-10-06"
EXPORT_DAY = "2026-10-10"  # the reports are due from 2026-10-10 with the default lag of 4 days
WRITTEN = ("Products", "Contracts", "ContractCharges")
POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Shape:
    organizations: int

    @property
    def licences(self) -> int:
        return 5 * self.organizations

    @property
    def azure(self) -> int:
        return max(1, self.organizations // 4)


@dataclass(frozen=True)
class Measured:
    """One run: a first export, the unchanged re-export, and a 'nothing due' export."""

    reports: int
    writes: int
    requests: int
    wall_s: float
    cpu_s: float
    again_requests: int
    again_wall_s: float
    nothing_due_s: float
    nothing_due_requests: int
    exit_code: int
    load_before: float
    load_after: float

    def per_write(self) -> float:
        return self.requests / (self.writes + 10)

    def over_bound(self, latency_ms: int, slots: int) -> float:
        return self.wall_s / (self.requests * latency_ms / 1000 / slots)

    def again_share(self) -> float:
        return self.again_requests / self.requests


class Sandbox:
    """`billbridge sandbox` as its own process, on a free port, until `stop`."""

    def __init__(self, data: Path, latency_ms: int, extra: Sequence[str]) -> None:
        command = [str(BIN / "billbridge"), "sandbox", "--port", "0", "--data", str(data)]
        command += ["--latency-ms", str(latency_ms), *extra]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.zone_lookup_url = self._wait_for_url()
        self.http = httpx.Client(
            base_url=f"{self.zone_lookup_url}/v1.0",
            headers={"ApiIntegrationCode": INTEGRATION_CODE, "UserName": USERNAME,
                     "Secret": SECRET},
            timeout=30,
        )  # fmt: skip

    def _wait_for_url(self) -> str:
        assert self.process.stdout is not None
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            seen.append(line)
            found = re.search(r"zone_lookup_url\s*=\s*(\S+)", line)
            if found:
                threading.Thread(target=self.process.stdout.read, daemon=True).start()
                return found.group(1)
        self.process.kill()
        raise SystemExit("the sandbox did not start:\n" + "".join(seen))

    def request_count(self) -> int:
        """Requests the sandbox has counted in its hourly window (this query included)."""
        answer = self.http.get("/ThresholdInformation")
        answer.raise_for_status()
        return int(answer.json()["currentTimeframeRequestCount"])

    def client(self) -> AutotaskClient:
        return AutotaskClient(
            ClientConfig(
                username=USERNAME,
                secret=SECRET,
                integration_code=INTEGRATION_CODE,
                zone_lookup_url=self.zone_lookup_url,
            )
        )

    def stop(self) -> None:
        self.http.close()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def running_sandbox(data: Path, latency_ms: int, extra: Sequence[str]) -> Iterator[Sandbox]:
    sandbox = Sandbox(data, latency_ms, extra)
    try:
        yield sandbox
    finally:
        sandbox.stop()


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def create_companies(sandbox: Sandbox, count: int) -> list[int]:
    with sandbox.client() as client:
        owner = next(iter(client.query("Resources", [F.eq("isActive", True)])))["id"]
        customer = client.picklist_value("Companies", "companyType", "Customer")

        def create(n: int) -> int:
            body = {"companyName": f"Customer {n:03d}", "companyType": customer,
                    "ownerResourceID": owner, "phone": "555"}  # fmt: skip
            return client.create("Companies", body)

        with ThreadPoolExecutor(3) as pool:
            return list(pool.map(create, range(count)))


def tenant_files(workdir: Path, shape: Shape, companies: list[int]) -> dict[str, Path]:
    n = shape.organizations
    orgs = [[f"org-{i:03d}", f"Customer {i:03d}", "", companies[i], "true"] for i in range(n)]
    prices = [[sku, name, "csp365", cost, price, "USD"] for sku, name, cost, price in SKUS]
    rows: list[list[object]] = []

    def row(org: int, *line: object) -> list[object]:
        month = [GENERATED_ON, "2026-10-01", "2026-10-31", "USD"]
        return [f"r-{org:03d}", f"org-{org:03d}", *month, *line]

    for s in range(shape.licences):
        sku, name, cost, price = SKUS[s % len(SKUS)]
        rows.append(row(s % n, f"lic-{s:04d}", "csp365", sku, name, 1 + s % 40, cost, price))
    for a in range(shape.azure):
        for meter in range(20):
            quantity = f"{(meter + 1) * 7.1}"
            line = (f"az-{a:03d}", "azure", f"meter-{meter}", f"Meter {meter}", quantity)
            rows.append(row((a * 4) % n, *line, "0.0816", "0.096"))
    organization_header = ["organization_id", "name", "domain", "autotask_company_id", "active"]
    price_header = ["sku", "product_name", "subscription_type", "unit_cost", "unit_price"]
    return {
        "organizations": write_csv(workdir / "orgs.csv", organization_header, orgs),
        "price-list": write_csv(workdir / "prices.csv", [*price_header, "currency"], prices),
        "reports": write_csv(workdir / "reports.csv", REPORT_HEADER, rows),
    }


def write_config(path: Path, database_url: str, zone_lookup_url: str) -> Path:
    path.write_text(
        f'[database]\nurl = "{database_url}"\n'
        f'[autotask]\nzone_lookup_url = "{zone_lookup_url}"\n'
        f'username = "{USERNAME}"\nsecret = "{SECRET}"\nintegration_code = "{INTEGRATION_CODE}"\n'
        '[export]\nproduct_billing_code = "Microsoft Licensing"\n',
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class Ran:
    exit_code: int
    wall_s: float
    cpu_s: float
    """User + system time of the command's process: less sensitive to a busy machine."""
    output: str


def billbridge(config: Path, *args: str) -> Ran:
    """One billbridge command in its own process, at an 80-column terminal as a user sees it.

    A pseudo-terminal rather than a pipe: output written for a person (tables, the progress
    bar on stderr) is part of what the user waits for.
    """
    primary, secondary = pty.openpty()
    env = {**os.environ, "COLUMNS": "80", "LINES": "40", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    started = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(
        [str(BIN / "billbridge"), "--config", str(config), *args],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env=env,
    )
    os.close(secondary)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([primary], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    code = process.wait()
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    os.close(primary)
    return Ran(code, wall, cpu, b"".join(chunks).decode("utf-8", "replace"))


def must(ran: Ran, what: str) -> Ran:
    if ran.exit_code not in (0, 1):
        raise SystemExit(f"{what} failed with exit status {ran.exit_code}:\n{ran.output}")
    return ran


def count_records(sandbox: Sandbox) -> int:
    with sandbox.client() as client:
        return sum(len(list(client.query(entity, [F.gte("id", 0)]))) for entity in WRITTEN)


@contextlib.contextmanager
def state_database(workdir: Path, postgres: bool) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{workdir / 'state.db'}"
        return
    import psycopg

    name = f"billbridge_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_once(args: argparse.Namespace, organizations: int, workdir: Path) -> Measured:
    shape = Shape(organizations)
    data = workdir / "sandbox.db"
    with running_sandbox(data, 0, args.sandbox_arg) as setup:
        companies = create_companies(setup, shape.organizations)
    files = tenant_files(workdir, shape, companies)
    with (
        state_database(workdir, args.postgres) as url,
        running_sandbox(data, args.latency_ms, args.sandbox_arg) as sandbox,
    ):
        config = write_config(workdir / "billbridge.toml", url, sandbox.zone_lookup_url)
        for kind, path in files.items():
            must(billbridge(config, "import", kind, str(path)), f"import {kind}")
        report_ids = [f"r-{i:03d}" for i in range(shape.organizations)]
        records_before = count_records(sandbox)
        load_before = os.getloadavg()[0]
        counted = sandbox.request_count()
        first = billbridge(config, "export", "--due", "--today", EXPORT_DAY)
        requests = sandbox.request_count() - counted - 1
        again = billbridge(config, "export", *report_ids)
        again_requests = sandbox.request_count() - counted - requests - 2
        idle = billbridge(config, "export", "--due", "--today", EXPORT_DAY)
        idle_requests = sandbox.request_count() - counted - requests - again_requests - 3
        load_after = os.getloadavg()[0]
        writes = count_records(sandbox) - records_before
        if first.exit_code != 0 or args.show_output:
            print(first.output)
        if again.exit_code != 0:
            print(again.output)
    return Measured(
        reports=shape.organizations,
        writes=writes,
        requests=requests,
        wall_s=first.wall_s,
        cpu_s=first.cpu_s,
        again_requests=again_requests,
        again_wall_s=again.wall_s,
        nothing_due_s=idle.wall_s,
        nothing_due_requests=idle_requests,
        exit_code=first.exit_code,
        load_before=load_before,
        load_after=load_after,
    )


def table(latency: int, runs: dict[int, list[Measured]]) -> str:
    lines = [
        f"{'run':>7} {'writes':>6} {'reqs':>5} {'r/(w+10)':>8} {'wall s':>6} {'cpu s':>5}"
        f" {'/(L/3)':>6} {'/(L/6)':>6} {'again':>5} {'ag/1st':>6} {'idle':>5} {'load':>4}",
    ]

    def row(label: str, m: Measured) -> str:
        return (
            f"{label:>7} {m.writes:>6} {m.requests:>5} {m.per_write():>8.3f} {m.wall_s:>6.2f}"
            f" {m.cpu_s:>5.2f} {m.over_bound(latency, 3):>6.3f} {m.over_bound(latency, 6):>6.3f}"
            f" {m.again_requests:>5} {m.again_share():>6.4f} {m.nothing_due_s:>5.2f}"
            f" {m.load_before:>4.1f}"
        )

    for size, measured in runs.items():
        lines += [row(f"{size}:{n}", m) for n, m in enumerate(measured, 1)]
        if len(measured) > 1:
            lines.append(row(f"{size}:med", median(measured)))
    lines.append(
        f"{'goal':>7} {'':>6} {'':>5} {'<= 1.02':>8} {'':>6} {'':>5}"
        f" {'<= 0.7' if latency < 250 else '':>6}"
        f" {'<= 1.05' if latency >= 250 else '':>6} {'':>5} {'<= 0.01':>6}"
    )
    if len(runs) > 1:
        lines.append("per write (median): wall, cpu")
        for size, measured in runs.items():
            m = median(measured)
            wall, cpu = m.wall_s / m.writes * 1000, m.cpu_s / m.writes * 1000
            lines.append(f"  {size:>5} organizations: {wall:6.2f} ms, {cpu:5.2f} ms")
    return "\n".join(lines)


def median(runs: list[Measured]) -> Measured:
    fields: dict[str, Any] = {}
    for name in asdict(runs[0]):
        values = [getattr(m, name) for m in runs]
        middle = statistics.median(values)
        fields[name] = type(values[0])(middle)
    return Measured(**fields)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--organizations",
        "--orgs",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[100],
        help="tenant size, or sizes to compare: 25,100,400",
    )
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="runs, each from scratch")
    parser.add_argument("--postgres", action="store_true", help="state on 127.0.0.1:5432")
    parser.add_argument(
        "--sandbox-arg",
        action="append",
        default=[],
        help="an extra argument for `billbridge sandbox` (repeatable)",
    )
    parser.add_argument("--show-output", action="store_true", help="print the first export's")
    parser.add_argument("--keep", action="store_true", help="keep the work folders")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    runs: dict[int, list[Measured]] = {size: [] for size in args.organizations}
    compile_billbridge()
    for size in args.organizations:
        for _ in range(args.repeat):
            workdir = Path(tempfile.mkdtemp(prefix="bench-export-"))
            try:
                runs[size].append(run_once(args, size, workdir))
            finally:
                if not args.keep:
                    shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        measured = {size: [asdict(m) for m in found] for size, found in runs.items()}
        print(json.dumps({"args": vars(args), "runs": measured}))
    else:
        store = "PostgreSQL" if args.postgres else "a SQLite file"
        for size in args.organizations:
            shape = Shape(size)
            print(
                f"{size} organizations: {shape.licences} licences,"
                f" {shape.azure} Azure subscriptions of 20 meters"
            )
        print(f"latency {args.latency_ms} ms, state in {store}, {os.cpu_count()} cores")
        print(table(args.latency_ms, runs))
        print(
            "run: organizations:repeat; reqs: counted by the sandbox; cpu s: user + system\n"
            "time of the export's process; again: requests of the unchanged re-export;\n"
            "idle: seconds of an export --due with nothing due; load: the 1-minute load\n"
            "average before the export"
        )
    failed = [m for found in runs.values() for m in found if m.exit_code != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

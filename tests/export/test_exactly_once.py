"""Never a duplicate: export twice, faults, SIGKILL mid-export, a lost state store."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from billbridge.autotask import udf_value
from billbridge.export.engine import Selection
from billbridge.export.lease import SKU_PREFIX
from billbridge.sandbox.faults import FaultInjector
from tests.export.conftest import Tenant
from tests.export.data import import_lines, line, seed_store

SUBSCRIPTIONS = 12


def build(tenant: Tenant, subscriptions: int = SUBSCRIPTIONS) -> list[str]:
    """Three customers, licences and Azure over two months: a run with shared products."""
    orgs = []
    for n in range(3):
        company = tenant.company(f"Customer {n}")
        orgs.append((f"org-{n}", f"Customer {n}", company, True))
    seed_store(tenant.store, tenant.workdir, orgs)
    rows = []
    for month in ("2026-09", "2026-10"):
        for s in range(subscriptions):
            org = f"org-{s % 3}"
            report = f"{month}-{org}"
            if s % 4 == 3:
                rows.append(
                    line(
                        report,
                        org,
                        month,
                        f"az-{s}",
                        "azure",
                        "meter-a",
                        "VM",
                        "744",
                        "0.0816",
                        "0.096",
                    )
                )
                rows.append(
                    line(
                        report,
                        org,
                        month,
                        f"az-{s}",
                        "azure",
                        "meter-b",
                        "Disk",
                        "2",
                        "4.488",
                        "5.28",
                    )
                )
            else:
                sku = "CFQ7TTC0LH18:0001" if s % 2 else "CFQ7TTC0LCHC:0002"
                rows.append(
                    line(
                        report,
                        org,
                        month,
                        f"sub-{s}",
                        sku=sku,
                        quantity=str(5 + s),
                        term=("2026-01-01", "2026-12-31"),
                    )
                )
    return import_lines(tenant.store, tenant.workdir, rows)


def assert_exactly_once(tenant: Tenant, subscriptions: int = SUBSCRIPTIONS) -> None:
    contracts = tenant.all("Contracts")
    udfs = Counter(
        value for c in contracts if (value := udf_value(c, "Subscription ID")) is not None
    )
    assert len(contracts) == subscriptions, udfs
    assert set(udfs.values()) == {1}
    charges = tenant.all("ContractCharges")
    keys = Counter((c["contractID"], str(c["datePurchased"])[:10]) for c in charges)
    assert len(charges) == 2 * subscriptions and set(keys.values()) == {1}
    products = Counter(
        (p.get("sku"), p["name"])
        for p in tenant.all("Products")
        if not str(p.get("sku") or "").startswith(SKU_PREFIX)
    )
    assert set(products.values()) == {1} and len(products) == 3


def test_exporting_again_writes_nothing(tenant: Tenant) -> None:
    ids = build(tenant)
    first = tenant.engine().export(Selection(tuple(ids)))
    assert (
        first.summary.created == 2 * SUBSCRIPTIONS * 2 + 3 - SUBSCRIPTIONS
    )  # contracts+charges+products
    before = tenant.client.stats.snapshot().by_method
    second = tenant.engine().export(Selection(tuple(ids)))
    assert second.summary.created == second.summary.updated == 0
    assert second.summary.unchanged == first.summary.created
    after = tenant.client.stats.snapshot().by_method
    writes = [m for m in ("POST", "PATCH", "PUT") if after.get(m, 0) != before.get(m, 0)]
    assert writes == [] or set(writes) == {"POST"}  # queries are POSTs too
    assert after.get("PATCH", 0) == before.get("PATCH", 0)
    # The tenant's context (threshold, billing code, cost samples) and one read per entity
    # and period; no lease is taken when nothing is to be written.
    assert second.requests <= 12
    assert_exactly_once(tenant)


@pytest.mark.slow
def test_faults_never_cause_a_duplicate(tenant: Tenant) -> None:
    ids = build(tenant)
    faults = tenant.inject_faults("error500=0.08,lost=0.08,throttle=0.05,seed=7,retry_after=0")
    runs = []
    for _ in range(12):
        result = tenant.engine().export(Selection(tuple(ids)))
        runs.append(result.exit_code)
        if result.exit_code == 0:
            break
    assert runs[-1] == 0, runs
    injected = faults.injected
    assert injected["lost"] > 0 and injected["error500"] > 0 and injected["throttle"] > 0
    tenant.sandbox.runtime.faults = FaultInjector(None)
    assert_exactly_once(tenant)


def test_a_correction_updates_in_place_and_a_billed_charge_is_a_conflict(
    make_tenant: Callable[..., Tenant],
) -> None:
    from billbridge.sandbox import approve_and_post

    tenant = make_tenant(data=True)
    company = tenant.company("Contoso")
    seed_store(tenant.store, tenant.workdir, [("org", "Contoso", company, True)])
    ids = import_lines(
        tenant.store,
        tenant.workdir,
        [line("r1", "org", "2026-10", "sub-1", quantity="10")],
        "v1.csv",
    )
    tenant.engine().export(Selection(tuple(ids)))
    [before] = tenant.all("ContractCharges")

    import_lines(
        tenant.store,
        tenant.workdir,
        [line("r1", "org", "2026-10", "sub-1", quantity="12")],
        "v2.csv",
    )
    corrected = tenant.engine().export(Selection(("r1",)))
    [after] = tenant.all("ContractCharges")
    assert after["id"] == before["id"] and str(after["unitQuantity"]) in ("12", "12.0", "12.0000")
    [charge_op] = [o for o in corrected.reports[0].operations if o.entity == "ContractCharge"]
    assert (
        charge_op.action == "update"
        and charge_op.changes["unitQuantity"] == {"from": "10", "to": "12"}
    ) or charge_op.changes["unitQuantity"]["to"] == "12"

    tenant.sandbox.stop()
    assert approve_and_post(tenant.workdir / "sandbox.db") == 1
    restarted = make_tenant(data=True)
    restarted.store.close()
    import_lines(
        tenant.store,
        tenant.workdir,
        [line("r1", "org", "2026-10", "sub-1", quantity="15")],
        "v3.csv",
    )
    engine_tenant = Tenant(
        restarted.sandbox, restarted.settings, tenant.store, restarted.client, tenant.workdir
    )
    result = engine_tenant.engine().export(Selection(("r1",)))
    [op] = [o for o in result.reports[0].operations if o.entity == "ContractCharge"]
    [unchanged] = restarted.all("ContractCharges")
    assert op.action == "conflict" and str(op.reason).startswith(
        f"3 more seats x 6.00 = 18.00 USD to bill (charge {unchanged['id']} is billed);"
    )
    assert result.summary.conflicts == 1 and result.exit_code == 1
    assert str(unchanged["unitQuantity"]).startswith("12") and unchanged["isBilled"] is True


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [1, 15, 33])
def test_sigkill_mid_export_then_rerun_gives_the_same_result(
    make_tenant: Callable[..., Tenant], kill_after: int
) -> None:
    tenant = make_tenant(latency_ms=25)
    ids = build(tenant)
    # The writes in flight when the export is killed block their keys for this long.
    config = tenant.write_config("unknown_write_horizon_s = 2\n")
    command = [sys.executable, "-m", "billbridge", "--config", str(config), "export", *ids]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    database = tenant.workdir / "billbridge.db"
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if done_writes(database) >= kill_after:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the export finished before it could be killed"
    rerun = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_exactly_once(tenant)
    with sqlite3.connect(database) as connection:
        statuses = dict(connection.execute("SELECT id, status FROM runs").fetchall())
    assert statuses == {1: "interrupted", 2: "succeeded"}


def done_writes(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1) as connection:
            return int(
                connection.execute(
                    "SELECT count(*) FROM run_operations WHERE state = 'done'"
                ).fetchone()[0]
            )
    except sqlite3.OperationalError:
        return 0

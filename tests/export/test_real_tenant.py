"""The export against the strict sandbox, as a real US tenant behaves (issue: a real tenant).

Each test names the failure it guards against: a contract without its period type, a charge
dated the day before, a second contract for a subscription keyed in capitals, bookkeeping on
the customer's invoice, an opaque 500 looping, a lost store, two installations, slow writes,
kills while writes are in flight, and a copied contract.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billbridge.export.engine import Selection
from billbridge.export.errors import ExportStoppedError
from billbridge.importing import import_organizations, import_price_list, import_reports
from billbridge.store import Store
from tests.export.conftest import Tenant
from tests.export.data import import_lines, line, seed_store
from tests.export.test_exactly_once import assert_exactly_once, build

READINGS = ("convert", "keep")
TERM = ("2026-10-01", "2027-09-30")


def one_customer(tenant: Tenant, *subscriptions: str) -> list[str]:
    company = tenant.company("Contoso Ltd")
    seed_store(tenant.store, tenant.workdir, [("org", "Contoso Ltd", company, True)])
    rows = [line("r1", "org", "2026-10", s, term=TERM) for s in subscriptions]
    return import_lines(tenant.store, tenant.workdir, rows)


def two_customers(tenant: Tenant) -> list[str]:
    orgs = [(f"org-{n}", f"Customer {n}", tenant.company(f"Customer {n}"), True) for n in "ab"]
    seed_store(tenant.store, tenant.workdir, orgs)
    rows = [line(f"r-{n}", f"org-{n}", "2026-10", f"sub-{n}", term=TERM) for n in "ab"]
    return import_lines(tenant.store, tenant.workdir, rows)


def udf_of(contract: Mapping[str, Any]) -> str | None:
    for pair in contract.get("userDefinedFields") or []:
        if pair["name"] == "Subscription ID":
            return str(pair["value"])
    return None


@pytest.mark.parametrize("reading", READINGS)
def test_contracts_get_the_period_type_and_charges_the_periods_first_day(
    make_tenant: Callable[..., Tenant], reading: str
) -> None:
    tenant = make_tenant(sandbox_options={"date_reading": reading})
    ids = one_customer(tenant, "sub-1")
    result = tenant.engine().export(Selection(tuple(ids)))
    assert result.exit_code == 0, result.to_json()
    [contract] = tenant.all("Contracts")
    monthly = tenant.client.picklist_value("Contracts", "contractPeriodType", "Monthly")
    assert str(contract["contractPeriodType"]) == str(monthly)
    assert str(contract["startDate"]).startswith("2026-10-01")
    assert str(contract["endDate"]).startswith("2027-09-30")
    [charge] = tenant.all("ContractCharges")
    assert str(charge["datePurchased"]).startswith("2026-10-01")
    again = tenant.engine().export(Selection(tuple(ids)))
    assert (again.summary.created, again.summary.updated) == (0, 0)


def test_a_contract_keyed_in_capitals_by_hand_is_adopted(tenant: Tenant) -> None:
    ids = one_customer(tenant, "sub-1")
    company = int(str(tenant.all("Companies")[-1]["id"]))
    by_hand = tenant.hand_made_contract(company, "M365 Basic (by hand)", "SUB-1")
    product = tenant.client.create(
        "Products",
        {
            "name": "Microsoft 365 Business Basic",
            "sku": "cfq7ttc0lh18:0001",
            "isActive": True,
            "isSerialized": False,
            "productBillingCodeID": 29682802,
            "unitPrice": Decimal("6.00"),
            "unitCost": Decimal("5.40"),
        },
    )
    result = tenant.engine().export(Selection(tuple(ids)))
    assert result.exit_code == 0, result.to_json()
    assert [c["id"] for c in tenant.all("Contracts")] == [by_hand]
    assert [p["id"] for p in tenant.all("Products")] == [product]
    [charge] = tenant.all("ContractCharges")
    assert (charge["contractID"], charge["productID"]) == (by_hand, product)


def test_descriptions_hold_only_what_customers_read_and_old_markers_are_found(
    tenant: Tenant,
) -> None:
    ids = one_customer(tenant, "sub-1")
    tenant.engine().export(Selection(tuple(ids)))
    [charge] = tenant.all("ContractCharges")
    assert charge["description"] == "Microsoft 365 Business Basic, 10 seats, 2026-10"
    assert "[billbridge report=r1 key=sub-1/2026-10]" in str(charge["notes"])
    # A charge written by an older billbridge: its marker in the description, no notes.
    old = "Microsoft 365 Business Basic: 10 x 6.00 USD\n[billbridge report=r1 key=sub-1/2026-10]"
    tenant.client.update_child(
        "Contracts",
        int(str(charge["contractID"])),
        "Charges",
        {"id": charge["id"], "description": old, "notes": ""},
    )
    result = tenant.engine().export(Selection(tuple(ids)))
    [op] = [o for o in result.reports[0].operations if o.entity == "ContractCharge"]
    assert (op.action, op.autotask_id) == ("update", charge["id"])
    [moved] = tenant.all("ContractCharges")
    assert moved["description"] == "Microsoft 365 Business Basic, 10 seats, 2026-10"
    assert "key=sub-1/2026-10" in str(moved["notes"])


def test_an_error_id_500_fails_one_report_with_its_text_and_the_rest_is_exported(
    tenant: Tenant,
) -> None:
    ids = two_customers(tenant)
    rule = tenant.sandbox.runtime.reject_writes("Contracts", lambda body: udf_of(body) == "sub-b")
    result = tenant.engine().export(Selection(tuple(ids)))
    statuses = {r.report_id: (r.status, r.reason) for r in result.reports}
    assert statuses["r-a"] == ("exported", None)
    status, reason = statuses["r-b"]
    assert status == "failed" and rule.texts and rule.texts[0] in str(reason)
    assert "Error ID" in str(reason)
    assert rule.hits == 1  # looked up once, never sent again in a loop
    assert result.exit_code == 1
    with tenant.store.transaction() as uow:
        assert result.run_id is not None
        detail = uow.runs.get(result.run_id)
    assert detail is not None
    stored = {r.report_id: r.reason for r in detail.reports}
    assert rule.texts[0] in str(stored["r-b"])
    assert [udf_of(c) for c in tenant.all("Contracts")] == ["sub-a"]


def test_a_fatal_error_stops_the_run_and_is_stored_with_its_text(tenant: Tenant) -> None:
    ids = two_customers(tenant)
    text = "User does not have adequate permissions to create Contracts."
    tenant.sandbox.runtime.reject_writes("Contracts", text=text, times=1)
    with pytest.raises(ExportStoppedError) as stopped:
        tenant.engine().export(Selection(tuple(ids)))
    with tenant.store.transaction() as uow:
        detail = uow.runs.get(stopped.value.run_id)
    assert detail is not None
    assert detail.summary.status == "failed" and text in str(detail.summary.error)
    assert len(tenant.all("Contracts")) <= 1
    assert tenant.all("ContractCharges") == []
    tenant.sandbox.runtime.clear_write_rules()
    again = tenant.engine().export(Selection(tuple(ids)))
    assert again.exit_code == 0 and len(tenant.all("Contracts")) == 2


@pytest.mark.parametrize("reading", READINGS)
def test_a_lost_state_store_rebuilt_creates_nothing_twice(
    make_tenant: Callable[..., Tenant], reading: str
) -> None:
    tenant = make_tenant(sandbox_options={"date_reading": reading})
    ids = build(tenant)
    first = tenant.engine().export(Selection(tuple(ids)))
    assert first.exit_code == 0
    tenant.store.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tenant.workdir / 'billbridge.db'}{suffix}").unlink(missing_ok=True)
    tenant.reopen_store()
    import_organizations(tenant.store, [tenant.workdir / "orgs.csv"])
    import_price_list(tenant.store, [tenant.workdir / "prices.csv"])
    import_reports(tenant.store, [tenant.workdir / "reports.csv"])
    again = tenant.engine().export(Selection(tuple(ids)))
    assert (again.summary.created, again.summary.updated) == (0, 0), again.to_json()
    assert_exactly_once(tenant)


def test_a_copied_contract_is_a_conflict_naming_both_and_the_rest_goes_on(
    tenant: Tenant,
) -> None:
    ids = two_customers(tenant)
    tenant.engine().export(Selection(tuple(ids)))
    [original] = [c for c in tenant.all("Contracts") if udf_of(c) == "sub-a"]
    copy = tenant.hand_made_contract(int(str(original["companyID"])), "copy", "sub-a")
    import_lines(
        tenant.store,
        tenant.workdir,
        [
            line("r-a", "org-a", "2026-10", "sub-a", quantity="12", term=TERM),
            line("r-b", "org-b", "2026-10", "sub-b", quantity="12", term=TERM),
        ],
        "corrected.csv",
    )
    result = tenant.engine().export(Selection(tuple(ids)))
    reports = {r.report_id: r for r in result.reports}
    assert reports["r-a"].status == "needs_attention"
    conflicts = [o for o in reports["r-a"].operations if o.action == "conflict"]
    assert conflicts and all(f"{original['id']}, {copy}" in str(o.reason) for o in conflicts), (
        conflicts
    )
    assert reports["r-b"].status == "exported" and result.exit_code == 1
    charges = {c["contractID"]: c for c in tenant.all("ContractCharges")}
    assert str(charges[original["id"]]["unitQuantity"]).startswith("10")
    with tenant.store.transaction() as uow:
        assert result.run_id is not None
        run = uow.runs.get(result.run_id)
    assert run is not None and run.summary.status == "partly_failed"


def test_a_write_slower_than_the_timeout_is_not_sent_twice(
    make_tenant: Callable[..., Tenant],
) -> None:
    tenant = make_tenant(timeout_s=0.5, unknown_write_horizon_s=1.5)
    ids = one_customer(tenant, "sub-1", "sub-2")
    rule = tenant.sandbox.runtime.slow_writes("Contracts", delay_ms=1000, times=1)
    started = time.monotonic()
    result = tenant.engine().export(Selection(tuple(ids)))
    time.sleep(max(0.0, started + 1.2 - time.monotonic()))  # the slow write has landed
    assert rule.hits == 1
    assert result.exit_code == 0, result.to_json()
    assert sorted(udf_of(c) or "" for c in tenant.all("Contracts")) == ["sub-1", "sub-2"]
    assert len(tenant.all("ContractCharges")) == 2
    assert any("not written again before" in note for note in result.notes), result.notes


@pytest.mark.slow
def test_a_kill_while_writes_are_in_flight_then_an_immediate_export_adds_nothing(
    make_tenant: Callable[..., Tenant],
) -> None:
    tenant = make_tenant()
    ids = build(tenant)
    config = tenant.write_config("unknown_write_horizon_s = 8\n")
    # Two contract writes take far longer than usual; the kill comes while both are in flight
    # (the third of the tenant's threads stays free, so the next export can read at once).
    rule = tenant.sandbox.runtime.slow_writes("Contracts", delay_ms=5000, times=2)
    command = [sys.executable, "-m", "billbridge", "--config", str(config), "export", *ids]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if rule.hits >= 2:
            process.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            break
        time.sleep(0.01)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    tenant.sandbox.runtime.clear_write_rules()
    # At once: the killed export's contracts are still being written inside the tenant.
    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    time.sleep(max(0.0, killed + 6 - time.monotonic()))  # the slow writes have landed
    assert_exactly_once(tenant)


def test_two_installations_started_together_leave_one_record_per_key(
    make_tenant: Callable[..., Tenant], tmp_path: Path
) -> None:
    tenant = make_tenant(latency_ms=5)
    build(tenant)
    first = tenant.write_config()
    other = tmp_path / "other"
    other.mkdir()
    store = Store(f"sqlite:///{other / 'billbridge.db'}")
    import_organizations(store, [tenant.workdir / "orgs.csv"])
    import_price_list(store, [tenant.workdir / "prices.csv"])
    import_reports(store, [tenant.workdir / "reports.csv"])
    store.close()
    second = other / "billbridge.toml"
    second.write_text(
        first.read_text().replace(
            str(tenant.workdir / "billbridge.db"), str(other / "billbridge.db")
        )
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    commands = [
        [sys.executable, "-m", "billbridge", "--config", str(c), "export", "--due", "--today",
         "2026-12-01"]
        for c in (first, second)
    ]  # fmt: skip
    processes = [
        subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for c in commands
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    codes = [p.returncode for p in processes]
    assert set(codes) <= {0, 1}, outputs
    for command, code, (out, err) in zip(commands, codes, outputs, strict=True):
        if code == 1:
            assert "another billbridge installation" in out + err, out + err
            rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
            assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert_exactly_once(tenant)
    assert 1 <= len(tenant.lease_records()) <= 2


def test_plan_says_how_many_requests_the_export_needs_and_writes_nothing(
    tenant: Tenant,
) -> None:
    ids = one_customer(tenant, "sub-1", "sub-2")
    plan = tenant.engine().plan(Selection(tuple(ids)))
    [note] = plan.notes
    assert "Autotask requests" in note and "no waiting for the budget" in note
    assert tenant.lease_records() == [] and tenant.all("Contracts") == []


def test_an_export_gives_way_to_another_installation_holding_the_lease(tenant: Tenant) -> None:
    from billbridge.export.errors import LeaseBusyError
    from billbridge.export.lease import TenantLease
    from billbridge.export.tenant import resolve_tenant

    ids = one_customer(tenant, "sub-1")
    other = TenantLease(
        tenant.client,
        resolve_tenant(tenant.client, tenant.settings),
        "00000000-0000-4000-8000-000000000001",
        pause=lambda _: None,
    )
    other.acquire()
    engine = tenant.engine()
    with pytest.raises(LeaseBusyError, match="another billbridge installation"):
        engine.export(Selection(tuple(ids)))
    assert tenant.all("Contracts") == []
    with tenant.store.transaction() as uow:
        assert uow.runs.recent() == []  # nothing began: no run to explain
    other.release()
    assert engine.export(Selection(tuple(ids))).exit_code == 0
    assert len(tenant.all("Contracts")) == 1


def test_a_new_installation_stamps_first_and_still_gives_way(tenant: Tenant) -> None:
    from billbridge.export.errors import LeaseBusyError
    from billbridge.export.lease import TenantLease
    from billbridge.export.tenant import resolve_tenant

    context = resolve_tenant(tenant.client, tenant.settings)

    def new(n: int) -> TenantLease:
        installation = f"00000000-0000-4000-8000-00000000000{n}"
        return TenantLease(
            tenant.client, context, installation, record_absent=True, pause=lambda _: None
        )

    first = new(1)
    before = tenant.client.stats.total
    first.acquire()  # no record to look for: create it held, then read the others
    assert tenant.client.stats.total - before == first.acquire_requests == 2
    second = new(2)
    with pytest.raises(LeaseBusyError, match="00000000000040008000000000000001"):
        second.acquire()
    stamps = {r["sku"][-1]: r["description"] for r in tenant.lease_records()}
    assert "held until=" in stamps["1"] and "free since=" in stamps["2"]
    first.release()


def test_a_lease_stamp_whose_answer_is_lost_is_looked_up_not_written_twice(
    tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from billbridge.autotask import UnknownOutcomeError
    from billbridge.export.lease import TenantLease
    from billbridge.export.tenant import resolve_tenant

    create = tenant.client.create
    lost: list[int] = []

    def create_then_lose_the_answer(entity: str, body: Mapping[str, Any]) -> int:
        made = create(entity, body)
        if not lost:
            lost.append(made)
            raise UnknownOutcomeError("HTTP 500: the write may or may not have been applied")
        return made

    monkeypatch.setattr(tenant.client, "create", create_then_lose_the_answer)
    lease = TenantLease(
        tenant.client,
        resolve_tenant(tenant.client, tenant.settings),
        "00000000-0000-4000-8000-000000000003",
    )
    lease.acquire()
    [record] = tenant.lease_records()
    assert lost == [record["id"]] and "held until=" in record["description"]
    lease.release()
    [record] = tenant.lease_records()
    assert "free since=" in record["description"]


def test_the_lease_tells_whether_another_installation_can_have_written_since(
    tenant: Tenant,
) -> None:
    from datetime import UTC, datetime

    from billbridge.export.lease import TenantLease
    from billbridge.export.tenant import resolve_tenant

    context = resolve_tenant(tenant.client, tenant.settings)
    a, b = (
        TenantLease(tenant.client, context, f"00000000-0000-4000-8000-00000000000{n}")
        for n in (1, 2)
    )
    a.acquire()
    a.release()
    time.sleep(1.1)
    moment = datetime.now(UTC)
    b.acquire()
    assert b.quiet_since(moment)  # a released before b read: no second read needed
    before = datetime.now(UTC)
    b.release()
    a.acquire()
    assert not a.quiet_since(before)  # b released after a read: read again
    a.release()

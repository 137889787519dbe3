"""A first export bigger than the hourly request budget is spread over hours on purpose: the
reports that fit are exported, the rest are deferred (said so, with when), and the next
export continues them, writing nothing twice."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from datetime import date

from rich.console import Console

from billbridge.export.engine import Selection
from billbridge.export.lease import LEASE_REQUESTS
from billbridge.render import run_result
from tests.export.conftest import Tenant
from tests.export.data import import_lines, line, seed_store

CUSTOMERS = "abcdef"
METADATA_REQUESTS = 10
"""The requests of one reading of the tenant's set-up (`export.tenant.read_metadata`)."""


def customers(tenant: Tenant) -> list[str]:
    """Six customers on one product: the first report writes 3 records, the others 2."""
    orgs = [(f"org-{n}", f"Customer {n}", tenant.company(f"Customer {n}"), True) for n in CUSTOMERS]
    seed_store(tenant.store, tenant.workdir, orgs)
    rows = [line(f"r-{n}", f"org-{n}", "2026-10", f"sub-{n}") for n in CUSTOMERS]
    return import_lines(tenant.store, tenant.workdir, rows)


def test_an_export_over_the_hourly_budget_defers_what_does_not_fit_and_resumes(
    make_tenant: Callable[..., Tenant],
) -> None:
    tenant = make_tenant()
    ids = customers(tenant)
    planned = tenant.engine().plan(Selection(tuple(ids)))
    assert planned.summary.created == 3 + 2 * (len(CUSTOMERS) - 1)
    used = tenant.client.threshold().current_timeframe_request_count
    # billbridge paces itself from (50% - 10%) of the threshold: leave room for the export's
    # reads (about the plan's requests: a plan that writes reads the tenant's set-up again
    # before its first write), the lease, and the writes of the first two reports (3 + 2).
    # The export's estimate starts from the threshold read beside its first request, and
    # counts its other requests after it, though the reading may already hold some of them.
    paced_from = used + planned.requests + 2 * LEASE_REQUESTS + 5 + METADATA_REQUESTS
    limits = tenant.sandbox.runtime.limits
    limits.threshold = math.ceil(paced_from / 0.4)

    first = tenant.engine().export(Selection(tuple(ids)))
    statuses = {r.report_id: r.status for r in first.reports}
    exported = [i for i in ids if statuses[i] == "exported"]
    later = [i for i in ids if statuses[i] == "deferred"]
    assert exported and later, first.to_json()
    assert exported + later == ids  # the reports kept are a prefix: none waits for a later one
    assert first.exit_code == 0 and first.summary.failed_reports == 0
    assert len(tenant.all("ContractCharges")) == len(exported)
    deferred = next(r for r in first.reports if r.status == "deferred")
    assert deferred.operations == ()
    assert "the hourly request budget has no room for its writes now" in str(deferred.reason)
    assert "exported by an export after about" in str(deferred.reason)
    [note] = [n for n in first.notes if "deferred" in n]
    assert note.startswith(f"{len(later)} report") and "export --due` after" in note
    assert limits.threshold_refusals == 0

    shown = Console(file=io.StringIO(), width=80, highlight=False, soft_wrap=True)
    run_result(shown, first, planned=False)
    file = shown.file
    assert isinstance(file, io.StringIO)
    text = file.getvalue()
    assert f"deferred {len(later)}" in text and "deferred to keep within the hourly" in text
    assert all(len(row) <= 80 for row in text.splitlines())

    with tenant.store.transaction() as uow:
        assert first.run_id is not None
        stored = uow.runs.get(first.run_id)
    assert stored is not None
    due = tenant.engine().due_report_ids(date(2026, 12, 1))
    assert {r.report_id for r in stored.reports if r.status == "deferred"} == set(later)
    assert set(later) <= set(due)  # still due: the next check exports them

    limits.threshold = 10_000  # an hour later, the budget allows them
    second = tenant.engine().export(Selection(tuple(later)))
    assert {r.status for r in second.reports} == {"exported"}, second.to_json()
    assert not [n for n in second.notes if "deferred" in n]
    assert len(tenant.all("ContractCharges")) == len(CUSTOMERS)
    assert len(tenant.all("Contracts")) == len(CUSTOMERS)
    assert len(tenant.all("Products")) == 1

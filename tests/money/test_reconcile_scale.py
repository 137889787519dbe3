"""A reconcile of 100 organizations costs a handful of Autotask requests, not one per charge."""

from __future__ import annotations

from collections.abc import Callable

from billbridge.export.connection import client_from_settings
from billbridge.export.engine import Selection
from billbridge.export.reconcile import reconcile_period
from tests.export.conftest import Tenant
from tests.export.data import import_lines, line, seed_store

ORGANIZATIONS = 100
SUBSCRIPTIONS = 3
MAX_REQUESTS = 10
"""Measured: 8 (zone, threshold, UDF list, contracts by UDF in 2 batches of 200 and by company
in 1, charges in 2 batches); a little room for a tenant that pages."""


def test_100_organizations_in_a_handful_of_requests(make_tenant: Callable[..., Tenant]) -> None:
    tenant = make_tenant()
    organizations = [
        (f"org-{n:03}", f"Customer {n:03}", tenant.company(f"Customer {n:03}"), True)
        for n in range(ORGANIZATIONS)
    ]
    seed_store(tenant.store, tenant.workdir, organizations)
    rows = [
        line(f"oct-{n:03}", f"org-{n:03}", "2026-10", f"sub-{n:03}-{s}", quantity=str(n + s + 1))
        for n in range(ORGANIZATIONS)
        for s in range(SUBSCRIPTIONS)
    ]
    import_lines(tenant.store, tenant.workdir, rows)
    exported = tenant.engine().export(
        Selection(report_ids=tuple(f"oct-{n:03}" for n in range(ORGANIZATIONS)))
    )
    assert exported.exit_code == 0
    # A fresh client, as `billbridge reconcile` opens one: its zone and metadata count too.
    with client_from_settings(tenant.settings) as client:
        result = reconcile_period(tenant.store, tenant.settings, client, "2026-10")
    reconciliation = result.reconciliation
    assert len(reconciliation.rows) == ORGANIZATIONS * SUBSCRIPTIONS
    assert reconciliation.all_matched
    assert result.requests <= MAX_REQUESTS, result.requests
    print(f"reconcile of {ORGANIZATIONS} organizations: {result.requests} requests")

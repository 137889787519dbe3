"""The tenant's metadata cached in the state store: used only by runs that write nothing, for
an hour, never after a failed write; a run that writes checks the tenant read afresh."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from billbridge.export.engine import Selection
from billbridge.export.errors import ExportStoppedError
from billbridge.export.tenant import TenantMisfitError, read_metadata
from billbridge.export.tenant_cache import (
    MAX_AGE,
    cache_key,
    decode,
    encode,
    forget,
    resolve_tenant_cached,
)
from billbridge.store.runs import JournalState
from billbridge.store.schema import run_operations
from tests.export.conftest import Tenant
from tests.export.data import import_lines, line, seed_store

#: The reads of the tenant's metadata: four field lists, two UDF lists, the billing code,
#: two cost samples and the threshold.
METADATA_READS = 10


def reports(tenant: Tenant, month: str = "2026-09") -> list[str]:
    company = tenant.company("Contoso")
    seed_store(tenant.store, tenant.workdir, [("org-1", "Contoso", company, True)])
    rows = [line(f"{month}-org-1", "org-1", month, "sub-1", quantity="5")]
    return import_lines(tenant.store, tenant.workdir, rows)


def requests(tenant: Tenant) -> int:
    return tenant.client.stats.total


def test_the_metadata_survives_encoding_exactly(tenant: Tenant) -> None:
    tenant.engine().export(Selection(tuple(reports(tenant))))
    meta = read_metadata(tenant.client, "Microsoft Licensing")
    again = decode(encode(meta))
    assert again.contract_fields == meta.contract_fields
    assert again.charge_fields == meta.charge_fields
    assert again.product_udfs == meta.product_udfs and again.contract_udfs == meta.contract_udfs
    assert [c["id"] for c in again.billing_codes] == [c["id"] for c in meta.billing_codes]
    assert len(again.product_sample) == len(meta.product_sample) > 0


def test_an_unchanged_re_export_reads_no_metadata(tenant: Tenant) -> None:
    ids = reports(tenant)
    tenant.engine().export(Selection(tuple(ids)))
    before = requests(tenant)
    fresh_client = tenant.client  # the same client would have it cached in memory: use another
    tenant.client = type(fresh_client)(fresh_client.config)
    try:
        again = tenant.engine().export(Selection(tuple(ids)))
        assert again.summary.created == again.summary.updated == 0
        # The zone, the threshold, then the reads by key: companies, contracts, products,
        # charges (and the contracts of companies that get a new one: none here).
        assert again.requests <= 6, tenant.client.stats.by_endpoint
        assert "entityinformation" not in " ".join(tenant.client.stats.by_endpoint)
    finally:
        tenant.client.close()
        tenant.client = fresh_client
    assert requests(tenant) == before


def test_a_cached_entry_expires(tenant: Tenant) -> None:
    settings = tenant.settings
    resolve_tenant_cached(tenant.client, settings, tenant.store)
    with tenant.store.transaction() as uow:
        key = cache_key(tenant.client, "Microsoft Licensing")
        cached = uow.tenant_metadata.get(key)
        assert cached is not None
        uow.tenant_metadata.put(key, cached.body, cached.read_at - MAX_AGE - timedelta(seconds=1))
    client = type(tenant.client)(tenant.client.config)
    with client:
        resolved = resolve_tenant_cached(client, settings, tenant.store)
        assert resolved.cached_at is None  # read again
        assert client.stats.total == METADATA_READS + 1  # and the zone
        cached_again = resolve_tenant_cached(client, settings, tenant.store)
        assert cached_again.cached_at is not None and cached_again == resolved
        assert client.stats.total == METADATA_READS + 1


def test_a_failed_write_or_forget_makes_it_stale(tenant: Tenant) -> None:
    ids = reports(tenant)
    tenant.engine().export(Selection(tuple(ids)))
    assert resolve_tenant_cached(tenant.client, tenant.settings, tenant.store).cached_at
    with tenant.store.transaction() as uow:
        last = uow.connection.execute(run_operations.select().order_by(run_operations.c.id.desc()))
        op_id = last.first().id  # type: ignore[union-attr]
        uow.connection.execute(
            run_operations.update()
            .where(run_operations.c.id == op_id)
            .values(state=JournalState.FAILED.value)
        )
    # The last operation was written after the entry (the entry is made before a run's plan):
    assert resolve_tenant_cached(tenant.client, tenant.settings, tenant.store).cached_at is None
    assert resolve_tenant_cached(tenant.client, tenant.settings, tenant.store).cached_at
    forget(tenant.store)
    assert resolve_tenant_cached(tenant.client, tenant.settings, tenant.store).cached_at is None


def test_another_billing_code_has_its_own_entry(tenant: Tenant) -> None:
    assert cache_key(tenant.client, "Microsoft Licensing") != cache_key(tenant.client, "Other")


def test_a_required_field_added_after_caching_stops_the_writes(tenant: Tenant) -> None:
    """The cache is fresh (seconds old) when a person makes a field required; the next export
    that writes reads the tenant again before its first write and stops with nothing written."""
    first = reports(tenant, "2026-09")
    tenant.engine().export(Selection(tuple(first)))
    assert resolve_tenant_cached(tenant.client, tenant.settings, tenant.store).cached_at
    sandbox_tenant = tenant.sandbox.runtime.tenant
    sandbox_tenant.settings = replace(
        sandbox_tenant.settings, required=frozenset({("Contracts", "contractCategory")})
    )
    rows = [line("2026-10-org-1", "org-1", "2026-10", "sub-2", quantity="3")]
    second = import_lines(tenant.store, tenant.workdir, rows)
    contracts = len(tenant.all("Contracts"))
    client = type(tenant.client)(tenant.client.config)  # a new process, as the CLI runs
    tenant.client, old = client, tenant.client
    try:
        with pytest.raises((TenantMisfitError, ExportStoppedError)) as caught:
            tenant.engine().export(Selection(tuple(second)))
        assert "contractCategory" in str(caught.value)
    finally:
        client.close()
        tenant.client = old
    assert len(tenant.all("Contracts")) == contracts


def test_doctor_tenant_refreshes_the_entry(tenant: Tenant) -> None:
    from billbridge.export.doctor_tenant import tenant_checks

    key = cache_key(tenant.client, "Microsoft Licensing")
    resolve_tenant_cached(tenant.client, tenant.settings, tenant.store)
    with tenant.store.transaction() as uow:
        before = uow.tenant_metadata.get(key)
    tenant_checks(tenant.client, tenant.settings, store=tenant.store)
    with tenant.store.transaction() as uow:
        after = uow.tenant_metadata.get(key)
    assert before is not None and after is not None and after.read_at > before.read_at

"""Reading what Autotask holds for the keys of a run's reports, in batches.

One query per entity per batch of a few hundred keys (`in` filters), never one query per
record; independent entities are read concurrently. The keys are the ones Autotask itself
holds, so this works with an empty or lost state store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from billbridge.autotask import AutotaskClient, F, Filter, format_datetime
from billbridge.domain.records import (
    ActualCharge,
    ActualContract,
    ActualProduct,
    ActualState,
    ChargeKey,
    ContractKey,
    DesiredState,
    ProductKey,
)
from billbridge.export import records
from billbridge.export.tenant import TenantContext

BATCH = 200


def read_actual(
    client: AutotaskClient,
    states: Sequence[DesiredState],
    tenant: TenantContext,
    *,
    written_before: Iterable[int] = (),
) -> ActualState:
    """What Autotask holds for the keys of `states`, and the charges `written_before` (ids
    the store remembers writing for these reports, to notice what a correction dropped)."""
    company_ids = sorted({s.company_id for s in states})
    subscriptions = sorted({c.key.subscription_id for s in states for c in s.contracts})
    product_keys = {p.key for s in states for p in s.products}
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="read") as pool:
        companies_f = pool.submit(_companies, client, company_ids)
        contracts_f = pool.submit(_keyed_contracts, client, subscriptions, tenant)
        products_f = pool.submit(_products, client, product_keys)
        contracts = contracts_f.result()
        known = {
            ContractKey(c.company_id, c.subscription_id) for c in contracts if c.subscription_id
        }
        new_contract_companies = sorted(
            {c.key.company_id for s in states for c in s.contracts if c.key not in known}
        )
        look_alikes_f = pool.submit(_unkeyed_contracts, client, new_contract_companies, tenant)
        charges = _charges(client, states, contracts)
        earlier = sorted(set(written_before) - {c.id for c in charges})
        if earlier:
            found = client.query_in("ContractCharges", "id", earlier, batch_size=BATCH)
            charges.extend(records.charge(r) for r in found)
        return ActualState(
            companies=companies_f.result(),
            contracts=tuple(contracts) + tuple(look_alikes_f.result()),
            charges=tuple(charges),
            products=tuple(products_f.result()),
        )


def find_contract(
    client: AutotaskClient, key: ContractKey, tenant: TenantContext
) -> list[ActualContract]:
    """The contracts holding one key (to resolve a create whose outcome is unknown)."""
    found = client.query(
        "Contracts",
        [F.udf_eq(tenant.udf_name, key.subscription_id), F.eq("companyID", key.company_id)],
    )
    contracts = [records.contract(r, tenant.udf_name) for r in found]
    return [
        c
        for c in contracts
        if c.subscription_id is not None and ContractKey(c.company_id, c.subscription_id) == key
    ]


def find_product(client: AutotaskClient, key: ProductKey) -> list[ActualProduct]:
    condition = F.eq("sku", key.sku) if key.sku is not None else F.eq("name", key.name or "")
    found = client.query("Products", [condition], include_fields=records.PRODUCT_FIELDS)
    products = [records.product(r) for r in found]
    if key.sku is not None:
        return [p for p in products if p.sku is not None and ProductKey(sku=p.sku) == key]
    return [p for p in products if ProductKey(name=p.name) == key]


def find_charge(client: AutotaskClient, contract_id: int, key: ChargeKey) -> list[ActualCharge]:
    """The charges of one contract that carry `key`, dated within a few days of its period's
    first day (tolerant of either reading of a date-only field), matched by the marker."""
    found = client.query(
        "ContractCharges",
        [F.eq("contractID", contract_id), *_period_filters(key.period_start)],
        include_fields=records.CHARGE_FIELDS,
    )
    charges = [records.charge(r) for r in found]
    return [c for c in charges if c.marker is not None and c.marker.key == key]


def _companies(client: AutotaskClient, ids: Sequence[int]) -> dict[int, Any]:
    found = client.query_in("Companies", "id", ids, batch_size=BATCH)
    companies = [records.company(r) for r in found]
    return {c.id: c for c in companies}


def _keyed_contracts(
    client: AutotaskClient, subscriptions: Sequence[str], tenant: TenantContext
) -> list[ActualContract]:
    found = client.query_in("Contracts", tenant.udf_name, subscriptions, udf=True, batch_size=BATCH)
    return [records.contract(r, tenant.udf_name) for r in found]


def _unkeyed_contracts(
    client: AutotaskClient, company_ids: Sequence[int], tenant: TenantContext
) -> list[ActualContract]:
    """Contracts of companies that get a new contract but carry no subscription id: the
    look-alikes a user should review as possible duplicates."""
    if not company_ids:
        return []
    found = client.query_in(
        "Contracts",
        "companyID",
        company_ids,
        extra=[F.udf("notExist", tenant.udf_name)],
        batch_size=BATCH,
    )
    return [records.contract(r, tenant.udf_name) for r in found]


def _products(client: AutotaskClient, keys: Iterable[ProductKey]) -> list[ActualProduct]:
    keys = list(keys)
    skus = sorted(k.sku for k in keys if k.sku is not None)
    names = sorted(k.name for k in keys if k.sku is None and k.name is not None)
    found = list(client.query_in("Products", "sku", skus, batch_size=BATCH)) if skus else []
    if names:
        found += client.query_in("Products", "name", names, batch_size=BATCH)
    return [records.product(r) for r in found]


def _charges(
    client: AutotaskClient, states: Sequence[DesiredState], contracts: Sequence[ActualContract]
) -> list[ActualCharge]:
    """Charges of the existing contracts in each period being exported."""
    contract_ids: dict[ContractKey, set[int]] = defaultdict(set)
    for contract in contracts:
        if contract.subscription_id:
            contract_ids[ContractKey(contract.company_id, contract.subscription_id)].add(
                contract.id
            )
    by_period: dict[date, set[int]] = defaultdict(set)
    for state in states:
        for charge in state.charges:
            by_period[charge.key.period_start] |= contract_ids.get(charge.contract_key, set())
    charges: list[ActualCharge] = []
    for period_start, ids in sorted(by_period.items()):
        if not ids:
            continue
        found = client.query_in(
            "ContractCharges",
            "contractID",
            sorted(ids),
            extra=_period_filters(period_start),
            batch_size=BATCH,
        )
        charges.extend(records.charge(r) for r in found)
    return charges


DATE_TOLERANCE = timedelta(days=3)
"""How far from its period's first day a charge is still looked for: a tenant that moves an
instant to its own zone, or a charge written by an older billbridge at midnight UTC, may hold
the day before; the key in the marker then decides."""


def _period_filters(period_start: date) -> list[Filter]:
    """Charges dated within `DATE_TOLERANCE` of `period_start`, under either date reading."""
    first = records.wire_date(period_start - DATE_TOLERANCE)
    last = records.wire_date(period_start + DATE_TOLERANCE)
    return [
        F.gte("datePurchased", format_datetime(first)),
        F.lte("datePurchased", format_datetime(last)),
    ]


Reader = Callable[[], list[Any]]

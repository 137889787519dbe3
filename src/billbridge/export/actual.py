"""Reading what Autotask holds for the keys of a run's reports, in batches.

One query per entity per batch of a few hundred keys (`in` filters), never one query per
record; independent entities are read concurrently. The keys are the ones Autotask itself
holds, so this works with an empty or lost state store.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

from billbridge.autotask import AutotaskClient, F
from billbridge.domain.records import (
    ActualCharge,
    ActualContract,
    ActualProduct,
    ActualState,
    ContractKey,
    DesiredState,
    ProductKey,
)
from billbridge.export import records
from billbridge.export.entities import CHARGES, COMPANIES, CONTRACTS, PRODUCTS
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
            found = client.query_in(CHARGES.route, "id", earlier, batch_size=BATCH)
            charges.extend(records.charge(r) for r in found)
        return ActualState(
            companies=companies_f.result(),
            contracts=tuple(contracts) + tuple(look_alikes_f.result()),
            charges=tuple(charges),
            products=tuple(products_f.result()),
        )


def _companies(client: AutotaskClient, ids: Sequence[int]) -> dict[int, Any]:
    found = client.query_in(COMPANIES.route, "id", ids, batch_size=BATCH)
    companies = [COMPANIES.actual(r) for r in found]
    return {c.id: c for c in companies}


def _keyed_contracts(
    client: AutotaskClient, subscriptions: Sequence[str], tenant: TenantContext
) -> list[ActualContract]:
    found = client.query_in_all(
        CONTRACTS.route, tenant.udf_name, subscriptions, udf=True, batch_size=BATCH
    )
    return [CONTRACTS.actual(r, tenant) for r in found]


def _unkeyed_contracts(
    client: AutotaskClient, company_ids: Sequence[int], tenant: TenantContext
) -> list[ActualContract]:
    """Contracts of companies that get a new contract but carry no subscription id: the
    look-alikes a user should review as possible duplicates."""
    if not company_ids:
        return []
    found = client.query_in_all(
        CONTRACTS.route,
        "companyID",
        company_ids,
        extra=[F.udf("notExist", tenant.udf_name)],
        batch_size=BATCH,
    )
    return [CONTRACTS.actual(r, tenant) for r in found]


def _products(client: AutotaskClient, keys: Iterable[ProductKey]) -> list[ActualProduct]:
    keys = list(keys)
    skus = sorted(k.sku for k in keys if k.sku is not None)
    names = sorted(k.name for k in keys if k.sku is None and k.name is not None)
    route = PRODUCTS.route
    if skus and names and len(skus) + len(names) <= BATCH:
        # One query instead of two: the `or` holds as many values as one batch would.
        either = F.or_(F.in_("sku", skus), F.in_("name", names))
        return [records.product(r) for r in client.query(route, [either])]
    found = list(client.query_in(route, "sku", skus, batch_size=BATCH)) if skus else []
    if names:
        found += client.query_in(route, "name", names, batch_size=BATCH)
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
        if ids:
            charges.extend(CHARGES.of_contracts(client, sorted(ids), period_start, BATCH))
    return charges


Reader = Callable[[], list[Any]]

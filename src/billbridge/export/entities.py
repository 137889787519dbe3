"""One place per Autotask entity: its route, the fields read, the record it becomes, how a
create and an update of it go on the wire, and how it is found again by its key.

apply, read and the lease use these; nothing else names a route. Keys are found as Autotask
compares strings (without case) and charges by date with a tolerance of a few days either
side of their period's first day (a tenant may move an instant to its own zone first), then
by the key in their marker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

from billbridge.autotask import AutotaskClient, F, Filter, format_datetime
from billbridge.domain.plan import Action, Operation
from billbridge.domain.records import (
    ActualCharge,
    ActualCompany,
    ActualContract,
    ActualProduct,
    ChargeKey,
    ContractKey,
    Entity,
    ProductKey,
    Value,
)
from billbridge.export import records
from billbridge.export.tenant import TenantContext

DATE_TOLERANCE = timedelta(days=3)
"""How far from its period's first day a charge is still looked for: a tenant that moves an
instant to its own zone, or a charge written by an older billbridge at midnight UTC, may hold
the day before; the key in the marker then decides."""


@dataclass(frozen=True, slots=True)
class Refs:
    """Ids a write needs that only the run knows: the charge's contract and product."""

    contract_id: int | None = None
    product_id: int | None = None


class Contracts:
    entity: ClassVar[Entity] = Entity.CONTRACT
    route: ClassVar[str] = "Contracts"

    @staticmethod
    def actual(record: Mapping[str, Any], tenant: TenantContext) -> ActualContract:
        return records.contract(record, tenant.udf_name)

    def write(
        self, client: AutotaskClient, op: Operation, tenant: TenantContext, refs: Refs
    ) -> int:
        if op.action is Action.CREATE:
            return client.create(self.route, records.contract_create_body(op, tenant))
        assert op.autotask_id is not None
        return client.update(self.route, records.update_body(op, op.autotask_id))

    def find(
        self, client: AutotaskClient, key: ContractKey, tenant: TenantContext
    ) -> list[ActualContract]:
        found = client.query(
            self.route,
            [F.udf_eq(tenant.udf_name, key.subscription_id), F.eq("companyID", key.company_id)],
        )
        contracts = [self.actual(r, tenant) for r in found]
        return [
            c
            for c in contracts
            if c.subscription_id is not None and ContractKey(c.company_id, c.subscription_id) == key
        ]

    def find_created(
        self, client: AutotaskClient, op: Operation, tenant: TenantContext, refs: Refs
    ) -> int | None:
        assert isinstance(op.key, ContractKey)
        found = self.find(client, op.key, tenant)
        return min(c.id for c in found) if found else None


class Charges:
    entity: ClassVar[Entity] = Entity.CHARGE
    route: ClassVar[str] = "ContractCharges"
    parent: ClassVar[str] = Contracts.route
    child: ClassVar[str] = "Charges"
    fields: ClassVar[tuple[str, ...]] = records.CHARGE_FIELDS

    @staticmethod
    def actual(record: Mapping[str, Any], tenant: TenantContext) -> ActualCharge:
        return records.charge(record)

    def write(
        self, client: AutotaskClient, op: Operation, tenant: TenantContext, refs: Refs
    ) -> int:
        assert refs.contract_id is not None
        if op.action is Action.CREATE:
            assert refs.product_id is not None
            body = records.charge_create_body(op, refs.contract_id, refs.product_id, tenant)
            return client.create_child(self.parent, refs.contract_id, self.child, body)
        assert op.autotask_id is not None
        body = records.update_body(op, op.autotask_id, refs.product_id)
        return client.update_child(self.parent, refs.contract_id, self.child, body)

    def find(self, client: AutotaskClient, contract_id: int, key: ChargeKey) -> list[ActualCharge]:
        found = client.query(
            self.route,
            [F.eq("contractID", contract_id), *self.period_filters(key.period_start)],
            include_fields=self.fields,
        )
        charges = [records.charge(r) for r in found]
        return [c for c in charges if c.marker is not None and c.marker.key == key]

    def find_created(
        self, client: AutotaskClient, op: Operation, tenant: TenantContext, refs: Refs
    ) -> int | None:
        assert isinstance(op.key, ChargeKey) and refs.contract_id is not None
        found = self.find(client, refs.contract_id, op.key)
        return min(c.id for c in found) if found else None

    @staticmethod
    def period_filters(period_start: date) -> list[Filter]:
        """Charges dated within `DATE_TOLERANCE` of `period_start`, under either reading."""
        first = records.wire_date(period_start - DATE_TOLERANCE)
        last = records.wire_date(period_start + DATE_TOLERANCE)
        return [
            F.gte("datePurchased", format_datetime(first)),
            F.lte("datePurchased", format_datetime(last)),
        ]

    def of_contracts(
        self, client: AutotaskClient, contract_ids: Sequence[int], period_start: date, batch: int
    ) -> list[ActualCharge]:
        found = client.query_in_all(
            self.route,
            "contractID",
            sorted(contract_ids),
            extra=self.period_filters(period_start),
            batch_size=batch,
        )
        return [records.charge(r) for r in found]


class Products:
    entity: ClassVar[Entity] = Entity.PRODUCT
    route: ClassVar[str] = "Products"
    fields: ClassVar[tuple[str, ...]] = records.PRODUCT_FIELDS

    @staticmethod
    def actual(record: Mapping[str, Any], tenant: TenantContext) -> ActualProduct:
        return records.product(record)

    def write(
        self, client: AutotaskClient, op: Operation, tenant: TenantContext, refs: Refs
    ) -> int:
        if op.action is Action.CREATE:
            return client.create(self.route, records.product_create_body(op, tenant))
        assert op.autotask_id is not None
        return client.update(self.route, records.update_body(op, op.autotask_id))

    def find(self, client: AutotaskClient, key: ProductKey) -> list[ActualProduct]:
        condition = F.eq("sku", key.sku) if key.sku is not None else F.eq("name", key.name or "")
        found = client.query(self.route, [condition], include_fields=self.fields)
        products = [records.product(r) for r in found]
        if key.sku is not None:
            return [p for p in products if p.sku is not None and ProductKey(sku=p.sku) == key]
        return [p for p in products if ProductKey(name=p.name) == key]

    def find_created(
        self, client: AutotaskClient, op: Operation, tenant: TenantContext, refs: Refs
    ) -> int | None:
        assert isinstance(op.key, ProductKey)
        found = self.find(client, op.key)
        return min(p.id for p in found) if found else None


class Companies:
    route: ClassVar[str] = "Companies"
    fields: ClassVar[tuple[str, ...]] = records.COMPANY_FIELDS

    @staticmethod
    def actual(record: Mapping[str, Any]) -> ActualCompany:
        return records.company(record)


CONTRACTS, CHARGES, PRODUCTS, COMPANIES = Contracts(), Charges(), Products(), Companies()

Writable = Contracts | Charges | Products

WRITABLE: Mapping[Entity, Writable] = {
    Entity.CONTRACT: CONTRACTS,
    Entity.CHARGE: CHARGES,
    Entity.PRODUCT: PRODUCTS,
}


def current_fields(
    client: AutotaskClient, op: Operation, tenant: TenantContext
) -> dict[str, Value] | None:
    """The fields of the record an update went to, as Autotask holds them now."""
    assert op.autotask_id is not None
    spec = WRITABLE[op.entity]
    record = client.get(spec.route, op.autotask_id)
    return None if record is None else spec.actual(record, tenant).fields()

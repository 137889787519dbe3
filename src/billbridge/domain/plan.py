"""Desired against actual: the operations an export performs, decided before any write.

`plan` prints these and stops; `export` applies the very same operations, so a plan is a
faithful preview. Only the fields that differ are updated; a billed charge is never changed;
nothing is deleted; records without billbridge's key are never touched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from billbridge.domain.money import round_cents
from billbridge.domain.records import (
    ActualCharge,
    ActualCompany,
    ActualContract,
    ActualProduct,
    ActualState,
    ChargeKey,
    ContractKey,
    DesiredCharge,
    DesiredContract,
    DesiredProduct,
    DesiredState,
    Entity,
    ProductKey,
    Skipped,
    Value,
    fold,
)
from billbridge.domain.totals import conflict_amount

# Autotask keeps money and quantities to four decimal places by default (it rounds unit values
# on write); a difference finer than what the tenant keeps cannot be written and must not
# cause an update.
AUTOTASK_PLACES = Decimal("0.0001")

UNIT_FIELDS = ("unitQuantity", "unitCost", "unitPrice")
"""The fields the tenant keeps at its own precision."""
CREATE_ONLY: Mapping[Entity, frozenset[str]] = {
    Entity.PRODUCT: frozenset({"sku", "description", "isSerialized"}),
    Entity.CHARGE: frozenset({"isBillableToCompany"}),
    Entity.CONTRACT: frozenset(),
}
"""Fields sent when a record is created and deliberately not compared afterwards: the key
itself, and what a person may set differently in Autotask without billbridge undoing it."""
CUSTOMER_TEXT = frozenset({"description", "notes"})
"""Text fields a person may edit at Approve & Post; a billed charge is not fought over them."""


@dataclass(frozen=True, slots=True)
class TenantView:
    """What the tenant keeps and shows, as far as planning cares."""

    unit_places: int = 4
    """Decimals the tenant keeps for unit quantities and prices."""
    hidden: frozenset[str] = frozenset()
    """Fields the API user cannot see (e.g. `unitCost` without the cost permission): they
    read empty and writes to them are ignored, so they are never compared."""

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.unit_places)

    def kept(self, value: Decimal) -> Decimal:
        """`value` as the tenant keeps it: rounded half-up to its decimals (spelt as given when
        rounding changes nothing)."""
        rounded = value.quantize(self.quantum, rounding=ROUND_HALF_UP)
        return value if rounded == value else rounded


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"


class ReportStatus(StrEnum):
    EXPORTED = "exported"
    NOTHING_TO_DO = "nothing_to_do"
    NEEDS_ATTENTION = "needs_attention"
    """Everything billbridge could write is written; a conflict waits for a person."""
    SKIPPED = "skipped"
    FAILED = "failed"
    DEFERRED = "deferred"
    """Left for a later export: the hourly request budget has no room for it now."""

    @property
    def is_done(self) -> bool:
        """The report's current content needs no further export."""
        return self in (
            ReportStatus.EXPORTED,
            ReportStatus.NOTHING_TO_DO,
            ReportStatus.NEEDS_ATTENTION,
        )


@dataclass(frozen=True, slots=True)
class Operation:
    """One create, update, no-op or refusal for one record."""

    action: Action
    entity: Entity
    key: ContractKey | ChargeKey | ProductKey
    autotask_id: int | None
    fields: Mapping[str, Value]
    """Create: every field to send. Update: the changed fields' new values."""
    previous: Mapping[str, Value] = field(default_factory=dict)
    """Update and conflict: the changed fields' values in Autotask now."""
    reason: str | None = None
    contract_key: ContractKey | None = None
    """Charges: the contract they belong to (its id may be known only after it is created)."""
    product_key: ProductKey | None = None
    """Charges: the product they reference, likewise."""
    parent_id: int | None = None
    """Charge updates: the contract the existing charge belongs to."""

    @property
    def writes(self) -> bool:
        return self.action in (Action.CREATE, Action.UPDATE)


@dataclass(frozen=True, slots=True)
class ReportPlan:
    report_id: str
    organization_id: str
    status: ReportStatus
    """What the report's export would end as if every write succeeds."""
    reason: str | None
    operations: tuple[Operation, ...]
    warnings: tuple[str, ...] = ()

    @property
    def writes(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.writes)


def over_budget(plans: Sequence[ReportPlan], room: int) -> set[str]:
    """The reports to leave for later so that the writes fit in `room` requests.

    From the first report whose writes no longer fit, every later report that writes is left
    too: a record shared by several reports is planned by the first of them, so the reports
    kept (a prefix) never wait for a write of a report left out. Reports that write nothing
    cost nothing and are kept.
    """
    used = 0
    deferred: set[str] = set()
    for plan in plans:
        writes = len(plan.writes)
        if not writes:
            continue
        if deferred or used + writes > room:
            deferred.add(plan.report_id)
        else:
            used += writes
    return deferred


def deferred(plan: ReportPlan, reason: str) -> ReportPlan:
    """`plan` left for a later export: no operation, its status `deferred` with `reason`."""
    return ReportPlan(
        plan.report_id, plan.organization_id, ReportStatus.DEFERRED, reason, (), plan.warnings
    )


def plan_reports(
    decisions: Sequence[DesiredState | Skipped],
    actual: ActualState,
    view: TenantView = TenantView(),
) -> list[ReportPlan]:
    """Plan every report of a run against one read of Autotask.

    Records shared by several reports of the run are planned once, by the first report that
    needs them: a product, and a contract (whose term then spans all of the run's reports, so
    that catching up September and October together gives one contract, not two). A charge
    key claimed by two reports of the run is a conflict for the second.
    """
    index = _Index.of(actual)
    contracts = _merged_contracts(decisions)
    claimed = _Claims()
    plans = []
    for decision in decisions:
        if isinstance(decision, Skipped):
            plans.append(
                ReportPlan(
                    decision.report_id,
                    decision.organization_id,
                    ReportStatus.SKIPPED,
                    decision.reason,
                    (),
                    (decision.detail,),
                )
            )
        else:
            plans.append(_plan_report(decision, index, contracts, claimed, view))
    return plans


@dataclass
class _Claims:
    """Keys already planned by an earlier report of the run."""

    products: set[ProductKey] = field(default_factory=set)
    contracts: set[ContractKey] = field(default_factory=set)
    charges: dict[ChargeKey, str] = field(default_factory=dict)


def _merged_contracts(
    decisions: Sequence[DesiredState | Skipped],
) -> dict[ContractKey, DesiredContract]:
    """One desired contract per key over all reports: the earliest start, the latest end."""
    merged: dict[ContractKey, DesiredContract] = {}
    for decision in decisions:
        if isinstance(decision, Skipped):
            continue
        for contract in decision.contracts:
            known = merged.get(contract.key)
            if known is None:
                merged[contract.key] = contract
            elif contract.synthetic_term:
                if contract.start_date < known.start_date:
                    merged[contract.key] = contract
            else:
                merged[contract.key] = replace(
                    known,
                    start_date=min(known.start_date, contract.start_date),
                    end_date=max(known.end_date, contract.end_date),
                )
    return merged


def _plan_report(
    desired: DesiredState,
    index: _Index,
    contracts: Mapping[ContractKey, DesiredContract],
    claimed: _Claims,
    view: TenantView,
) -> ReportPlan:
    company = index.companies.get(desired.company_id)
    failure = None
    if company is None:
        failure = f"company {desired.company_id} does not exist in Autotask"
    elif not company.is_active:
        failure = f"company {desired.company_id} ({company.name}) is inactive in Autotask"
    if failure is not None:
        return ReportPlan(
            desired.report_id,
            desired.organization_id,
            ReportStatus.FAILED,
            failure,
            (),
            desired.warnings,
        )
    warnings = list(desired.warnings)
    operations: list[Operation] = []
    for product in desired.products:
        if product.key not in claimed.products:
            claimed.products.add(product.key)
            operations.append(_plan_product(product, index, warnings, view))
    for contract in desired.contracts:
        if contract.key not in claimed.contracts:
            claimed.contracts.add(contract.key)
            operations.append(_plan_contract(contracts[contract.key], index, warnings))
    for charge in desired.charges:
        earlier = claimed.charges.setdefault(charge.key, desired.report_id)
        contract_conflict = index.contract_conflict(charge.contract_key)
        if contract_conflict is not None:
            operations.append(
                _conflict(
                    Entity.CHARGE,
                    charge.key,
                    None,
                    f"not written: contract {charge.contract_key}: {contract_conflict}",
                )
            )
        elif earlier != desired.report_id:
            operations.append(
                _conflict(
                    Entity.CHARGE,
                    charge.key,
                    None,
                    f"report {earlier} of this export also bills {charge.key};"
                    " two reports bill the same subscription and period",
                )
            )
        else:
            operations.append(_plan_charge(charge, index, view, warnings))
    operations.extend(_left_behind(desired, index))
    if any(op.action is Action.CONFLICT for op in operations):
        status = ReportStatus.NEEDS_ATTENTION
    elif any(op.writes for op in operations):
        status = ReportStatus.EXPORTED
    else:
        status = ReportStatus.NOTHING_TO_DO
    return ReportPlan(
        desired.report_id,
        desired.organization_id,
        status,
        None,
        tuple(operations),
        tuple(warnings),
    )


def _left_behind(desired: DesiredState, index: _Index) -> list[Operation]:
    """Charges an earlier revision of the report wrote for keys it no longer bills.

    billbridge never deletes, so a correction that drops a subscription (or moves the period)
    would leave a charge that bills too much; it is reported as a conflict for a person.
    """
    wanted = {charge.key for charge in desired.charges}
    operations = []
    for key, charges in sorted(index.charges_by_key.items()):
        for charge in charges:
            assert charge.marker is not None
            if charge.marker.report_id == desired.report_id and key not in wanted:
                operations.append(
                    _conflict(
                        Entity.CHARGE,
                        key,
                        charge.id,
                        f"charge {charge.id} was written for {key} by an earlier revision of"
                        f" report {desired.report_id}, which no longer bills it; billbridge"
                        " never deletes: remove or credit it in Autotask",
                    )
                )
    return operations


def _plan_product(
    desired: DesiredProduct, index: _Index, warnings: list[str], view: TenantView
) -> Operation:
    wanted: dict[str, Value] = {
        "name": desired.name,
        "sku": desired.sku,
        "description": desired.description,
        "unitCost": view.kept(desired.unit_cost),
        "unitPrice": view.kept(desired.unit_price),
        "productBillingCodeID": desired.billing_code_id,
        "isActive": True,
        "isSerialized": False,
    }
    found = index.products_for(desired.key)
    if not found:
        return Operation(Action.CREATE, Entity.PRODUCT, desired.key, None, wanted)
    product = min(found, key=lambda p: p.id)
    if len(found) > 1:
        others = ", ".join(str(p.id) for p in found if p is not product)
        warnings.append(
            f"several Autotask products match {desired.key}; using {product.id}, not {others}"
        )
    if desired.create_only:
        return Operation(Action.UNCHANGED, Entity.PRODUCT, desired.key, product.id, {})
    return _compare(
        Entity.PRODUCT, desired.key, product.id, wanted, product.fields(), view, product.missing
    )


def _plan_contract(desired: DesiredContract, index: _Index, warnings: list[str]) -> Operation:
    key = desired.key
    holders = index.contracts_by_subscription.get(fold(key.subscription_id), [])
    mine = [c for c in holders if c.company_id == key.company_id]
    conflict = index.contract_conflict(key)
    if len(mine) > 1 and conflict is not None:
        return _conflict(Entity.CONTRACT, key, None, conflict)
    if not mine and holders:
        other = holders[0]
        return _conflict(
            Entity.CONTRACT,
            key,
            other.id,
            f"subscription {key.subscription_id} is on contract {other.id} of company"
            f" {other.company_id}, not of company {key.company_id}; was the organization"
            " linked to another company?",
        )
    if not mine:
        for look_alike in index.look_alikes(key.company_id, desired.product_name):
            warnings.append(
                f"possible duplicate: contract {look_alike.id} '{look_alike.name}' of company"
                f" {key.company_id} has no subscription id; if it is subscription"
                f" {key.subscription_id}, set its subscription field so billbridge adopts it"
            )
        return Operation(
            Action.CREATE,
            Entity.CONTRACT,
            key,
            None,
            {
                "companyID": key.company_id,
                "contractName": desired.name,
                "description": desired.description,
                "startDate": desired.start_date,
                "endDate": desired.end_date,
            },
        )
    contract = mine[0]
    # A renewal moves the end date later; a contract is never shortened (catching up an older
    # report must not undo a renewal), and synthetic terms are never moved.
    if (
        not desired.synthetic_term
        and contract.end_date is not None
        and desired.end_date > contract.end_date
    ):
        return Operation(
            Action.UPDATE,
            Entity.CONTRACT,
            key,
            contract.id,
            {"endDate": desired.end_date},
            {"endDate": contract.end_date},
        )
    return Operation(Action.UNCHANGED, Entity.CONTRACT, key, contract.id, {})


def _plan_charge(
    desired: DesiredCharge, index: _Index, view: TenantView, warnings: list[str]
) -> Operation:
    warning = rounding_warning(desired, view)
    if warning is not None:
        warnings.append(warning)
    operation = _charge_operation(desired, index, view)
    return replace(operation, contract_key=desired.contract_key, product_key=desired.product_key)


def rounding_warning(desired: DesiredCharge, view: TenantView) -> str | None:
    """Say so when the tenant's precision changes what the charge bills."""
    exact = round_cents(desired.unit_quantity * desired.unit_price)
    kept = round_cents(view.kept(desired.unit_quantity) * view.kept(desired.unit_price))
    if exact == kept:
        return None
    currency = f" {desired.currency}" if desired.currency else ""
    return (
        f"charge {desired.key}: Autotask keeps {view.unit_places} decimals, so"
        f" {desired.unit_quantity} x {desired.unit_price} is billed as {kept}{currency}"
        f" ({view.kept(desired.unit_quantity)} x {view.kept(desired.unit_price)}), not"
        f" {exact}{currency}"
    )


def _charge_operation(desired: DesiredCharge, index: _Index, view: TenantView) -> Operation:
    wanted: dict[str, Value] = {
        "name": desired.name,
        "description": desired.description,
        "notes": desired.notes,
        "datePurchased": desired.date_purchased,
        "unitQuantity": view.kept(desired.unit_quantity),
        "unitCost": view.kept(desired.unit_cost),
        "unitPrice": view.kept(desired.unit_price),
        "isBillableToCompany": True,
    }
    product_ids = [p.id for p in index.products_for(desired.product_key)]
    if product_ids:
        wanted["productID"] = min(product_ids)
    found = index.charges_by_key.get(desired.key, [])
    if not found:
        return Operation(Action.CREATE, Entity.CHARGE, desired.key, None, wanted)
    if len(found) > 1:
        ids = ", ".join(str(c.id) for c in found)
        return _conflict(
            Entity.CHARGE, desired.key, None, f"charges {ids} all carry the key {desired.key}"
        )
    charge = found[0]
    assert charge.marker is not None
    if charge.marker.report_id != desired.report_id:
        return _conflict(
            Entity.CHARGE,
            desired.key,
            charge.id,
            f"charge {charge.id} for {desired.key} was written by report"
            f" {charge.marker.report_id}; two reports bill the same subscription and period",
        )
    operation = _compare(
        Entity.CHARGE, desired.key, charge.id, wanted, charge.fields(), view, charge.missing
    )
    operation = replace(operation, parent_id=charge.contract_id)
    if operation.action is Action.UPDATE and charge.is_billed:
        if set(operation.fields) <= CUSTOMER_TEXT:
            # The texts of a billed charge are the invoice's now (a person may have edited
            # them at posting, or they carry an older billbridge's marker): left alone.
            return replace(operation, action=Action.UNCHANGED, fields={}, previous={})
        return replace(
            operation,
            action=Action.CONFLICT,
            reason=_billed_reason(operation, charge, desired.currency),
        )
    return operation


def _billed_reason(operation: Operation, charge: ActualCharge, currency: str) -> str:
    """Why a billed charge's correction is refused, with the difference it is worth:
    `2 more seats x 22.00 = 44.00 USD to bill (charge 29690004 is billed); ...`."""
    changes = {
        name: {"from": operation.previous.get(name), "to": value}
        for name, value in operation.fields.items()
    }
    current = charge.fields()
    held = {
        name: value if isinstance(value, Decimal) else None
        for name in ("unitQuantity", "unitPrice")
        for value in (current.get(name),)
    }
    amount = conflict_amount(changes, held, currency, charge.id)
    never = "a billed charge is never changed: credit or bill the difference in Autotask"
    if amount is None:
        return f"charge {charge.id} is already billed (Approve & Post); {never}"
    return f"{amount.text}; {never}"


def _compare(
    entity: Entity,
    key: ContractKey | ChargeKey | ProductKey,
    autotask_id: int,
    wanted: Mapping[str, Value],
    current: Mapping[str, Value],
    view: TenantView = TenantView(),
    missing: frozenset[str] = frozenset(),
) -> Operation:
    """Update only the fields that differ. Fields sent on create only (`CREATE_ONLY`) and
    fields the tenant hides are not compared; a field Autotask's record lacks is reported."""
    changed = {
        name: value
        for name, value in wanted.items()
        if name in current
        and name not in missing
        and name not in view.hidden
        and not same_value(value, current[name], view.quantum)
    }
    absent = sorted(
        name
        for name in wanted
        if name in missing or (name not in current and name not in CREATE_ONLY[entity])
    )
    reason = (
        f"not compared: {', '.join(absent)} (missing from Autotask's record)" if absent else None
    )
    if not changed:
        return Operation(Action.UNCHANGED, entity, key, autotask_id, {}, reason=reason)
    previous = {name: current[name] for name in changed}
    return Operation(Action.UPDATE, entity, key, autotask_id, changed, previous, reason=reason)


def _conflict(
    entity: Entity, key: ContractKey | ChargeKey | ProductKey, autotask_id: int | None, reason: str
) -> Operation:
    return Operation(Action.CONFLICT, entity, key, autotask_id, {}, reason=reason)


def same_value(wanted: Value, current: Value, quantum: Decimal = AUTOTASK_PLACES) -> bool:
    """Equal as Autotask stores them: decimals to the tenant's places, text without trailing
    space."""
    if isinstance(wanted, Decimal) and isinstance(current, Decimal):
        return wanted.quantize(quantum, ROUND_HALF_UP) == current.quantize(quantum, ROUND_HALF_UP)
    if isinstance(wanted, str) and isinstance(current, str):
        return wanted.strip() == current.strip()
    if wanted is None or wanted == "":
        return current is None or current == ""
    return wanted == current


@dataclass
class _Index:
    companies: Mapping[int, ActualCompany]
    contracts_by_subscription: dict[str, list[ActualContract]]
    unkeyed_contracts: dict[int, list[ActualContract]]
    charges_by_key: dict[ChargeKey, list[ActualCharge]]
    products_by_sku: dict[str, list[ActualProduct]]
    products_by_name: dict[str, list[ActualProduct]]

    @classmethod
    def of(cls, actual: ActualState) -> _Index:
        by_subscription: dict[str, list[ActualContract]] = defaultdict(list)
        unkeyed: dict[int, list[ActualContract]] = defaultdict(list)
        for contract in actual.contracts:
            if contract.subscription_id:
                by_subscription[fold(contract.subscription_id)].append(contract)
            else:
                unkeyed[contract.company_id].append(contract)
        charges: dict[ChargeKey, list[ActualCharge]] = defaultdict(list)
        seen: set[int] = set()
        for charge in actual.charges:
            if charge.marker is not None and charge.id not in seen:
                seen.add(charge.id)
                charges[charge.marker.key].append(charge)
        by_sku: dict[str, list[ActualProduct]] = defaultdict(list)
        by_name: dict[str, list[ActualProduct]] = defaultdict(list)
        for product in actual.products:
            if product.sku:
                by_sku[fold(product.sku)].append(product)
            by_name[fold(product.name)].append(product)
        return cls(actual.companies, by_subscription, unkeyed, charges, by_sku, by_name)

    def products_for(self, key: ProductKey) -> list[ActualProduct]:
        if key.sku is not None:
            return self.products_by_sku.get(fold(key.sku), [])
        return self.products_by_name.get(fold(key.name or ""), [])

    def contract_conflict(self, key: ContractKey) -> str | None:
        """Why no charge can be written under `key`: several contracts hold it."""
        holders = self.contracts_by_subscription.get(fold(key.subscription_id), [])
        mine = sorted({c.id for c in holders if c.company_id == key.company_id})
        if len(mine) < 2:
            return None
        ids = ", ".join(str(i) for i in mine)
        return (
            f"contracts {ids} all hold subscription {key.subscription_id} (a copied contract,"
            " or a second installation's); keep one and clear the subscription field of the"
            " others"
        )

    def look_alikes(self, company_id: int, product_name: str) -> Iterable[ActualContract]:
        wanted = product_name.casefold()
        return [
            c for c in self.unkeyed_contracts.get(company_id, []) if wanted in c.name.casefold()
        ]

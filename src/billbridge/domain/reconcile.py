"""Reconciliation: the charges the imported billing calls for against the charges Autotask
holds for the same period, compared to the cent. Pure: the caller reads both sides.

A subscription's charge is found by its contract (the subscription UDF, compared without case
as Autotask compares strings, in the organization's company), never by a marker in the
charge's text, so hand-made and hand-edited charges are compared the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from billbridge.domain.money import canonical
from billbridge.domain.totals import (
    Priced,
    SubscriptionCharge,
    margin_percent,
    money_text,
    percent_text,
)

DATE_TOLERANCE = timedelta(days=2)
"""A tenant that moves a date to its own time zone shows a charge a day or two early."""


class Status(StrEnum):
    MATCHED = "matched"
    OVER_BILLED = "over_billed"
    UNDER_BILLED = "under_billed"
    NOT_IN_AUTOTASK = "not_in_autotask"
    AUTOTASK_ONLY = "autotask_only"


class Flag(StrEnum):
    BELOW_COST = "below_cost"
    MARGIN_BELOW_FLOOR = "margin_below_floor"
    BILLED = "billed"
    COST_DIFFERS = "cost_differs"
    QUANTITY_DIFFERS = "quantity_differs"
    SEVERAL_CHARGES = "several_charges"


class Reason(StrEnum):
    """Why a subscription with billing has no charge in Autotask."""

    UNMAPPED = "unmapped"
    INACTIVE = "inactive"
    FILTERED = "filtered"
    FAILED = "failed"
    NOT_YET_EXPORTED = "not yet exported"
    MISSING = "missing"
    """Exported in its current content, yet Autotask holds no charge for it now."""


def period_window(period_start: date, period_end: date) -> tuple[date, date]:
    """The purchase dates that count as the period's charges.

    The rules date every charge on the period's first day; a tenant that shifts dates shows
    it up to two days earlier. Shifting the whole window by the same two days keeps the
    windows of consecutive periods apart, so no charge is counted in two periods.
    """
    return period_start - DATE_TOLERANCE, period_end - DATE_TOLERANCE


@dataclass(frozen=True, slots=True)
class Expected:
    """One subscription the imported billing bills in the period, and where it should be."""

    charge: SubscriptionCharge
    organization_name: str
    company_id: int | None
    absent_reason: Reason
    """Why it would be missing from Autotask (used only when no charge is found)."""
    absent_detail: str = ""


@dataclass(frozen=True, slots=True)
class HeldCharge(Priced):
    """A charge Autotask holds now, with the subscription its contract names."""

    charge_id: int
    contract_id: int
    company_id: int
    subscription_id: str | None
    name: str
    date_purchased: date | None
    quantity: Decimal
    unit_cost: Decimal
    unit_price: Decimal
    is_billed: bool


@dataclass(frozen=True, slots=True)
class Row:
    organization_id: str | None
    organization_name: str | None
    company_id: int | None
    subscription_id: str | None
    subscription_type: str | None
    product: str
    currency: str
    report_id: str | None
    source_quantity: Decimal | None
    source_cost: Decimal | None
    source_price: Decimal | None
    charges: tuple[HeldCharge, ...]
    status: Status
    flags: tuple[Flag, ...]
    reason: str
    absent: Reason | None = None
    """Why the row is not in Autotask (`not_in_autotask` rows only)."""

    @property
    def autotask_charge_id(self) -> int | None:
        return self.charges[0].charge_id if self.charges else None

    @property
    def autotask_quantity(self) -> Decimal | None:
        return sum((c.quantity for c in self.charges), Decimal(0)) if self.charges else None

    @property
    def autotask_cost(self) -> Decimal | None:
        return sum((c.cost for c in self.charges), Decimal("0.00")) if self.charges else None

    @property
    def autotask_price(self) -> Decimal | None:
        return sum((c.price for c in self.charges), Decimal("0.00")) if self.charges else None

    @property
    def margin(self) -> Decimal | None:
        if self.autotask_price is None or self.autotask_cost is None:
            return None
        return self.autotask_price - self.autotask_cost

    @property
    def margin_percent(self) -> Decimal | None:
        if self.autotask_price is None or self.autotask_cost is None:
            return None
        return margin_percent(self.autotask_price, self.autotask_cost)

    @property
    def billed(self) -> bool:
        return any(c.is_billed for c in self.charges)

    @property
    def difference(self) -> Decimal:
        """Autotask's price minus the source's (what is over- or under-billed)."""
        return (self.autotask_price or Decimal(0)) - (self.source_price or Decimal(0))

    @property
    def at_stake(self) -> Decimal:
        """The money a person would look at first: the difference, or the whole amount."""
        if self.status is Status.MATCHED:
            return Decimal(0)
        return abs(self.difference)

    def to_json(self) -> dict[str, Any]:
        return {
            "organization_id": self.organization_id,
            "organization_name": self.organization_name,
            "company_id": self.company_id,
            "subscription_id": self.subscription_id,
            "subscription_type": self.subscription_type,
            "product": self.product,
            "currency": self.currency,
            "report_id": self.report_id,
            "source_quantity": _quantity(self.source_quantity),
            "source_cost": _money(self.source_cost),
            "source_price": _money(self.source_price),
            "autotask_charge_id": self.autotask_charge_id,
            "autotask_charge_ids": [c.charge_id for c in self.charges],
            "autotask_quantity": _quantity(self.autotask_quantity),
            "autotask_cost": _money(self.autotask_cost),
            "autotask_price": _money(self.autotask_price),
            "margin": _money(self.margin),
            "margin_percent": percent_text(self.margin_percent),
            "difference": money_text(self.difference),
            "billed": self.billed,
            "status": self.status.value,
            "flags": [f.value for f in self.flags],
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class CurrencyTotals:
    currency: str
    source_cost: Decimal
    source_price: Decimal
    autotask_cost: Decimal
    autotask_price: Decimal

    @property
    def margin(self) -> Decimal:
        return self.autotask_price - self.autotask_cost

    @property
    def margin_percent(self) -> Decimal | None:
        return margin_percent(self.autotask_price, self.autotask_cost)

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "source_cost": money_text(self.source_cost),
            "source_price": money_text(self.source_price),
            "autotask_cost": money_text(self.autotask_cost),
            "autotask_price": money_text(self.autotask_price),
            "margin": money_text(self.margin),
            "margin_percent": percent_text(self.margin_percent),
        }


@dataclass(frozen=True, slots=True)
class TieOut:
    """The imported total = what is in Autotask + what was left out, by reason (source prices).

    `imported` is summed from the billing itself, the other figures from the classified rows,
    so a row lost between them shows as `balanced: false`.
    """

    currency: str
    imported: Decimal
    imported_count: int
    in_autotask: Decimal
    in_autotask_count: int
    left_out: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    autotask_difference: Decimal = Decimal("0.00")
    """Autotask's prices minus the source's over the rows that are in Autotask."""
    autotask_only: Decimal = Decimal("0.00")

    @property
    def left_out_total(self) -> Decimal:
        return sum((amount for _, amount in self.left_out.values()), Decimal("0.00"))

    @property
    def balanced(self) -> bool:
        return self.imported == self.in_autotask + self.left_out_total

    def to_json(self) -> dict[str, Any]:
        return {
            "currency": self.currency,
            "imported": money_text(self.imported),
            "imported_count": self.imported_count,
            "in_autotask": money_text(self.in_autotask),
            "in_autotask_count": self.in_autotask_count,
            "left_out": {
                reason: {"count": count, "amount": money_text(amount)}
                for reason, (count, amount) in sorted(self.left_out.items())
            },
            "left_out_total": money_text(self.left_out_total),
            "balanced": self.balanced,
            "autotask_difference": money_text(self.autotask_difference),
            "autotask_only": money_text(self.autotask_only),
        }


@dataclass(frozen=True, slots=True)
class Reconciliation:
    period: str
    rows: tuple[Row, ...]
    totals: tuple[CurrencyTotals, ...]
    tie_out: tuple[TieOut, ...]

    @property
    def all_matched(self) -> bool:
        return all(row.status is Status.MATCHED for row in self.rows)

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for row in self.rows:
            counts[row.status.value] += 1
        return counts

    def companies(self) -> list[CompanyTotals]:
        """Per organization and currency: the same sums as `totals`."""
        groups: dict[tuple[str, str], CompanyTotals] = {}
        for row in self.rows:
            key = (row.organization_id or "", row.currency)
            before = groups.get(key) or CompanyTotals(
                key[0], row.organization_name or "", row.currency
            )
            groups[key] = before.plus(row)
        return [groups[key] for key in sorted(groups)]

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "totals": [t.to_json() for t in self.totals],
            "rows": [r.to_json() for r in self.rows],
            "counts": self.counts(),
            "tie_out": [t.to_json() for t in self.tie_out],
            "companies": [c.to_json() for c in self.companies()],
        }


@dataclass(frozen=True, slots=True)
class CompanyTotals:
    organization_id: str
    organization_name: str
    currency: str
    rows: int = 0
    not_matched: int = 0
    source_cost: Decimal = Decimal("0.00")
    source_price: Decimal = Decimal("0.00")
    autotask_cost: Decimal = Decimal("0.00")
    autotask_price: Decimal = Decimal("0.00")
    difference: Decimal = Decimal("0.00")

    @property
    def margin(self) -> Decimal:
        return self.autotask_price - self.autotask_cost

    def plus(self, row: Row) -> CompanyTotals:
        return CompanyTotals(
            self.organization_id,
            self.organization_name,
            self.currency,
            self.rows + 1,
            self.not_matched + (row.status is not Status.MATCHED),
            self.source_cost + (row.source_cost or 0),
            self.source_price + (row.source_price or 0),
            self.autotask_cost + (row.autotask_cost or 0),
            self.autotask_price + (row.autotask_price or 0),
            self.difference + row.difference,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "organization_id": self.organization_id,
            "organization_name": self.organization_name,
            "currency": self.currency,
            "rows": self.rows,
            "not_matched": self.not_matched,
            "source_cost": money_text(self.source_cost),
            "source_price": money_text(self.source_price),
            "autotask_cost": money_text(self.autotask_cost),
            "autotask_price": money_text(self.autotask_price),
            "margin": money_text(self.margin),
            "margin_percent": percent_text(margin_percent(self.autotask_price, self.autotask_cost)),
            "difference": money_text(self.difference),
        }


def reconcile(
    period: str,
    expected: Sequence[Expected],
    held: Iterable[HeldCharge],
    *,
    linked: Mapping[int, tuple[str, str]],
    margin_floor: Decimal | None = None,
    default_currency: str = "USD",
) -> Reconciliation:
    """Classify each (company, subscription) of the period.

    `linked` maps each company linked to an organization to (organization id, name); a
    charge on a contract naming no billed subscription counts as `autotask_only` only there.
    `margin_floor` is a percent of the price.
    """
    by_key: dict[tuple[int, str], list[HeldCharge]] = {}
    for charge in held:
        if charge.subscription_id is not None:
            key = (charge.company_id, charge.subscription_id.casefold())
            by_key.setdefault(key, []).append(charge)
    claimed: set[tuple[int, str]] = set()
    rows = []
    for item in expected:
        found: tuple[HeldCharge, ...] = ()
        if item.company_id is not None:
            wanted = (item.company_id, item.charge.subscription_id.casefold())
            found = tuple(sorted(by_key.get(wanted, []), key=lambda c: c.charge_id))
            if found:
                claimed.add(wanted)
        rows.append(_compared(item, found, margin_floor))
    currencies = {i.charge.organization_id: i.charge.currency for i in expected}
    for key, charges in sorted(by_key.items()):
        if key in claimed or key[0] not in linked:
            continue
        organization_id, name = linked[key[0]]
        rows.append(
            _autotask_only(
                organization_id,
                name,
                key[0],
                tuple(sorted(charges, key=lambda c: c.charge_id)),
                currencies.get(organization_id, default_currency),
                margin_floor,
            )
        )
    rows.sort(key=_order)
    return Reconciliation(period, tuple(rows), _totals(rows), _tie_out(expected, rows))


def _compared(item: Expected, found: tuple[HeldCharge, ...], floor: Decimal | None) -> Row:
    source = item.charge
    flags: list[Flag] = []
    if not found:
        status = Status.NOT_IN_AUTOTASK
        reason = item.absent_reason.value
        if item.absent_detail:
            reason = f"{reason}: {item.absent_detail}"
        flags += _margin_flags(source.price, source.cost, floor)
    else:
        price = sum((c.price for c in found), Decimal(0))
        cost = sum((c.cost for c in found), Decimal(0))
        quantity = sum((c.quantity for c in found), Decimal(0))
        if price == source.price:
            status, reason = Status.MATCHED, ""
        elif price > source.price:
            status = Status.OVER_BILLED
            reason = f"Autotask bills {money_text(price - source.price)} {source.currency} more"
        else:
            status = Status.UNDER_BILLED
            reason = f"Autotask bills {money_text(source.price - price)} {source.currency} less"
        flags += _margin_flags(price, cost, floor)
        if any(c.is_billed for c in found):
            flags.append(Flag.BILLED)
        if cost != source.cost:
            flags.append(Flag.COST_DIFFERS)
        if quantity != source.quantity:
            flags.append(Flag.QUANTITY_DIFFERS)
        if len(found) > 1:
            flags.append(Flag.SEVERAL_CHARGES)
            ids = ", ".join(str(c.charge_id) for c in found)
            reason = (reason + "; " if reason else "") + f"charges {ids} together"
    return Row(
        organization_id=source.organization_id,
        organization_name=item.organization_name,
        company_id=item.company_id,
        subscription_id=source.subscription_id,
        subscription_type=source.subscription_type.value,
        product=source.product,
        currency=source.currency,
        report_id=source.report_id,
        source_quantity=source.quantity,
        source_cost=source.cost,
        source_price=source.price,
        charges=found,
        status=status,
        flags=tuple(flags),
        reason=reason,
        absent=None if found else item.absent_reason,
    )


def _autotask_only(
    organization_id: str,
    name: str,
    company_id: int,
    charges: tuple[HeldCharge, ...],
    currency: str,
    floor: Decimal | None,
) -> Row:
    price = sum((c.price for c in charges), Decimal(0))
    cost = sum((c.cost for c in charges), Decimal(0))
    flags = _margin_flags(price, cost, floor)
    if any(c.is_billed for c in charges):
        flags.append(Flag.BILLED)
    if len(charges) > 1:
        flags.append(Flag.SEVERAL_CHARGES)
    return Row(
        organization_id=organization_id,
        organization_name=name,
        company_id=company_id,
        subscription_id=charges[0].subscription_id,
        subscription_type=None,
        product=charges[0].name,
        currency=currency,
        report_id=None,
        source_quantity=None,
        source_cost=None,
        source_price=None,
        charges=charges,
        status=Status.AUTOTASK_ONLY,
        flags=tuple(flags),
        reason="no billing names this subscription in the period",
    )


def _margin_flags(price: Decimal, cost: Decimal, floor: Decimal | None) -> list[Flag]:
    flags = []
    if price < cost:
        flags.append(Flag.BELOW_COST)
    if floor is not None and (price > 0 or cost > 0):
        percent = margin_percent(price, cost)
        if percent is None or percent < floor:
            flags.append(Flag.MARGIN_BELOW_FLOOR)
    return flags


def _order(row: Row) -> tuple[Any, ...]:
    # Money at stake first; matched rows last; then by organization and subscription.
    return (
        row.status is Status.MATCHED,
        -row.at_stake,
        (row.organization_name or "").casefold(),
        (row.subscription_id or "").casefold(),
    )


def _totals(rows: Sequence[Row]) -> tuple[CurrencyTotals, ...]:
    sums: dict[str, list[Decimal]] = {}
    for row in rows:
        entry = sums.setdefault(row.currency, [Decimal("0.00")] * 4)
        entry[0] += row.source_cost or 0
        entry[1] += row.source_price or 0
        entry[2] += row.autotask_cost or 0
        entry[3] += row.autotask_price or 0
    return tuple(CurrencyTotals(currency, *sums[currency]) for currency in sorted(sums))


def _tie_out(expected: Sequence[Expected], rows: Sequence[Row]) -> tuple[TieOut, ...]:
    imported: dict[str, list[Any]] = {}
    for item in expected:
        entry = imported.setdefault(item.charge.currency, [0, Decimal("0.00")])
        entry[0] += 1
        entry[1] += item.charge.price
    sides: dict[str, dict[str, Any]] = {}
    for row in rows:
        side = sides.setdefault(
            row.currency,
            {"in": [0, Decimal("0.00")], "left": {}, "diff": Decimal(0), "only": Decimal(0)},
        )
        if row.status is Status.AUTOTASK_ONLY:
            side["only"] += row.autotask_price or 0
        elif row.status is Status.NOT_IN_AUTOTASK:
            reason = (row.absent or Reason.NOT_YET_EXPORTED).value
            count, amount = side["left"].get(reason, (0, Decimal("0.00")))
            side["left"][reason] = (count + 1, amount + (row.source_price or 0))
        else:
            side["in"][0] += 1
            side["in"][1] += row.source_price or 0
            side["diff"] += row.difference
    result = []
    for currency in sorted(imported.keys() | sides.keys()):
        count, amount = imported.get(currency, [0, Decimal("0.00")])
        side = sides.get(currency, {"in": [0, Decimal("0.00")], "left": {}, "diff": 0, "only": 0})
        result.append(
            TieOut(
                currency=currency,
                imported=amount,
                imported_count=count,
                in_autotask=side["in"][1],
                in_autotask_count=side["in"][0],
                left_out=dict(side["left"]),
                autotask_difference=Decimal(side["diff"]),
                autotask_only=Decimal(side["only"]),
            )
        )
    return tuple(result)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else money_text(value)


def _quantity(value: Decimal | None) -> str | None:
    return None if value is None else canonical(value)

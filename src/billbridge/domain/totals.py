"""Money totals of the imported billing: cost, price, margin and margin % per report, run,
company and month, what changed since the last period, and the amount a conflict carries.

Every amount is the charge the FAQ's rules call for (`rules.desired_state`): per subscription,
quantity x unit rounded half-up to cents once; totals are sums of those rows, per currency,
never mixed across currencies. Pure functions of their arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from billbridge.domain.money import EXACT, canonical, round_cents
from billbridge.domain.organization import Organization
from billbridge.domain.price_list import PriceListItem
from billbridge.domain.records import DesiredState
from billbridge.domain.report import BillingReport
from billbridge.domain.rules import ExportRules, desired_state
from billbridge.domain.subscription import SubscriptionType

HUNDRED = Decimal(100)
K = TypeVar("K", bound=Hashable)


def money_text(amount: Decimal) -> str:
    """Two decimals, always: `Decimal("5")` -> `"5.00"`; never `-0.00`."""
    rounded = round_cents(amount)
    return format(abs(rounded) if rounded.is_zero() else rounded, "f")


def percent_text(percent: Decimal | None) -> str | None:
    return None if percent is None else money_text(percent)


def cents(quantity: Decimal, unit: Decimal) -> Decimal:
    """One row's amount: quantity x unit, exact, then rounded half-up to cents."""
    return round_cents(EXACT.multiply(quantity, unit))


def margin_percent(price: Decimal, cost: Decimal) -> Decimal | None:
    """Margin as a percent of the price, to cents; None where nothing is sold."""
    if price.is_zero():
        return None
    return round_cents(EXACT.divide(EXACT.multiply(price - cost, HUNDRED), price))


@dataclass(frozen=True, slots=True)
class Amounts:
    """Cost and price in one currency; margin follows from them."""

    currency: str
    cost: Decimal = Decimal("0.00")
    price: Decimal = Decimal("0.00")

    @property
    def margin(self) -> Decimal:
        return self.price - self.cost

    @property
    def margin_percent(self) -> Decimal | None:
        return margin_percent(self.price, self.cost)

    def __add__(self, other: Amounts) -> Amounts:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Amounts(self.currency, self.cost + other.cost, self.price + other.price)

    def to_json(self) -> dict[str, str | None]:
        return {
            "currency": self.currency,
            "cost": money_text(self.cost),
            "price": money_text(self.price),
            "margin": money_text(self.margin),
            "margin_percent": percent_text(self.margin_percent),
        }


class Priced:
    """A charge line's amounts: quantity x unit cost / price, each rounded to cents once."""

    __slots__ = ()
    quantity: Decimal
    unit_cost: Decimal
    unit_price: Decimal

    @property
    def cost(self) -> Decimal:
        return cents(self.quantity, self.unit_cost)

    @property
    def price(self) -> Decimal:
        return cents(self.quantity, self.unit_price)


@dataclass(frozen=True, slots=True)
class SubscriptionCharge(Priced):
    """The charge the rules call for: one subscription of one report."""

    report_id: str
    organization_id: str
    period_start: date
    currency: str
    subscription_id: str
    subscription_type: SubscriptionType
    product: str
    quantity: Decimal
    unit_cost: Decimal
    unit_price: Decimal

    @property
    def period(self) -> str:
        return f"{self.period_start:%Y-%m}"

    @property
    def amounts(self) -> Amounts:
        return Amounts(self.currency, self.cost, self.price)


_EVERY_TYPE = ExportRules(
    subscription_types=frozenset(SubscriptionType),
    azure_product_name="Azure Plan",
    open_ended_years=10,
    product_billing_code_id=0,
)


def subscription_charges(
    report: BillingReport,
    price_list: Mapping[str, PriceListItem] | None = None,
    *,
    azure_product_name: str = "Azure Plan",
) -> list[SubscriptionCharge]:
    """Every subscription's charge of `report`, whatever its organization's link or the
    exported types: the imported billing's money, which the export may leave partly out."""
    stand_in = Organization(report.organization_id, report.organization_id, None, 0, True)
    rules = replace(_EVERY_TYPE, azure_product_name=azure_product_name)
    state = desired_state(report, stand_in, price_list or {}, rules)
    assert isinstance(state, DesiredState)
    kinds = {sub: lines[0].subscription_type for sub, lines in report.subscriptions()}
    products = {p.key: p.name for p in state.products}
    return [
        SubscriptionCharge(
            report_id=report.report_id,
            organization_id=report.organization_id,
            period_start=report.period_start,
            currency=report.currency,
            subscription_id=charge.key.subscription_id,
            subscription_type=kinds[charge.key.subscription_id],
            product=products.get(charge.product_key, charge.name),
            quantity=charge.unit_quantity,
            unit_cost=charge.unit_cost,
            unit_price=charge.unit_price,
        )
        for charge in state.charges
    ]


def total(charges: Iterable[SubscriptionCharge]) -> list[Amounts]:
    """Sums per currency, in currency order."""
    return sorted(
        _sums(charges, lambda c: c.currency).values(), key=lambda amounts: amounts.currency
    )


def totals_by(
    charges: Iterable[SubscriptionCharge], key: Callable[[SubscriptionCharge], K]
) -> dict[K, list[Amounts]]:
    """Sums per `key` (a report, organization, month...) and currency."""
    grouped: dict[K, list[SubscriptionCharge]] = {}
    for charge in charges:
        grouped.setdefault(key(charge), []).append(charge)
    return {k: total(group) for k, group in grouped.items()}


def by_report(charge: SubscriptionCharge) -> str:
    return charge.report_id


def by_organization(charge: SubscriptionCharge) -> str:
    return charge.organization_id


def by_month(charge: SubscriptionCharge) -> str:
    return charge.period


def _sums(
    charges: Iterable[SubscriptionCharge], key: Callable[[SubscriptionCharge], str]
) -> dict[str, Amounts]:
    sums: dict[str, Amounts] = {}
    for charge in charges:
        currency = charge.currency
        sums[key(charge)] = sums.get(key(charge), Amounts(currency)) + charge.amounts
    return sums


def amounts_json(amounts: Sequence[Amounts]) -> list[dict[str, str | None]]:
    return [a.to_json() for a in amounts]


# -- what changed since the last period --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    """One subscription of one organization, this period against the one before."""

    organization_id: str
    subscription_id: str
    product: str
    currency: str
    previous_quantity: Decimal | None
    quantity: Decimal | None
    previous_price: Decimal
    price: Decimal

    @property
    def seats(self) -> Decimal:
        return (self.quantity or Decimal(0)) - (self.previous_quantity or Decimal(0))

    @property
    def amount(self) -> Decimal:
        return self.price - self.previous_price

    @property
    def direction(self) -> str:
        if self.previous_quantity is None:
            return "new"
        if self.quantity is None:
            return "ended"
        if self.amount > 0 or (self.amount == 0 and self.seats > 0):
            return "up"
        if self.amount < 0 or self.seats < 0:
            return "down"
        return "same"

    def to_json(self) -> dict[str, Any]:
        return {
            "organization_id": self.organization_id,
            "subscription_id": self.subscription_id,
            "product": self.product,
            "currency": self.currency,
            "previous_quantity": _quantity(self.previous_quantity),
            "quantity": _quantity(self.quantity),
            "seats": canonical(self.seats),
            "previous_price": money_text(self.previous_price),
            "price": money_text(self.price),
            "amount": money_text(self.amount),
            "direction": self.direction,
        }


def changes_since(
    previous: Iterable[SubscriptionCharge], current: Iterable[SubscriptionCharge]
) -> list[Change]:
    """Per organization and subscription (ids compared as Autotask does, without case): seats
    and amount up or down, new and ended subscriptions; unchanged ones are left out."""
    before = _by_subscription(previous)
    now = _by_subscription(current)
    changes = []
    for key in sorted(before.keys() | now.keys()):
        old, new = before.get(key), now.get(key)
        shown = new or old
        assert shown is not None
        change = Change(
            organization_id=shown.organization_id,
            subscription_id=shown.subscription_id,
            product=shown.product,
            currency=shown.currency,
            previous_quantity=old.quantity if old else None,
            quantity=new.quantity if new else None,
            previous_price=old.price if old else Decimal("0.00"),
            price=new.price if new else Decimal("0.00"),
        )
        if change.direction != "same":
            changes.append(change)
    return changes


def _by_subscription(
    charges: Iterable[SubscriptionCharge],
) -> dict[tuple[str, str], SubscriptionCharge]:
    return {(c.organization_id, c.subscription_id.casefold()): c for c in charges}


def _quantity(value: Decimal | None) -> str | None:
    return None if value is None else canonical(value)


# -- the amount a conflict carries ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConflictAmount:
    """What a change that cannot be written (the charge is billed) is worth."""

    amount: Decimal
    """Positive: still to bill; negative: to credit."""
    currency: str
    text: str


def conflict_amount(
    changes: Mapping[str, Any],
    held: Mapping[str, Decimal | None],
    currency: str,
    charge_id: int | None,
) -> ConflictAmount | None:
    """The difference a billed charge's refused update carries, in words:
    `2 more seats x 22.00 = 44.00 USD to bill (charge 29690004 is billed)`.

    `changes` is an operation's `{field: {"from": ..., "to": ...}}`; `held` the charge's
    `unitQuantity` and `unitPrice` in Autotask, for the fields that did not change.
    """
    quantity_from, quantity_to = _from_to(changes, "unitQuantity", held)
    price_from, price_to = _from_to(changes, "unitPrice", held)
    if None in (quantity_from, quantity_to, price_from, price_to):
        return None
    assert quantity_from is not None and quantity_to is not None
    assert price_from is not None and price_to is not None
    amount = cents(quantity_to, price_to) - cents(quantity_from, price_from)
    if amount.is_zero():
        return None
    verb = "to bill" if amount > 0 else "to credit"
    charge = f" (charge {charge_id} is billed)" if charge_id is not None else ""
    total_text = f"{money_text(abs(amount))} {currency} {verb}{charge}"
    seats = quantity_to - quantity_from
    if price_from == price_to and not seats.is_zero():
        more = "more" if seats > 0 else "fewer"
        unit = "seat" if abs(seats) == 1 else "seats"
        text = f"{canonical(abs(seats))} {more} {unit} x {money_text(price_to)} = {total_text}"
    else:
        text = (
            f"{canonical(quantity_to)} x {money_text(price_to)} instead of"
            f" {canonical(quantity_from)} x {money_text(price_from)} = {total_text}"
        )
    return ConflictAmount(amount, currency, text)


def _from_to(
    changes: Mapping[str, Any], name: str, held: Mapping[str, Decimal | None]
) -> tuple[Decimal | None, Decimal | None]:
    change = changes.get(name)
    if isinstance(change, Mapping):
        return _decimal(change.get("from")), _decimal(change.get("to"))
    value = held.get(name)
    return value, value


def _decimal(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None

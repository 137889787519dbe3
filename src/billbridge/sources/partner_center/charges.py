"""The charge rules: a subscription's reconciliation lines in one report become one charge.

Microsoft bills a licence as events: the charge of a whole cycle (`new`, `renew`,
`cycleCharge`, `changeBillingPlan`), seat changes as a refund of the old count plus a charge of
the new one for the rest of the cycle (`addQuantity`, `removeQuantity`), seats moved out or in
(`convert`, `moveQuantity`, `cancelImmediate`) and credits (`customerCredit`). The file is not in
chronological order. A provider bills a seat count at a unit price, so each subscription's lines
become one charge, as follows.

1. Only the latest charge cycle in the report counts (the lines whose `ChargeEndDate` is the
   latest); earlier cycles are history the latest cycle's charge already reflects.
2. Lines that differ only in price (Microsoft splits some products' price over two lines) are
   one event, priced at the sum of their prices.
3. **The cycle starts in this report** (it has a cycle charge): the seat count is the sum of the
   signed quantities of the cycle's lines (a refund counts negative), per product; this is
   Microsoft's documented way ("sum the positive lines, subtract the negative ones") and does
   not depend on the order of the lines. The unit cost is the price of one unit for the whole
   cycle: the `EffectiveUnitPrice` of the latest full-cycle line of the final product (a paid
   line before a trial one). A seat added mid-cycle is billed for the whole cycle at the full
   price; it never lowers the unit cost. If the final product has only prorated lines (an
   upgrade mid-cycle), the full price is its `UnitPrice` when the prorated price matches it
   (within a cent), else the prorated price scaled to the cycle's days (with a warning).
   A cancelled subscription (no seats left) gets quantity 0, so that a charge exported earlier
   for the same period is corrected.
4. **The cycle was billed in an earlier report** (only changes here; typically an annual term
   with seats added mid-term): the charge is the seats added, at the prorated price Microsoft
   charged for the rest of the cycle. Net removals, refunds and cancellations of an earlier
   cycle are not exported (a warning says so); credits neither.
5. A subscription whose final product is a trial is not billed.

Unit costs are in the billing currency: `ROUNDDOWN(EffectiveUnitPrice x PCToBCExchangeRate, 2)`,
Microsoft's formula for licence lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal

from billbridge.domain.money import CENT, round_cents
from billbridge.sources.partner_center.invoice import CREDITS, CYCLE_CHARGES, InvoiceLine


@dataclass(frozen=True, slots=True)
class Event:
    """Lines of one billing event (the same in everything but price)."""

    lines: tuple[InvoiceLine, ...]

    @property
    def first(self) -> InvoiceLine:
        return self.lines[0]

    @property
    def sku(self) -> str:
        return self.first.sku

    @property
    def charge_type(self) -> str:
        return self.first.charge_type

    @property
    def is_cycle(self) -> bool:
        return self.first.charge_type in CYCLE_CHARGES

    @property
    def is_refund(self) -> bool:
        return self.first.is_refund

    @property
    def seats(self) -> Decimal:
        return self.first.seats

    @property
    def effective_unit_price(self) -> Decimal:
        return sum((line.effective_unit_price for line in self.lines), Decimal(0))

    @property
    def unit_price(self) -> Decimal | None:
        prices = [line.unit_price for line in self.lines]
        return None if None in prices else sum((p for p in prices if p is not None), Decimal(0))

    @property
    def sort_key(self) -> tuple[datetime, date, int, int]:
        return min(line.sort_key for line in self.lines)

    def unit_cost(self, price: Decimal | None = None) -> Decimal:
        """One unit in the billing currency, as Microsoft rounds licence lines."""
        amount = self.effective_unit_price if price is None else price
        return (amount * self.first.exchange_rate).quantize(CENT, rounding=ROUND_DOWN)


@dataclass(frozen=True, slots=True)
class LicenceCharge:
    """What one subscription is billed in one report."""

    line: InvoiceLine
    """The line the charge takes its product, type and term from."""
    quantity: Decimal
    unit_cost: Decimal
    charge_start: date
    charge_end: date | None
    proration: tuple[int, int] | None = None
    """(billed days, cycle days) when the charge is a prorated top-up of an earlier cycle."""


@dataclass(frozen=True, slots=True)
class ChargeOutcome:
    charge: LicenceCharge | None
    warnings: tuple[str, ...] = ()


def licence_charge(lines: Sequence[InvoiceLine]) -> ChargeOutcome:
    """The charge of one subscription from its lines in one report (see the module docstring)."""
    warnings: list[str] = []
    seat_lines: list[InvoiceLine] = []
    for line in lines:
        if line.charge_type in CREDITS:
            warnings.append(
                f"{line.where}: {line.charge_type_written} of subscription {line.subscription_id}"
                f" ({_amount(line)}) is not exported; credit the customer by hand if it is due"
            )
        else:
            seat_lines.append(line)
    if not seat_lines:
        return ChargeOutcome(None, tuple(warnings))
    ends = [line.charge_end for line in seat_lines if line.charge_end is not None]
    latest_end = max(ends) if ends else None
    events = merge_events(line for line in seat_lines if line.charge_end == latest_end)
    if any(event.is_cycle for event in events):
        charge = _whole_cycle(events, latest_end, warnings)
    else:
        charge = _top_up(events, warnings)
    return ChargeOutcome(charge, tuple(warnings))


def merge_events(lines: Iterable[InvoiceLine]) -> list[Event]:
    """Lines grouped into events, in chronological order."""
    groups: dict[tuple[object, ...], list[InvoiceLine]] = {}
    for line in sorted(lines, key=lambda line: line.sort_key):
        key = (
            line.sku,
            line.charge_type,
            line.charge_start,
            line.charge_end,
            abs(line.quantity),
            line.is_refund,
            line.order_date,
            line.reference_id,
            line.trial,
        )
        groups.setdefault(key, []).append(line)
    return sorted((Event(tuple(group)) for group in groups.values()), key=lambda e: e.sort_key)


def _whole_cycle(
    events: list[Event], cycle_end: date | None, warnings: list[str]
) -> LicenceCharge | None:
    cycle_start = min(event.first.charge_start for event in events if event.is_cycle)
    seats: dict[str, Decimal] = {}
    for event in events:
        seats[event.sku] = seats.get(event.sku, Decimal(0)) + event.seats
    latest = {event.sku: event.sort_key for event in events}
    final_sku = max(seats, key=lambda sku: (seats[sku] > 0, seats[sku], latest[sku]))
    subscription = events[0].first.subscription_id
    others = [f"{sku}: {count}" for sku, count in seats.items() if count > 0 and sku != final_sku]
    if others:
        warnings.append(
            f"subscription {subscription} ends the cycle with seats of several products"
            f" ({final_sku}: {seats[final_sku]}, {', '.join(others)}); billed as {final_sku}"
        )
    quantity = max(seats[final_sku], Decimal(0))
    own = [event for event in events if event.sku == final_sku and not event.is_refund]
    full = [e for e in own if e.is_cycle or e.first.charge_start <= cycle_start]
    reference = _latest_paid(full)
    if reference is not None:
        unit_cost = reference.unit_cost()
    else:
        reference = _latest_paid(own)
        if reference is None:  # only refunds of the product left: nothing to price a charge by
            warnings.append(
                f"{events[-1].first.where}: subscription {subscription} has no charge for"
                f" {final_sku} in its latest cycle, only refunds; not exported"
            )
            return None
        unit_cost = _full_price(reference, cycle_start, cycle_end, warnings)
    if reference.first.trial:
        warnings.append(
            f"subscription {subscription} ({reference.first.product_name}) is a trial; not billed"
        )
        return None
    if quantity == 0:
        warnings.append(
            f"{reference.first.where}: subscription {subscription} ({reference.first.product_name})"
            f" has no seats left at the end of the cycle; its charge has quantity 0"
        )
    return LicenceCharge(reference.first, quantity, unit_cost, cycle_start, cycle_end)


def _top_up(events: list[Event], warnings: list[str]) -> LicenceCharge | None:
    net = sum((event.seats for event in events), Decimal(0))
    first = events[-1].first
    if net <= 0:
        refunded = sum((e.effective_unit_price * abs(e.first.quantity) for e in events), Decimal(0))
        warnings.append(
            f"{first.where}: subscription {first.subscription_id} ({first.product_name}):"
            f" {-net} seats removed or cancelled from {min(e.first.charge_start for e in events)}"
            f" in a cycle billed earlier (net {round_cents(refunded)} {first.currency});"
            " not exported, credit the customer by hand if it is due"
        )
        return None
    added = [event for event in events if not event.is_refund]
    reference = _latest_paid(added) or added[-1]
    if reference.first.trial:
        warnings.append(
            f"subscription {first.subscription_id} ({first.product_name}) is a trial; not billed"
        )
        return None
    prices = {event.effective_unit_price for event in added}
    if len(prices) > 1:
        warnings.append(
            f"{reference.first.where}: subscription {first.subscription_id}: seats added at"
            f" several prorated prices ({', '.join(str(p) for p in sorted(prices))});"
            f" all {net} billed at the latest, {reference.effective_unit_price}"
        )
    line = reference.first
    proration = None
    if line.charge_end is not None:  # else a one-time purchase: nothing to prorate
        billed_days = (line.charge_end - line.charge_start).days + 1
        cycle_days = (line.charge_end - _cycle_start(line)).days + 1
        proration = (billed_days, max(cycle_days, billed_days))
    return LicenceCharge(
        line, net, reference.unit_cost(), line.charge_start, line.charge_end, proration
    )


def _latest_paid(events: Sequence[Event]) -> Event | None:
    """The latest event, a paid one before a trial one."""
    if not events:
        return None
    return max(events, key=lambda event: (not event.first.trial, event.sort_key))


def _full_price(
    event: Event, cycle_start: date, cycle_end: date | None, warnings: list[str]
) -> Decimal:
    """The unit cost for a whole cycle, from a line prorated over part of it."""
    line = event.first
    if cycle_end is None or line.charge_end is None:
        return event.unit_cost()
    billed = Decimal((line.charge_end - line.charge_start).days + 1)
    cycle = Decimal((cycle_end - cycle_start).days + 1)
    list_price = event.unit_price
    if (
        list_price is not None
        and abs(event.effective_unit_price - list_price * billed / cycle) <= CENT
    ):
        return event.unit_cost(list_price)
    full = round_cents(event.effective_unit_price * cycle / billed)
    warnings.append(
        f"{line.where}: subscription {line.subscription_id} ({line.product_name}) has only a"
        f" prorated price in this cycle; its full-cycle unit price is estimated as {full}"
        f" ({event.effective_unit_price} x {cycle} / {billed} days)"
    )
    return event.unit_cost(full)


def _cycle_start(line: InvoiceLine) -> date:
    """The start of the charge cycle a prorated line belongs to (it ends with the cycle)."""
    assert line.charge_end is not None
    after = line.charge_end + timedelta(days=1)
    frequency = line.billing_frequency
    if frequency.startswith(("annual", "year")):
        return _add_months(after, -12)
    if frequency.startswith(("triennial", "three")):
        return _add_months(after, -36)
    if (
        not frequency
        and line.subscription_start is not None
        and line.subscription_end == line.charge_end
        and (line.charge_end - line.subscription_start).days > 62
    ):
        return line.subscription_start  # paid up front for the whole term
    return _add_months(after, -1)


def _add_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def _amount(line: InvoiceLine) -> str:
    if line.subtotal is not None:
        return f"{line.subtotal} {line.currency}"
    return f"{line.effective_unit_price * line.quantity} {line.currency}"

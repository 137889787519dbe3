"""Billing reports: one organization's billing for one period, as lines per subscription."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from billbridge.domain.money import canonical
from billbridge.domain.subscription import SubscriptionType


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One billing line. For Azure, one usage line of a meter; for the others, one seat count."""

    subscription_id: str
    subscription_type: SubscriptionType
    sku: str
    product_name: str
    quantity: Decimal
    unit_cost: Decimal
    unit_price: Decimal
    subscription_start: date | None = None
    subscription_end: date | None = None
    charge_start: date | None = None
    charge_end: date | None = None
    usage_quantity: Decimal | None = None
    """What was consumed, for drill-down only, where `quantity` is 1 and the unit prices are
    already totals (Partner Center usage rolled up per meter keeps its sums exact that way)."""
    usage_unit: str | None = None

    def canonical_fields(self) -> dict[str, str | None]:
        return {
            "subscription_id": self.subscription_id,
            "subscription_type": self.subscription_type.value,
            "sku": self.sku,
            "product_name": self.product_name,
            "quantity": canonical(self.quantity),
            "unit_cost": canonical(self.unit_cost),
            "unit_price": canonical(self.unit_price),
            "subscription_start": _iso(self.subscription_start),
            "subscription_end": _iso(self.subscription_end),
            "charge_start": _iso(self.charge_start),
            "charge_end": _iso(self.charge_end),
            "usage_quantity": None
            if self.usage_quantity is None
            else canonical(self.usage_quantity),
            "usage_unit": self.usage_unit,
        }


@dataclass(frozen=True, slots=True)
class BillingReport:
    report_id: str
    organization_id: str
    generated_on: date
    period_start: date
    period_end: date
    currency: str
    lines: tuple[ReportLine, ...]
    _hash: str | None = field(default=None, init=False, repr=False, compare=False)
    """`content_hash`, once computed (a report is immutable; `replace` starts without it)."""

    @property
    def content_hash(self) -> str:
        """A digest of everything that decides what the export writes.

        Line order is part of it: the FAQ takes prices from the *last* line with the largest
        quantity, so reordering lines can change a charge.
        """
        if self._hash is None:
            object.__setattr__(self, "_hash", self._digest())
        assert self._hash is not None
        return self._hash

    def _digest(self) -> str:
        payload = {
            "report_id": self.report_id,
            "organization_id": self.organization_id,
            "generated_on": self.generated_on.isoformat(),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "currency": self.currency,
            "lines": [line.canonical_fields() for line in self.lines],
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def period_label(self) -> str:
        """The period as `YYYY-MM`, as it appears in charge names."""
        return f"{self.period_start:%Y-%m}"

    def subscriptions(self) -> Iterator[tuple[str, tuple[ReportLine, ...]]]:
        """Lines grouped by subscription id, in order of first appearance."""
        groups: dict[str, list[ReportLine]] = {}
        for line in self.lines:
            groups.setdefault(line.subscription_id, []).append(line)
        for subscription_id, lines in groups.items():
            yield subscription_id, tuple(lines)


def _canonical(value: Decimal | None) -> str | None:
    return None if value is None else canonical(value)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()

"""Billing reports: one organization's billing for one period, as lines per subscription."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from json.encoder import encode_basestring_ascii

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
        """The line as the content hash sees it: one spelling per value."""
        return dict(zip(_LINE_KEYS, self._canonical_values(), strict=True))

    def _canonical_values(self) -> tuple[str | None, ...]:
        """`canonical_fields`' values, in the order of `_LINE_KEYS` (sorted, as hashed)."""
        return (
            _iso(self.charge_end),
            _iso(self.charge_start),
            self.product_name,
            canonical(self.quantity),
            self.sku,
            _iso(self.subscription_end),
            self.subscription_id,
            _iso(self.subscription_start),
            self.subscription_type.value,
            canonical(self.unit_cost),
            canonical(self.unit_price),
            None if self.usage_quantity is None else canonical(self.usage_quantity),
            self.usage_unit,
        )


_LINE_KEYS = (
    "charge_end",
    "charge_start",
    "product_name",
    "quantity",
    "sku",
    "subscription_end",
    "subscription_id",
    "subscription_start",
    "subscription_type",
    "unit_cost",
    "unit_price",
    "usage_quantity",
    "usage_unit",
)
_LINE_JSON = "{" + ",".join(f'"{key}":%s' for key in _LINE_KEYS) + "}"
"""A line's canonical fields as `json.dumps(..., sort_keys=True, separators=(",", ":"))`
writes them, to be filled with each value's JSON text."""


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
        """SHA-256 of the report as `json.dumps(payload, sort_keys=True, separators=(",", ":"))`
        writes it (the payload: the report's fields, its lines' `canonical_fields` under
        "lines"). The text is put together directly, a large usage report's lines being
        tens of thousands of dictionaries to sort and encode; a test holds it to json's."""
        lines = ",".join(
            _LINE_JSON % tuple(map(_json_text, line._canonical_values())) for line in self.lines
        )
        text = _REPORT_JSON % (
            _json_text(self.currency),
            _json_text(self.generated_on.isoformat()),
            lines,
            _json_text(self.organization_id),
            _json_text(self.period_end.isoformat()),
            _json_text(self.period_start.isoformat()),
            _json_text(self.report_id),
        )
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


_REPORT_JSON = (
    '{"currency":%s,"generated_on":%s,"lines":[%s],"organization_id":%s,'
    '"period_end":%s,"period_start":%s,"report_id":%s}'
)


def _json_text(value: str | None) -> str:
    """A value as `json.dumps` writes it (ASCII only, as by default)."""
    return "null" if value is None else encode_basestring_ascii(value)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()

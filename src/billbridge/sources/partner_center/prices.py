"""Sale prices: Microsoft's files carry the partner's cost only.

- Licences, Marketplace, perpetual: the price list's `unit_price` for the sku (when it is in the
  report's currency), else cost x (1 + `--license-markup`/100), else the cost itself (with a
  warning: the customer would be billed at cost). A prorated top-up (see `charges.py`) gets the
  price list's price prorated the same way, rounded half-up to cents.
- Azure: Azure's list price, the sum of `UnitPrice` x `Quantity` x `PCToBCExchangeRate` (what
  the customer would pay Microsoft, before the partner-earned credit), unless `--azure-markup`
  makes it cost x (1 + PCT/100).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from billbridge.domain.money import round_cents
from billbridge.domain.price_list import PriceListItem
from billbridge.sources.partner_center.numbers import exact


@dataclass(slots=True)
class Pricing:
    price_list: Mapping[str, PriceListItem]
    license_markup: Decimal | None
    azure_markup: Decimal | None
    warnings: dict[str, str] = field(default_factory=dict)
    """One warning per sku (or per topic), in the order they arose."""

    def licence_price(
        self,
        sku: str,
        product_name: str,
        currency: str,
        unit_cost: Decimal,
        proration: tuple[int, int] | None = None,
    ) -> Decimal:
        item = self.price_list.get(sku)
        if item is not None and item.currency == currency:
            if proration is None:
                return item.unit_price
            billed, cycle = proration
            return round_cents(item.unit_price * billed / cycle)
        if item is not None:
            self.warnings.setdefault(
                f"currency:{sku}",
                f"sku {sku} ({product_name}) is priced in {item.currency} in the price list but"
                f" billed in {currency}; its price is not used",
            )
        if self.license_markup is not None:
            return marked_up(unit_cost, self.license_markup)
        self.warnings.setdefault(
            f"cost:{sku}",
            f"sku {sku} ({product_name}) has no price in the price list and no --license-markup"
            " was given: it is billed at cost",
        )
        return unit_cost

    def azure_price(self, cost: Decimal, list_price: Decimal) -> Decimal:
        if self.azure_markup is None:
            return list_price
        return marked_up(cost, self.azure_markup)


def marked_up(cost: Decimal, percent: Decimal) -> Decimal:
    """cost x (1 + percent/100), exactly."""
    with exact():
        return cost * (1 + percent / 100)

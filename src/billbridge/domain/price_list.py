"""The broker price list: what a provider pays and charges for each sku."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billbridge.domain.subscription import BillingFrequency, SubscriptionType, Term


@dataclass(frozen=True, slots=True)
class PriceListItem:
    sku: str
    product_name: str
    subscription_type: SubscriptionType
    unit_cost: Decimal
    unit_price: Decimal
    currency: str
    billing_frequency: BillingFrequency | None = None
    term: Term | None = None
    description: str | None = None

"""The broker price list."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from billbridge.domain.price_list import PriceListItem
from billbridge.domain.subscription import BillingFrequency, SubscriptionType, Term
from billbridge.store.batches import distinct_chunks
from billbridge.store.counts import ChangeCounts
from billbridge.store.schema import price_list_items as table


class PriceListRepository:
    def __init__(self, connection: Connection, clock: Callable[[], datetime]) -> None:
        self._db = connection
        self._clock = clock

    def get_many(self, skus: Iterable[str]) -> dict[str, PriceListItem]:
        found: dict[str, PriceListItem] = {}
        for chunk in distinct_chunks(skus):
            for row in self._db.execute(select(table).where(table.c.sku.in_(chunk))):
                item = _to_domain(row._mapping)
                found[item.sku] = item
        return found

    def all(self) -> list[PriceListItem]:
        return [
            _to_domain(r._mapping) for r in self._db.execute(select(table).order_by(table.c.sku))
        ]

    def upsert(self, items: Iterable[PriceListItem]) -> ChangeCounts:
        """Create or update items by sku; skus not in `items` are left as they are."""
        items = list(items)
        existing = self.get_many(item.sku for item in items)
        counts = ChangeCounts()
        now = self._clock()
        for item in items:
            current = existing.get(item.sku)
            if current is None:
                self._db.execute(insert(table).values(**_to_row(item), updated_at=now))
                counts.created += 1
            elif current == item:
                counts.unchanged += 1
            else:
                self._db.execute(
                    update(table)
                    .where(table.c.sku == item.sku)
                    .values(**_to_row(item), updated_at=now)
                )
                counts.updated += 1
        return counts


def _to_row(item: PriceListItem) -> dict[str, Any]:
    return {
        "sku": item.sku,
        "product_name": item.product_name,
        "subscription_type": item.subscription_type.value,
        "unit_cost": item.unit_cost,
        "unit_price": item.unit_price,
        "currency": item.currency,
        "billing_frequency": item.billing_frequency.value if item.billing_frequency else None,
        "term": item.term.value if item.term else None,
        "description": item.description,
    }


def _to_domain(row: Any) -> PriceListItem:
    return PriceListItem(
        sku=row["sku"],
        product_name=row["product_name"],
        subscription_type=SubscriptionType(row["subscription_type"]),
        unit_cost=row["unit_cost"],
        unit_price=row["unit_price"],
        currency=row["currency"],
        billing_frequency=BillingFrequency(row["billing_frequency"])
        if row["billing_frequency"]
        else None,
        term=Term(row["term"]) if row["term"] else None,
        description=row["description"],
    )

"""The broker price list file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from billbridge.domain.price_list import PriceListItem
from billbridge.domain.subscription import BillingFrequency, SubscriptionType, Term
from billbridge.sources.fields import RowReader
from billbridge.sources.files import read_flat_records
from billbridge.sources.problems import ProblemLog
from billbridge.sources.tabular import Columns

COLUMNS = Columns(
    required=("sku", "product_name", "subscription_type", "unit_cost", "unit_price", "currency"),
    optional=("billing_frequency", "term", "description"),
)


def read_price_list(paths: Sequence[Path]) -> list[PriceListItem]:
    """All price-list items of the files, or `InputError` listing every problem."""
    log = ProblemLog()
    items: list[PriceListItem] = []
    first_seen: dict[str, str] = {}
    for record in read_flat_records(paths, COLUMNS, log):
        row = RowReader(record, log)
        sku = row.text("sku")
        product_name = row.text("product_name")
        subscription_type = row.choice("subscription_type", SubscriptionType)
        unit_cost = row.decimal("unit_cost")
        unit_price = row.decimal("unit_price")
        currency = row.currency("currency")
        frequency = row.choice("billing_frequency", BillingFrequency, required=False)
        term = row.choice("term", Term, required=False)
        description = row.text("description", required=False, max_length=2000)
        if sku is not None:
            if sku in first_seen:
                row.problem("sku", f"'{sku}' already appears at {first_seen[sku]}")
            else:
                first_seen[sku] = f"{record.file}:{record.line}"
        if (
            row.ok
            and sku is not None
            and product_name is not None
            and subscription_type is not None
            and unit_cost is not None
            and unit_price is not None
            and currency is not None
        ):
            items.append(
                PriceListItem(
                    sku=sku,
                    product_name=product_name,
                    subscription_type=subscription_type,
                    unit_cost=unit_cost,
                    unit_price=unit_price,
                    currency=currency,
                    billing_frequency=frequency,
                    term=term,
                    description=description,
                )
            )
    log.raise_if_any()
    return items

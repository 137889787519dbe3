"""Which Partner Center file this is, by its columns (never by its name).

- daily-rated usage (Azure plan): `BillingPreTaxTotal`, or `UsageDate` with `EntitlementId`;
- New Commerce invoice reconciliation: `ChargeType` and `EffectiveUnitPrice`, with
  `BillableQuantity`, `Subtotal` or `Total(ForCustomer)`.

The legacy (pre-New Commerce) licence-based and usage-based files are recognised too, to say
plainly that they are not supported rather than that their columns are wrong.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from billbridge.sources.partner_center.columns import canonical, has_all


class FileKind(enum.Enum):
    INVOICE = "New Commerce invoice reconciliation"
    USAGE = "daily-rated usage"


def detect(columns: Iterable[str]) -> FileKind | str:
    """The file's kind, or a message saying why it is not one billbridge reads."""
    keys = {canonical(name) for name in columns}
    if has_all(keys, "BillingPreTaxTotal") or has_all(keys, "UsageDate", "EntitlementId"):
        return FileKind.USAGE
    if has_all(keys, "ChargeType", "EffectiveUnitPrice") and (
        has_all(keys, "BillableQuantity")
        or has_all(keys, "Subtotal")
        or has_all(keys, "Total")
        or has_all(keys, "TotalForCustomer")
    ):
        return FileKind.INVOICE
    if has_all(keys, "SyndicationPartnerSubscriptionNumber") or has_all(keys, "DurableOfferId"):
        return (
            "is a legacy licence-based reconciliation file, which billbridge does not read;"
            " use the New Commerce invoice reconciliation file"
        )
    if has_all(keys, "PretaxCharges") or has_all(keys, "ConsumedQuantity"):
        return (
            "is a legacy usage-based reconciliation file, which billbridge does not read;"
            " use the daily-rated usage file"
        )
    return (
        "is not a Partner Center file billbridge knows: expected the New Commerce invoice"
        " reconciliation (columns ChargeType, EffectiveUnitPrice, BillableQuantity, ...)"
        " or the daily-rated usage file (columns BillingPreTaxTotal, EntitlementId, ...)"
    )

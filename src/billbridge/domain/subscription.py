"""Subscription types and the billing vocabulary of a price list."""

from __future__ import annotations

from enum import StrEnum


class SubscriptionType(StrEnum):
    """What kind of Microsoft purchase a billing line is; it decides the FAQ rule that applies."""

    CSP365 = "csp365"
    """Licence-based (Microsoft 365, Dynamics, ...): a seat count per month."""
    AZURE = "azure"
    """Azure plan usage: many meter lines rolled up into one charge."""
    MARKETPLACE = "marketplace"
    """Third-party SaaS bought through Microsoft: billed like a licence."""
    PERPETUAL = "perpetual"
    """One-time software purchases: no term."""

    @property
    def has_term(self) -> bool:
        """Whether the subscription has a real commitment term (else a synthetic one is used)."""
        return self in (SubscriptionType.CSP365, SubscriptionType.MARKETPLACE)


class BillingFrequency(StrEnum):
    MONTHLY = "monthly"
    ANNUAL = "annual"
    ONE_TIME = "one-time"


class Term(StrEnum):
    ONE_MONTH = "P1M"
    ONE_YEAR = "P1Y"
    THREE_YEARS = "P3Y"

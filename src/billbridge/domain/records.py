"""Autotask records as billbridge wants them (desired) and as Autotask holds them (actual).

Each desired record has a natural key that Autotask itself can be searched by: a contract by its
subscription UDF within the company, a charge by the marker billbridge writes into its
notes, a product by its sku (the Azure product by its name). Field names are Autotask's,
so a plan's changes read the same as the records a user sees in Autotask.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from billbridge.domain.subscription import SubscriptionType

Value = str | int | bool | Decimal | date | None
"""A field value of a record; money and quantities are exact, dates are dates."""


class Entity(StrEnum):
    CONTRACT = "Contract"
    CHARGE = "ContractCharge"
    PRODUCT = "Product"


def fold(text: str) -> str:
    """A key as Autotask compares strings: without regard to case (and outer spaces)."""
    return text.strip().casefold()


class _CaseFreeKey:
    """Equality, hashing and order of a key by `_match()`: its parts as Autotask compares
    them (text without regard to case)."""

    __slots__ = ()

    def _match(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._match() == other._match()

    def __hash__(self) -> int:
        return hash(self._match())

    def __lt__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(self._match() < other._match())


@dataclass(frozen=True, slots=True, eq=False)
class ContractKey(_CaseFreeKey):
    """One contract per subscription, within the organization's company.

    Equal without regard to case: Autotask's filters ignore case, so a subscription id typed
    in capitals into a contract's UDF is the same subscription.
    """

    company_id: int
    subscription_id: str

    def _match(self) -> tuple[int, str]:
        return (self.company_id, fold(self.subscription_id))

    def __str__(self) -> str:
        return f"{self.company_id}/{self.subscription_id}"


@dataclass(frozen=True, slots=True, eq=False)
class ChargeKey(_CaseFreeKey):
    """One charge per subscription and billing period (the subscription without case)."""

    subscription_id: str
    period_start: date

    def _match(self) -> tuple[str, date]:
        return (fold(self.subscription_id), self.period_start)

    @property
    def period_label(self) -> str:
        start = self.period_start  # not strftime: this runs for every charge of a run, often
        return f"{start.year:04d}-{start.month:02d}"

    def __str__(self) -> str:
        return f"{self.subscription_id}/{self.period_label}"


@dataclass(frozen=True, slots=True, eq=False)
class ProductKey(_CaseFreeKey):
    """A product by sku; the Azure product, which carries no Microsoft sku, by its name.

    Equal without regard to case, as Autotask finds a sku.
    """

    sku: str | None = None
    name: str | None = None

    def _match(self) -> tuple[str, str]:
        if self.sku is not None:
            return ("sku", fold(self.sku))
        return ("name", fold(self.name or ""))

    def __str__(self) -> str:
        return self.sku if self.sku is not None else f"name:{self.name}"


# The marker that makes a charge findable by its key; Autotask's charges have no UDFs. It is
# written into the charge's `notes`, which invoices do not print; charges of older billbridge
# versions carry it in `description`, where it is still found.
_MARKER = re.compile(r"\[billbridge report=(?P<report>[^\]\s]+) key=(?P<key>[^\]\s]+)\]")


@dataclass(frozen=True, slots=True)
class ChargeMarker:
    report_id: str
    subscription_id: str
    period: str  # YYYY-MM

    @property
    def key(self) -> ChargeKey:
        year, month = self.period.split("-")
        return ChargeKey(self.subscription_id, date(int(year), int(month), 1))

    def render(self) -> str:
        key = f"{_escape(self.subscription_id)}/{self.period}"
        return f"[billbridge report={_escape(self.report_id)} key={key}]"

    @classmethod
    def find(cls, *texts: str | None) -> ChargeMarker | None:
        """The marker in the first of `texts` (notes, then description) that holds one."""
        for text in texts:
            marker = cls._find(text)
            if marker is not None:
                return marker
        return None

    @classmethod
    def _find(cls, description: str | None) -> ChargeMarker | None:
        if not description:
            return None
        match = _MARKER.search(description)
        if match is None:
            return None
        subscription, _, period = _unescape(match["key"]).rpartition("/")
        if not subscription or not re.fullmatch(r"\d{4}-\d{2}", period):
            return None
        return cls(_unescape(match["report"]), subscription, period)


def _escape(text: str) -> str:
    # Ids are free text; keep the marker one unbroken token that the pattern can find again.
    return text.replace("%", "%25").replace(" ", "%20").replace("]", "%5D").replace("/", "%2F")


def _unescape(text: str) -> str:
    return text.replace("%2F", "/").replace("%5D", "]").replace("%20", " ").replace("%25", "%")


@dataclass(frozen=True, slots=True)
class DesiredContract:
    key: ContractKey
    subscription_type: SubscriptionType
    product_name: str
    name: str
    description: str
    start_date: date
    end_date: date
    synthetic_term: bool
    """Azure and perpetual have no real term: the dates are made up once and never moved."""


@dataclass(frozen=True, slots=True)
class DesiredProduct:
    key: ProductKey
    name: str
    sku: str | None
    unit_cost: Decimal
    unit_price: Decimal
    billing_code_id: int
    description: str | None
    create_only: bool = False
    """The Azure product is created once; an existing one is used as it is."""


@dataclass(frozen=True, slots=True)
class DesiredCharge:
    key: ChargeKey
    contract_key: ContractKey
    product_key: ProductKey
    report_id: str
    name: str
    description: str
    """What the customer reads on the invoice, and nothing else."""
    notes: str
    """billbridge's bookkeeping (report and key), in a field invoices do not print."""
    date_purchased: date
    unit_quantity: Decimal
    unit_cost: Decimal
    unit_price: Decimal
    currency: str = ""


@dataclass(frozen=True, slots=True)
class DesiredState:
    """What one report should look like in Autotask."""

    report_id: str
    organization_id: str
    company_id: int
    contracts: tuple[DesiredContract, ...]
    charges: tuple[DesiredCharge, ...]
    products: tuple[DesiredProduct, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Skipped:
    """A report that is not exported, and why (`unmapped`, `inactive`)."""

    report_id: str
    organization_id: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class ActualCompany:
    id: int
    name: str
    is_active: bool


@dataclass(frozen=True, slots=True)
class ActualContract:
    id: int
    company_id: int
    subscription_id: str | None
    """The value of the subscription UDF; None for contracts billbridge does not know."""
    name: str
    start_date: date | None
    end_date: date | None
    status: int | None = None
    missing: frozenset[str] = frozenset()
    """Fields Autotask's record did not carry at all (not even empty): never compared, and
    reported, so that a difference cannot hide behind them."""

    def fields(self) -> dict[str, Value]:
        """The fields billbridge may change, by their Autotask names."""
        return {"contractName": self.name, "endDate": self.end_date}


@dataclass(frozen=True, slots=True)
class ActualCharge:
    id: int
    contract_id: int
    marker: ChargeMarker | None
    name: str
    description: str | None
    notes: str | None
    date_purchased: date | None
    unit_quantity: Decimal | None
    unit_cost: Decimal | None
    unit_price: Decimal | None
    product_id: int | None
    is_billed: bool
    missing: frozenset[str] = frozenset()
    """Fields Autotask's record did not carry at all (not even empty): never compared, and
    reported, so that a difference cannot hide behind them."""

    def fields(self) -> dict[str, Value]:
        """The fields billbridge may change, by their Autotask names."""
        return {
            "name": self.name,
            "description": self.description,
            "notes": self.notes,
            "datePurchased": self.date_purchased,
            "unitQuantity": self.unit_quantity,
            "unitCost": self.unit_cost,
            "unitPrice": self.unit_price,
            "productID": self.product_id,
        }


@dataclass(frozen=True, slots=True)
class ActualProduct:
    id: int
    name: str
    sku: str | None
    unit_cost: Decimal | None
    unit_price: Decimal | None
    billing_code_id: int | None
    is_active: bool
    missing: frozenset[str] = frozenset()
    """Fields Autotask's record did not carry at all (not even empty): never compared, and
    reported, so that a difference cannot hide behind them."""

    def fields(self) -> dict[str, Value]:
        """The fields billbridge may change, by their Autotask names."""
        return {
            "name": self.name,
            "unitCost": self.unit_cost,
            "unitPrice": self.unit_price,
            "productBillingCodeID": self.billing_code_id,
            "isActive": self.is_active,
        }


@dataclass(frozen=True, slots=True)
class ActualState:
    """What Autotask holds for the keys of the reports being exported."""

    companies: dict[int, ActualCompany] = field(default_factory=dict)
    contracts: tuple[ActualContract, ...] = ()
    """Contracts of the companies whose UDF holds one of the subscription ids, and look-alikes."""
    charges: tuple[ActualCharge, ...] = ()
    products: tuple[ActualProduct, ...] = ()

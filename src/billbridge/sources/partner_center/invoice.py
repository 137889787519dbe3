"""The New Commerce invoice reconciliation file: one line per charge or credit.

Read from Microsoft's CSV or from the API's JSON line items (`OneTimeInvoiceLineItem`, camelCase
keys, numbers as JSON numbers or as strings). Each line is validated and classified; the charge
rules that turn a subscription's lines into one charge are in `charges.py`.

Subscription type, after Microsoft's "how to derive the product category" table:

1. `azure`: an Azure plan line (`SubscriptionDescription` "Azure plan", or a `MeterDescription`).
   These summarise what the daily-rated usage file details; they are counted, not imported.
2. `perpetual`: no `TermAndBillingCycle` and no `ChargeEndDate` (one-time software).
3. `marketplace`: a publisher other than Microsoft (`PublisherName`).
4. `csp365`: everything else with a term: licences, software subscriptions, reservations and
   savings plans (all billed per unit for a term).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from billbridge.domain.subscription import SubscriptionType
from billbridge.sources.partner_center.columns import Field, bind
from billbridge.sources.partner_center.files import Source
from billbridge.sources.partner_center.values import RowValues
from billbridge.sources.problems import ProblemLog

CUSTOMER_ID = Field("CustomerId", required=True)
CUSTOMER_NAME = Field("CustomerName", ("CustomerCompanyName",))
CUSTOMER_DOMAIN = Field("CustomerDomainName", ("DomainName",))
INVOICE_NUMBER = Field("InvoiceNumber")
ORDER_DATE = Field("OrderDate")
PRODUCT_ID = Field("ProductId", required=True)
SKU_ID = Field("SkuId", required=True)
PRODUCT_NAME = Field("ProductName")
SKU_NAME = Field("SkuName")
CHARGE_TYPE = Field("ChargeType", required=True)
UNIT_PRICE = Field("UnitPrice")
EFFECTIVE_UNIT_PRICE = Field("EffectiveUnitPrice", required=True)
BILLABLE_QUANTITY = Field("BillableQuantity")
QUANTITY = Field("Quantity")
SUBTOTAL = Field("Subtotal")
CURRENCY = Field("Currency", ("BillingCurrency",), required=True)
PRICING_CURRENCY = Field("PricingCurrency")
EXCHANGE_RATE = Field("PCToBCExchangeRate")
PUBLISHER_NAME = Field("PublisherName")
SUBSCRIPTION_DESCRIPTION = Field("SubscriptionDescription")
SUBSCRIPTION_ID = Field("SubscriptionId", required=True)
CHARGE_START = Field("ChargeStartDate", required=True)
CHARGE_END = Field("ChargeEndDate")
SUBSCRIPTION_START = Field("SubscriptionStartDate")
SUBSCRIPTION_END = Field("SubscriptionEndDate")
TERM = Field("TermAndBillingCycle")
BILLING_FREQUENCY = Field("BillingFrequency")
METER_DESCRIPTION = Field("MeterDescription")
REFERENCE_ID = Field("ReferenceId")
QUALIFIERS = Field("ProductQualifiers")

FIELDS = (
    CUSTOMER_ID,
    CUSTOMER_NAME,
    CUSTOMER_DOMAIN,
    INVOICE_NUMBER,
    ORDER_DATE,
    PRODUCT_ID,
    SKU_ID,
    PRODUCT_NAME,
    SKU_NAME,
    CHARGE_TYPE,
    UNIT_PRICE,
    EFFECTIVE_UNIT_PRICE,
    BILLABLE_QUANTITY,
    QUANTITY,
    SUBTOTAL,
    CURRENCY,
    PRICING_CURRENCY,
    EXCHANGE_RATE,
    PUBLISHER_NAME,
    SUBSCRIPTION_DESCRIPTION,
    SUBSCRIPTION_ID,
    CHARGE_START,
    CHARGE_END,
    SUBSCRIPTION_START,
    SUBSCRIPTION_END,
    TERM,
    BILLING_FREQUENCY,
    METER_DESCRIPTION,
    REFERENCE_ID,
    QUALIFIERS,
)

CYCLE_CHARGES = frozenset({"new", "renew", "cyclecharge", "changebillingplan", "extendterm"})
"""Charges for a whole charge cycle: their quantity is the seat count, their price a full one."""
PAIRED_CHANGES = frozenset({"addquantity", "removequantity"})
"""Seat changes: a refund of the old count, a charge of the new one, for the rest of the cycle."""
MOVES = frozenset({"convert", "movequantity", "cancelimmediate", "cancel"})
"""Seats moved out (refund) or in (charge) of a subscription, for the rest of the cycle."""
CREDITS = frozenset({"customercredit"})
KNOWN_CHARGES = CYCLE_CHARGES | PAIRED_CHANGES | MOVES | CREDITS

_MICROSOFT = frozenset({"microsoft", "microsoft corporation"})


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    name: str | None
    domain: str | None


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """One validated line of the invoice reconciliation."""

    file: str
    line: int
    order: tuple[int, int]
    """(file index, line): the order of the line in the command's files, for ties."""
    invoice_number: str
    customer: Customer
    subscription_id: str
    subscription_type: SubscriptionType
    currency: str
    charge_start: date
    charge_end: date | None
    # The rest is only read (and validated) for lines that are not Azure plan lines.
    product_id: str = ""
    sku_id: str = ""
    product_name: str = ""
    charge_type: str = ""
    """Canonical: lower case, letters only (`cycleCharge` -> `cyclecharge`)."""
    charge_type_written: str = ""
    order_date: datetime | None = None
    unit_price: Decimal | None = None
    effective_unit_price: Decimal = Decimal(0)
    quantity: Decimal = Decimal(0)
    exchange_rate: Decimal = Decimal(1)
    subtotal: Decimal | None = None
    subscription_start: date | None = None
    subscription_end: date | None = None
    billing_frequency: str = ""
    reference_id: str = ""
    trial: bool = False

    @property
    def sku(self) -> str:
        """`ProductId:SkuId`, as the price list writes it."""
        return f"{self.product_id}:{self.sku_id}"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def is_refund(self) -> bool:
        """A refund of seats: negative price (Microsoft's way) or negative quantity (seen in
        third-party tools), or the zero-priced `convert` that ends a trial."""
        if self.effective_unit_price < 0 or self.quantity < 0:
            return True
        return self.trial and self.charge_type in MOVES and self.effective_unit_price == 0

    @property
    def seats(self) -> Decimal:
        """Signed seat count: what this line adds to (or takes from) the subscription."""
        return -abs(self.quantity) if self.is_refund else abs(self.quantity)

    @property
    def sort_key(self) -> tuple[datetime, date, int, int]:
        moment = self.order_date or datetime(
            self.charge_start.year, self.charge_start.month, self.charge_start.day, tzinfo=UTC
        )
        return (moment, self.charge_start, *self.order)


def read_invoice_lines(source: Source, file_index: int, log: ProblemLog) -> list[InvoiceLine]:
    """The valid lines of one invoice reconciliation file; problems go to `log`."""
    binding, problems = bind(source.columns, FIELDS)
    if binding.key(BILLABLE_QUANTITY) is None and binding.key(QUANTITY) is None:
        problems.append(("BillableQuantity", "required column is missing"))
    for column, message in problems:
        log.add(source.name, source.header_line, column, message)
    if problems:
        return []
    before = len(log.problems)
    lines: list[InvoiceLine] = []
    records = 0
    for record in source.records(log):
        records += 1
        line = _line(RowValues(source.name, record, binding, log), file_index)
        if line is not None:
            lines.append(line)
    if records == 0 and len(log.problems) == before:
        log.add(source.name, None, None, "has a header but no lines")
    return lines


def _line(row: RowValues, file_index: int) -> InvoiceLine | None:
    customer_id = row.identifier(CUSTOMER_ID, required=True)
    customer = Customer(
        customer_id or "", row.text(CUSTOMER_NAME), _lower(row.text(CUSTOMER_DOMAIN))
    )
    subscription_id = row.identifier(SUBSCRIPTION_ID, required=True)
    currency = row.currency(CURRENCY, required=True)
    charge_start = row.date(CHARGE_START, required=True)
    charge_end = row.date(CHARGE_END)
    if charge_start and charge_end and charge_end < charge_start:
        row.problem(CHARGE_END, f"{charge_end} is before ChargeStartDate {charge_start}")
    kind = classify(
        description=row.text(SUBSCRIPTION_DESCRIPTION) or "",
        meter_description=row.text(METER_DESCRIPTION) or "",
        term=row.text(TERM) or "",
        has_charge_end=charge_end is not None,
        publisher=row.text(PUBLISHER_NAME) or "",
    )
    details = {} if kind is SubscriptionType.AZURE else _licence_details(row, currency)
    if (
        not row.ok
        or details is None
        or customer_id is None
        or subscription_id is None
        or currency is None
        or charge_start is None
    ):
        return None
    return InvoiceLine(
        file=row.file,
        line=row.line,
        order=(file_index, row.line),
        invoice_number=row.text(INVOICE_NUMBER) or "",
        customer=customer,
        subscription_id=subscription_id,
        subscription_type=kind,
        currency=currency,
        charge_start=charge_start,
        charge_end=charge_end,
        **details,
    )


def _licence_details(row: RowValues, currency: str | None) -> dict[str, Any] | None:
    """The values only licence (not Azure plan) lines need, or None if any is bad."""
    product_id = row.text(PRODUCT_ID, required=True)
    sku_id = row.text(SKU_ID, required=True)
    product_name = _product_name(row.text(PRODUCT_NAME), row.text(SKU_NAME))
    if product_name is None:
        row.problem(PRODUCT_NAME, "is required (or SkuName)")
    written = row.text(CHARGE_TYPE, required=True)
    charge_type = "".join(ch for ch in (written or "").lower() if ch.isalpha())
    if written is not None and charge_type not in KNOWN_CHARGES:
        row.problem(
            CHARGE_TYPE,
            f"'{written}' is not a New Commerce charge type billbridge knows"
            " (new, renew, cycleCharge, addQuantity, removeQuantity, moveQuantity, convert,"
            " cancelImmediate, changeBillingPlan, extendTerm, customerCredit)",
        )
    effective = row.decimal(EFFECTIVE_UNIT_PRICE, required=True)
    quantity = row.decimal(BILLABLE_QUANTITY)
    if quantity is None and row.raw(BILLABLE_QUANTITY) is None:
        quantity = row.decimal(QUANTITY)
        if quantity is None and row.raw(QUANTITY) is None:
            row.problem(
                BILLABLE_QUANTITY if row.binding.key(BILLABLE_QUANTITY) else QUANTITY,
                "is required",
            )
    rate = row.decimal(EXCHANGE_RATE)
    pricing = row.currency(PRICING_CURRENCY)
    if rate is None and pricing is not None and currency is not None and pricing != currency:
        row.problem(
            EXCHANGE_RATE,
            f"is required: PricingCurrency {pricing} differs from Currency {currency}",
        )
    if rate is not None and rate <= 0:
        row.problem(EXCHANGE_RATE, f"must be positive (got {rate})")
    details = {
        "unit_price": row.decimal(UNIT_PRICE),
        "subtotal": row.decimal(SUBTOTAL),
        "subscription_start": row.date(SUBSCRIPTION_START),
        "subscription_end": row.date(SUBSCRIPTION_END),
        "order_date": row.timestamp(ORDER_DATE),
        "trial": any(word.lower() == "trial" for word in row.words(QUALIFIERS)),
        "billing_frequency": (row.text(BILLING_FREQUENCY) or "").lower(),
        "reference_id": row.text(REFERENCE_ID) or "",
    }
    if (
        product_id is None
        or sku_id is None
        or product_name is None
        or written is None
        or effective is None
        or quantity is None
    ):
        return None
    return details | {
        "product_id": product_id,
        "sku_id": sku_id.zfill(4),
        "product_name": product_name,
        "charge_type": charge_type,
        "charge_type_written": written,
        "effective_unit_price": effective,
        "quantity": quantity,
        "exchange_rate": Decimal(1) if rate is None else rate,
    }


def classify(
    *, description: str, meter_description: str, term: str, has_charge_end: bool, publisher: str
) -> SubscriptionType:
    """The subscription type of a reconciliation line (see the module's docstring)."""
    if description.strip().lower() == "azure plan" or meter_description.strip():
        return SubscriptionType.AZURE
    if not term.strip() and not has_charge_end:
        return SubscriptionType.PERPETUAL
    if publisher.strip() and publisher.strip().lower() not in _MICROSOFT:
        return SubscriptionType.MARKETPLACE
    return SubscriptionType.CSP365


def _product_name(product: str | None, sku: str | None) -> str | None:
    """The product's name with its sku's where that says more (`Virtual Machines (D2 v3)`)."""
    if not product or not sku or sku.lower() in product.lower():
        return product or sku
    if product.lower() in sku.lower():
        return sku
    return f"{product} ({sku})"


def _lower(text: str | None) -> str | None:
    return text.lower() if text else None

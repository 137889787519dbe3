"""The daily-rated usage file (Azure plan): one row per resource, meter and day.

Rows are summed per customer, billing cycle, Azure subscription (`EntitlementId`) and meter;
the sums are exact. Two readers fill the same groups:

- this module's row reader, for JSON (the Graph export's gzipped JSON lines, the API's items)
  and for CSV files the columnar reader cannot vouch for; it checks every row and reports each
  bad value as `FILE:LINE: column: problem`;
- `columnar.py`, for CSV: polars reads and groups the file by the raw text of its keys, sums
  the two summed columns exactly, and gives up (to this reader) on anything unusual.

Both group by the raw text of the key columns first, then `finish` turns each raw key into its
values (dates, currency, ids) and merges keys that mean the same thing, so that the two readers
agree to the last digit. Per meter, a group keeps: the cost (sum of `BillingPreTaxTotal`), the
list price (sum of `UnitPrice` x `Quantity` x `PCToBCExchangeRate`, computed as `UnitPrice` x
`PCToBCExchangeRate` x the group's summed `Quantity`, which is the same number), the quantity
used and the first line it was seen on.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from billbridge.sources.partner_center.columns import Binding, Field
from billbridge.sources.partner_center.dates import parse_date
from billbridge.sources.partner_center.files import Source
from billbridge.sources.partner_center.numbers import EXACT, exact, parse_decimal
from billbridge.sources.partner_center.values import MAX_TEXT, currency_code, identifier
from billbridge.sources.problems import ProblemLog

INVOICE_NUMBER = Field("InvoiceNumber")
CUSTOMER_ID = Field("CustomerId", required=True)
CHARGE_START = Field("ChargeStartDate", required=True)
CHARGE_END = Field("ChargeEndDate", required=True)
CURRENCY = Field("BillingCurrency", ("Currency",), required=True)
ENTITLEMENT_ID = Field("EntitlementId", required=True)
METER_ID = Field("MeterId")
PRODUCT_ID = Field("ProductId")
SKU_ID = Field("SkuId")
UNIT_PRICE = Field("UnitPrice", required=True)
EXCHANGE_RATE = Field("PCToBCExchangeRate", required=True)
KEY_FIELDS = (
    INVOICE_NUMBER,
    CUSTOMER_ID,
    CHARGE_START,
    CHARGE_END,
    CURRENCY,
    ENTITLEMENT_ID,
    METER_ID,
    PRODUCT_ID,
    SKU_ID,
    UNIT_PRICE,
    EXCHANGE_RATE,
)
QUANTITY = Field("Quantity", required=True)
COST = Field("BillingPreTaxTotal", required=True)
SUM_FIELDS = (QUANTITY, COST)
CUSTOMER_NAME = Field("CustomerName")
CUSTOMER_DOMAIN = Field("CustomerDomainName", ("DomainName",))
METER_CATEGORY = Field("MeterCategory")
METER_SUBCATEGORY = Field("MeterSubCategory")
METER_NAME = Field("MeterName")
PRODUCT_NAME = Field("ProductName")
SKU_NAME = Field("SkuName")
UNIT = Field("Unit", ("UnitOfMeasure", "UnitType"))
LABEL_FIELDS = (
    CUSTOMER_NAME,
    CUSTOMER_DOMAIN,
    METER_CATEGORY,
    METER_SUBCATEGORY,
    METER_NAME,
    PRODUCT_NAME,
    SKU_NAME,
    UNIT,
)
FIELDS = KEY_FIELDS + SUM_FIELDS + LABEL_FIELDS
_LABEL_INDEX = {f.name: i for i, f in enumerate(LABEL_FIELDS)}

RawKey = tuple[str | None, ...]
"""The raw text of the KEY_FIELDS of a row, in that order (None when blank or not read)."""


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns (canonical keys) one file's rows are read from, None where not read.

    The meter is `MeterId` where the file has that column, else `ProductId:SkuId` (the Graph
    export's `basic` attributes have no meter columns); the labels are the meter's category,
    subcategory and name, or the product's and sku's names in a file without meter columns.
    """

    keys: tuple[str | None, ...]
    sums: tuple[str | None, ...]
    labels: tuple[str | None, ...]

    @property
    def meter_ids(self) -> bool:
        return self.keys[KEY_FIELDS.index(METER_ID)] is not None


def layout(binding: Binding) -> Layout:
    meter_ids = binding.key(METER_ID) is not None
    meter_labels = any(binding.key(f) for f in (METER_CATEGORY, METER_SUBCATEGORY, METER_NAME))
    skipped = {PRODUCT_ID, SKU_ID} if meter_ids else set()
    if meter_labels:
        skipped |= {PRODUCT_NAME, SKU_NAME}
    return Layout(
        tuple(None if f in skipped else binding.key(f) for f in KEY_FIELDS),
        tuple(binding.key(f) for f in SUM_FIELDS),
        tuple(None if f in skipped else binding.key(f) for f in LABEL_FIELDS),
    )


@dataclass(slots=True)
class RawGroup:
    """The rows sharing one raw key: their sums, first line and labels."""

    line: int
    quantity: Decimal
    cost: Decimal
    labels: list[str | None]
    """Per LABEL_FIELDS, the smallest raw text among the rows (an order-free, stable choice)."""

    def add(self, other: RawGroup) -> None:
        self.quantity = EXACT.add(self.quantity, other.quantity)
        self.cost = EXACT.add(self.cost, other.cost)
        self.line = min(self.line, other.line)
        self.labels = [_smaller(a, b) for a, b in zip(self.labels, other.labels, strict=True)]


class UsageKey(NamedTuple):
    invoice_number: str
    customer_id: str
    charge_start: date
    charge_end: date
    currency: str
    entitlement_id: str
    meter: str


@dataclass(slots=True)
class MeterUsage:
    """One meter of one Azure subscription in one billing cycle, summed exactly."""

    line: int
    quantity: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    list_price: Decimal = Decimal(0)
    labels: list[str | None] = field(default_factory=lambda: [None] * len(LABEL_FIELDS))

    def label(self, which: Field) -> str | None:
        return _clean(self.labels[_LABEL_INDEX[which.name]])

    def absorb(self, other: MeterUsage) -> None:
        """Add `other`'s rows (the same meter from another file or another raw key)."""
        self.quantity = EXACT.add(self.quantity, other.quantity)
        self.cost = EXACT.add(self.cost, other.cost)
        self.list_price = EXACT.add(self.list_price, other.list_price)
        self.line = min(self.line, other.line)
        self.labels = [_smaller(a, b) for a, b in zip(self.labels, other.labels, strict=True)]

    @property
    def meter_name(self) -> str:
        """`Virtual Machines Dv3 Series Windows - D2 v3/D2s v3`, as Microsoft describes meters:
        category, subcategory and name, leaving out a part another part already contains."""
        return _meter_name(_name_labels(self.labels))


@dataclass(frozen=True, slots=True)
class UsageRead:
    """One usage file's meters and how many rows it had."""

    meters: dict[UsageKey, MeterUsage]
    rows: int


class BadKey(ValueError):
    """Raw key parts that do not hold valid values: (field, problem) pairs."""

    def __init__(self, problems: list[tuple[Field, str]]) -> None:
        super().__init__("; ".join(f"{f.name}: {message}" for f, message in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class RawGroups:
    """Raw groups column by column, as polars hands them over (and the row reader's groups
    turned so): per KEY_FIELDS the raw texts, then per group its first line, sums and labels."""

    keys: Sequence[Sequence[str | None]]
    lines: Sequence[int]
    quantities: Sequence[Decimal]
    costs: Sequence[Decimal]
    labels: Sequence[Sequence[str | None]]

    @staticmethod
    def of(groups: Mapping[RawKey, RawGroup]) -> RawGroups:
        found = list(groups.values())
        return RawGroups(
            keys=list(zip(*groups, strict=True)) if groups else [[] for _ in KEY_FIELDS],
            lines=[g.line for g in found],
            quantities=[g.quantity for g in found],
            costs=[g.cost for g in found],
            labels=[g.labels for g in found],
        )


def finish(groups: RawGroups, columns: Layout) -> dict[UsageKey, MeterUsage]:
    """Raw groups turned into meters (keys parsed, equal keys merged); `BadKey` if a key is
    bad, which only the columnar reader can meet (the row reader drops such rows)."""
    parse = _KeyParser(columns.meter_ids)
    parsed = parse.many(groups.keys)
    meters: dict[UsageKey, MeterUsage] = {}
    each = zip(parsed, groups.lines, groups.quantities, groups.costs, groups.labels, strict=True)
    with exact():
        for (key, unit_price, rate), line, quantity, cost, labels in each:
            usage = MeterUsage(line, quantity, cost, unit_price * rate * quantity, list(labels))
            found = meters.get(key)
            if found is None:
                meters[key] = usage
            else:
                found.absorb(usage)
    return meters


def read_rows(
    source: Source, binding: Binding, log: ProblemLog
) -> tuple[dict[RawKey, RawGroup], int]:
    """The row reader: every row checked, bad rows reported and left out; and the rows read."""
    columns = layout(binding)
    keys, labels = columns.keys, columns.labels
    quantity_key, cost_key = columns.sums
    parse = _KeyParser(columns.meter_ids)
    groups: dict[RawKey, RawGroup] = {}
    last_labels: dict[RawKey, tuple[Any, ...]] = {}
    rows = 0
    before = len(log.problems)
    for record in source.records(log):
        rows += 1
        values = record.values
        raw = tuple([_text(values.get(k)) if k else None for k in keys])
        problems: list[tuple[Field, str]] = []
        try:
            parse(raw)
        except BadKey as exc:
            problems.extend(exc.problems)
        quantity = _summed(QUANTITY, values.get(quantity_key) if quantity_key else None, problems)
        cost = _summed(COST, values.get(cost_key) if cost_key else None, problems)
        if problems or quantity is None or cost is None:
            for which, message in problems:
                log.add(source.name, record.line, binding.label(which), message)
            continue
        found = groups.get(raw)
        if found is None:
            found = groups[raw] = RawGroup(record.line, quantity, cost, [None] * len(labels))
        else:
            found.quantity = EXACT.add(found.quantity, quantity)
            found.cost = EXACT.add(found.cost, cost)
        seen = tuple([values.get(k) if k else None for k in labels])
        if last_labels.get(raw) != seen:  # labels rarely change within a group: skip the work
            last_labels[raw] = seen
            found.labels = [
                _smaller(old, _label_text(new)) for old, new in zip(found.labels, seen, strict=True)
            ]
    if rows == 0 and len(log.problems) == before:
        log.add(source.name, None, None, "has a header but no rows")
    return groups, rows


def _summed(which: Field, value: Any, problems: list[tuple[Field, str]]) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.append((which, "is required"))
        return None
    try:
        return parse_decimal(value)
    except ValueError as exc:
        problems.append((which, str(exc)))
        return None


class _KeyParser:
    """Turns raw keys into values, remembering each raw text it has seen (files repeat a few
    hundred distinct values over millions of rows)."""

    def __init__(self, meter_ids: bool) -> None:
        self._meter_ids = meter_ids
        self._seen: dict[tuple[str, object], object] = {}
        self._keys: dict[RawKey, tuple[UsageKey, Decimal, Decimal] | BadKey] = {}

    def __call__(self, raw: RawKey) -> tuple[UsageKey, Decimal, Decimal]:
        found = self._keys.get(raw)
        if found is None:
            try:
                found = self._parse(raw)
            except BadKey as exc:
                found = exc
            self._keys[raw] = found
        if isinstance(found, BadKey):
            raise BadKey(found.problems)  # a new one: re-raising one object grows its traceback
        return found

    def many(
        self, columns: Sequence[Sequence[str | None]]
    ) -> list[tuple[UsageKey, Decimal, Decimal]]:
        """`self(raw)` for each raw key given column by column (per KEY_FIELDS), parsing a
        column at a time: each repeats a few hundred distinct texts over tens of thousands of
        keys. If any key is bad, each is parsed on its own, so that the `BadKey` raised is the
        one `self(raw)` raises."""
        if not columns[0]:
            return []
        invoice, customer, start, end, currency, entitlement, meter, product, sku, price, rate = (
            columns
        )
        parts = [
            self._column(CUSTOMER_ID, customer, _identifier),
            self._column(CHARGE_START, start, _date),
            self._column(CHARGE_END, end, _date),
            self._column(CURRENCY, currency, _currency),
            self._column(ENTITLEMENT_ID, entitlement, _identifier),
            self._column(METER_ID, list(zip(meter, product, sku, strict=True)), self._meter),
            self._column(UNIT_PRICE, price, _number),
            self._column(EXCHANGE_RATE, rate, _positive),
        ]
        good: list[list[Any]] = [part for part in parts if part is not None]
        if len(good) < len(parts):
            return [self(raw) for raw in zip(*columns, strict=True)]
        customers, starts, ends, currencies, entitlements, meters, prices, rates = good
        if any(e < s for s, e in zip(starts, ends, strict=True)):
            return [self(raw) for raw in zip(*columns, strict=True)]
        invoices = [(text or "").strip() for text in invoice]
        keys = map(UsageKey, invoices, customers, starts, ends, currencies, entitlements, meters)
        return list(zip(keys, prices, rates, strict=True))

    def _column(
        self, which: Field, raws: Sequence[object], parse: Callable[[Field, Any], object]
    ) -> list[object] | None:
        """The parsed values of one key column, or None if any of them is bad."""
        values: dict[object, object] = {}
        for raw in set(raws):
            found = self._remembered(which, raw, parse)
            if isinstance(found, BadKey):
                return None
            values[raw] = found
        return [values[raw] for raw in raws]

    def _remembered(
        self, which: Field, raw: object, parse: Callable[[Field, Any], object]
    ) -> object:
        """`parse(which, raw)` (or the `BadKey` it raises), once per distinct raw text."""
        memo = (which.name, raw)
        found = self._seen.get(memo, _UNSEEN)
        if found is _UNSEEN:
            try:
                found = parse(which, raw)
            except BadKey as exc:
                found = exc
            self._seen[memo] = found
        return found

    def _parse(self, raw: RawKey) -> tuple[UsageKey, Decimal, Decimal]:
        invoice, customer, start, end, currency, entitlement, meter, product, sku, price, rate = raw
        problems: list[tuple[Field, str]] = []
        customer_id = self._part(CUSTOMER_ID, customer, _identifier, problems)
        charge_start = self._part(CHARGE_START, start, _date, problems)
        charge_end = self._part(CHARGE_END, end, _date, problems)
        code = self._part(CURRENCY, currency, _currency, problems)
        entitlement_id = self._part(ENTITLEMENT_ID, entitlement, _identifier, problems)
        meter_id = self._part(METER_ID, (meter, product, sku), self._meter, problems)
        unit_price = self._part(UNIT_PRICE, price, _number, problems)
        exchange_rate = self._part(EXCHANGE_RATE, rate, _positive, problems)
        backwards = isinstance(charge_start, date) and isinstance(charge_end, date)
        if backwards and charge_end < charge_start:  # type: ignore[operator]
            problems.append((CHARGE_END, f"{charge_end} is before ChargeStartDate {charge_start}"))
        if problems:
            raise BadKey(problems)
        assert isinstance(customer_id, str) and isinstance(entitlement_id, str)
        assert isinstance(charge_start, date) and isinstance(charge_end, date)
        assert isinstance(code, str) and isinstance(meter_id, str)
        assert isinstance(unit_price, Decimal) and isinstance(exchange_rate, Decimal)
        key = UsageKey(
            (invoice or "").strip(),
            customer_id,
            charge_start,
            charge_end,
            code,
            entitlement_id,
            meter_id,
        )
        return key, unit_price, exchange_rate

    def _part(
        self,
        which: Field,
        raw: object,
        parse: Callable[[Field, Any], object],
        problems: list[tuple[Field, str]],
    ) -> object:
        found = self._remembered(which, raw, parse)
        if isinstance(found, BadKey):
            problems.extend(found.problems)
            return None
        return found

    def _meter(self, which: Field, raw: tuple[str | None, str | None, str | None]) -> str:
        return meter_key(self._meter_ids, *raw)


_UNSEEN = object()


def _identifier(which: Field, text: str | None) -> str:
    return identifier(_required(which, text))


def _date(which: Field, text: str | None) -> date:
    value = _required(which, text)
    try:
        return parse_date(value)
    except ValueError as exc:
        raise BadKey([(which, str(exc))]) from None


def _number(which: Field, text: str | None) -> Decimal:
    value = _required(which, text)
    try:
        return parse_decimal(value)
    except ValueError as exc:
        raise BadKey([(which, str(exc))]) from None


def _positive(which: Field, text: str | None) -> Decimal:
    number = _number(which, text)
    if number <= 0:
        raise BadKey([(which, f"must be positive (got {text})")])
    return number


def meter_key(meter_ids: bool, meter: str | None, product: str | None, sku: str | None) -> str:
    """The meter's id; in a file without meter ids, `ProductId:SkuId`."""
    if meter_ids:
        return identifier(_required(METER_ID, meter))
    if product and product.strip() and sku and sku.strip():
        return f"{product.strip()}:{sku.strip().zfill(4)}"
    raise BadKey([(PRODUCT_ID, "is required (with SkuId) in a file without MeterId")])


def _required(which: Field, text: str | None) -> str:
    if text is None or not text.strip():
        raise BadKey([(which, "is required")])
    if len(text) > MAX_TEXT:
        raise BadKey([(which, f"is longer than {MAX_TEXT} characters")])
    return text.strip()


def _currency(which: Field, text: str | None) -> str:
    code = currency_code(_required(which, text))
    if code is None:
        raise BadKey([(which, f"'{text}' is not an ISO 4217 currency code")])
    return code


def _text(value: Any) -> str | None:
    """A key's raw text (a JSON number as written), None when absent or empty."""
    if value is None:
        return None
    text = str(value)
    return text or None


def _label_text(value: Any) -> str | None:
    if value is None or isinstance(value, (list, dict)):
        return None
    text = str(value)
    return text or None


def _smaller(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


_NAMES = (METER_CATEGORY, METER_SUBCATEGORY, METER_NAME, PRODUCT_NAME, SKU_NAME)
_name_labels = operator.itemgetter(*(_LABEL_INDEX[f.name] for f in _NAMES))
"""The labels of `_NAMES` out of a meter's labels, as a tuple."""


@functools.lru_cache(maxsize=1 << 16)
def _meter_name(names: tuple[str | None, ...]) -> str:
    """`MeterUsage.meter_name` from the raw labels of `_NAMES`, once per distinct labels (a
    meter's are the same in every Azure subscription that uses it)."""
    category, subcategory, name, product, sku = map(_clean, names)
    parts = [category, subcategory, name]
    if not any(parts):
        parts = [product, sku]
    named = list(dict.fromkeys(p for p in parts if p))
    kept = [p for p in named if not any(p.lower() in q.lower() for q in named if q != p)]
    return " - ".join(kept)


_CONTROL_TO_BLANK = dict.fromkeys(range(32), " ")


@functools.lru_cache(maxsize=1 << 16)
def _clean(text: str | None) -> str | None:
    """A label as shown: control characters as blanks, trimmed, at most MAX_TEXT characters."""
    if text is None:
        return None
    return text.translate(_CONTROL_TO_BLANK).strip()[:MAX_TEXT] or None

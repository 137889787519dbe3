"""The sandbox tenant's behaviour: reads, writes and Autotask's business rules.

Writes bind the body as ASP.NET does (case-insensitive names, loose scalar types, unknown and
read-only properties ignored), then validate like Autotask, answering HTTP 500
`{"errors": [...]}` with every problem found:

- required fields, picklist values (active ones), references that must exist;
- ContractCharges: `productID` or `billingCodeID`; a billing code must be an active material
  code; no charges on Block Hours, Retainer or Per Ticket contracts; `unitPrice` defaults from
  the billing code (else the product); `billableAmount = unitQuantity * unitPrice` and the
  other computed fields are set by the server; a billed charge (`isBilled`) can be neither
  updated nor deleted;
- Products: `productBillingCodeID` an active material code; `periodType` Monthly unless
  `billingType` is Standard; `priceCostMethod` "Standard (Flat)" for Standard products;
- PATCH changes only the given fields (an explicit null clears one); PUT sets every writable
  field, missing ones to null.

The tenant's settings (`settings.TenantSettings`) shape what it keeps: date-only fields are
kept as calendar days read in the tenant's zone (or in UTC) and read back as that day's
midnight; unit prices, costs and quantities are rounded to the tenant's precision (4 by
default; Autotask's is not documented, see docs/sandbox.md); without the cost permission cost fields
read null and writes to them are ignored; a tenant's own required fields are enforced on
create; records without any UDF value carry no `userDefinedFields` key.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from billbridge.sandbox import schema, seed
from billbridge.sandbox.errors import ApiError, no_matching_record
from billbridge.sandbox.filters import QuerySpec, compile_filters, unknown_field
from billbridge.sandbox.schema import DATETIME, DOUBLE, EntityDef, FieldDef
from billbridge.sandbox.settings import TenantSettings
from billbridge.sandbox.store import Store
from billbridge.sandbox.wire import Double, SqlConversionError, coerce

Record = dict[str, Any]
UDF_KEY = "@udf"
SETTINGS_KEY = "tenant_settings"
#: Unit fields rounded to the tenant's precision, per entity.
UNIT_FIELDS = {
    "ContractCharges": ("unitQuantity", "unitCost", "unitPrice"),
    "Products": ("unitCost", "unitPrice", "msrp"),
}
#: decimal(18,4) columns hold less than 10^14 (SQL Server's overflow beyond).
MONEY_LIMIT = Decimal(10) ** 14
OVERFLOW_MESSAGE = "Arithmetic overflow error converting numeric to data type numeric."
RECURRING_SERVICE = 7
PERIOD_TYPE_MESSAGE = "Contracts of type 7 (Recurring Services) require a ContractPeriodType."
CHARGE_STATUS_FULFILLED = 5
#: The paging cursor of a first page: below every id (company 0 included).
FIRST_PAGE = -1
#: Contract types on which charges cannot be created (Autotask's ContractCharges entity rules).
NO_CHARGE_CONTRACT_TYPES = {4: "Block Hours", 6: "Retainer", 8: "Per Ticket"}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Page:
    """One page of a query result."""

    def __init__(self, items: list[Record], has_more: bool, last_id: int | None) -> None:
        self.items = items
        self.has_more = has_more
        self.last_id = last_id


class Tenant:
    """One Autotask tenant over a `Store`; every method is atomic and thread-safe."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = utcnow,
        settings: TenantSettings | None = None,
    ) -> None:
        """`settings` None: those kept in the store (else the defaults)."""
        self.store = store
        self.clock = clock
        with store.transaction():
            if settings is None:
                kept = store.meta(SETTINGS_KEY)
                settings = TenantSettings() if kept is None else TenantSettings.from_json(kept)
            else:
                store.set_meta(SETTINGS_KEY, settings.to_json())
            self.settings = settings
            if store.meta("seeded") is None:
                self._seed()
                store.set_meta("seeded", self.clock().isoformat())
            self._seed_own_company()

    def _seed(self) -> None:
        for name, records in seed.seed_records(self.clock()).items():
            definition = _definition(name)
            for raw in records:
                self._save_seeded(definition, raw)
            top = max(int(r["id"]) for r in records)
            while self.store.next_id(definition.name, definition.id_start) <= top:
                pass

    def _seed_own_company(self) -> None:
        """Company 0, the tenant's own (also added to data files made before it was seeded)."""
        if self.store.load(schema.COMPANIES.name, seed.OWN_COMPANY_ID) is None:
            self._save_seeded(schema.COMPANIES, seed.own_company(self.clock()))

    def _save_seeded(self, definition: EntityDef, raw: dict[str, Any]) -> None:
        record = self._blank(definition)
        record.update(raw)
        for f in definition.fields:
            value = record.get(f.name)
            if f.date_only and isinstance(value, datetime):
                record[f.name] = self.settings.calendar_day(value)
        self._save(definition, record)

    # -- storage -------------------------------------------------------------------------------

    @staticmethod
    def _blank(definition: EntityDef) -> Record:
        record: Record = {f.name: None for f in definition.fields}
        if definition.udfs is not None:
            record[UDF_KEY] = {u.name: None for u in definition.udfs}
        return record

    def _save(self, definition: EntityDef, record: Record) -> None:
        stored: dict[str, Any] = {}
        for f in definition.fields:
            value = record.get(f.name)
            if value is None:
                stored[f.name] = None
            elif f.type == DOUBLE:
                stored[f.name] = str(value)
            elif f.date_only:
                stored[f.name] = value.isoformat()
            elif f.type == DATETIME:
                stored[f.name] = value.astimezone(UTC).isoformat()
            else:
                stored[f.name] = value
        if definition.udfs is not None:
            stored[UDF_KEY] = dict(record.get(UDF_KEY) or {})
        self.store.save(definition.name, int(record["id"]), stored)

    @staticmethod
    def _revive(definition: EntityDef, stored: dict[str, Any]) -> Record:
        record: Record = {}
        for f in definition.fields:
            value = stored.get(f.name)
            if value is not None and f.type == DOUBLE:
                value = Double(value)
            elif value is not None and f.date_only:
                value = _stored_day(value)
            elif value is not None and f.type == DATETIME:
                value = datetime.fromisoformat(value)
            record[f.name] = value
        if definition.udfs is not None:
            udfs = stored.get(UDF_KEY) or {}
            record[UDF_KEY] = {u.name: udfs.get(u.name) for u in definition.udfs}
        return record

    def get(self, definition: EntityDef, item_id: int) -> Record | None:
        stored = self.store.load(definition.name, item_id)
        return None if stored is None else self._revive(definition, stored)

    def all(self, definition: EntityDef) -> list[Record]:
        return [self._revive(definition, s) for s in self.store.load_all(definition.name)]

    def exists(self, entity_name: str, item_id: object) -> bool:
        return isinstance(item_id, int) and self.store.load(entity_name, item_id) is not None

    # -- reads ---------------------------------------------------------------------------------

    def query(self, definition: EntityDef, spec: QuerySpec, *, after: int = FIRST_PAGE) -> Page:
        """The page of matching records with id > `after`, ordered by id."""
        predicate = compile_filters(definition, spec.filters, self.settings.day_instant)
        self.check_include(definition, spec.include_fields)
        matched: list[Record] = []
        has_more = False
        for record in self.all(definition):
            if record["id"] <= after or not predicate(record):
                continue
            if len(matched) == spec.page_size:
                has_more = True
                break
            matched.append(record)
        last = matched[-1]["id"] if matched else None
        return Page(matched, has_more, last)

    def count(self, definition: EntityDef, spec: QuerySpec) -> int:
        predicate = compile_filters(definition, spec.filters, self.settings.day_instant)
        return sum(1 for record in self.all(definition) if predicate(record))

    @staticmethod
    def check_include(definition: EntityDef, include: list[str] | None) -> None:
        for name in include or ():
            if definition.field(name) is None and definition.udf(name) is None:
                raise unknown_field(name, definition)

    def render(
        self, definition: EntityDef, record: Record, include: list[str] | None = None
    ) -> dict[str, Any]:
        """The wire form: every field (null when empty) and the UDFs as name/value pairs.

        A date-only field reads as the midnight of its day; a cost field without the cost
        permission reads null; `userDefinedFields` is absent when no UDF has a value.
        """
        settings = self.settings
        wanted = None if include is None else {name.casefold() for name in include}
        item: dict[str, Any] = {}
        for f in definition.fields:
            if wanted is None or f.name.casefold() in wanted:
                value = record.get(f.name)
                if f.cost and not settings.cost_permission:
                    value = None
                elif f.date_only and isinstance(value, date):
                    value = settings.day_instant(value)
                item[f.name] = value
        if definition.udfs is not None:
            udfs = [u for u in definition.udfs if wanted is None or u.name.casefold() in wanted]
            values = record.get(UDF_KEY) or {}
            valued = any(_present(values.get(u.name)) for u in udfs)
            if (wanted is None or udfs) and (valued or settings.keep_empty_udfs):
                item["userDefinedFields"] = [
                    {"name": u.name, "value": values.get(u.name)} for u in udfs
                ]
        return item

    # -- writes --------------------------------------------------------------------------------

    def create(
        self,
        definition: EntityDef,
        body: object,
        *,
        actor: int,
        impersonator: int | None = None,
        parent_id: int | None = None,
    ) -> int:
        if not definition.can_create:
            raise ApiError.autotask(f"The {definition.internal} entity cannot be created.")
        with self.store.transaction():
            values, udfs = self._bind(definition, body)
            record = self._blank(definition)
            record.update(values)
            if udfs:
                record[UDF_KEY].update(udfs)
            if definition.parent is not None:
                assert parent_id is not None
                record[definition.parent.field] = parent_id
                values[definition.parent.field] = parent_id
            now = self.clock()
            errors = self._prepare(definition, record, None, set(values), actor, impersonator, now)
            errors += self._validate(definition, record, set(values), udfs, creating=True)
            if errors:
                raise ApiError.autotask(*dict.fromkeys(errors))
            record["id"] = self.store.next_id(definition.name, definition.id_start)
            self._save(definition, record)
            return int(record["id"])

    def update(
        self,
        definition: EntityDef,
        body: object,
        *,
        partial: bool,
        actor: int,
        parent_id: int | None = None,
    ) -> int:
        if not definition.can_update:
            raise ApiError.autotask(f"The {definition.internal} entity cannot be updated.")
        with self.store.transaction():
            item_id = _body_id(body)
            existing = None if item_id is None else self.get(definition, item_id)
            parent = definition.parent
            if existing is None or (parent is not None and existing.get(parent.field) != parent_id):
                raise no_matching_record("update")
            values, udfs = self._bind(definition, body)
            if parent is not None:
                values.pop(parent.field, None)  # a charge never moves to another contract
            record = dict(existing)
            record[UDF_KEY] = dict(existing.get(UDF_KEY) or {}) if definition.udfs else None
            if partial:
                record.update(values)
                changed = set(values)
            else:
                changed = set()
                for f in definition.fields:
                    if f.read_only or (parent is not None and f.name == parent.field):
                        continue
                    record[f.name] = values.get(f.name)
                    changed.add(f.name)
                if definition.udfs is not None:
                    record[UDF_KEY] = {u.name: None for u in definition.udfs}
            if definition.udfs is None:
                record.pop(UDF_KEY, None)
            elif udfs:
                record[UDF_KEY].update(udfs)
            now = self.clock()
            errors = self._prepare(definition, record, existing, changed, actor, None, now)
            errors += self._validate(definition, record, changed, udfs, creating=False)
            if errors:
                raise ApiError.autotask(*dict.fromkeys(errors))
            self._save(definition, record)
            return int(record["id"])

    def delete_child(self, definition: EntityDef, parent_id: int, item_id: int) -> int:
        parent = definition.parent
        if parent is None:
            raise ApiError.autotask(f"The {definition.internal} entity cannot be deleted.")
        with self.store.transaction():
            existing = self.get(definition, item_id)
            if existing is None or existing.get(parent.field) != parent_id:
                raise no_matching_record("delete")
            if existing.get("isBilled"):
                raise ApiError.autotask(
                    f"The {definition.internal} {item_id} has been billed (isBilled = true) and "
                    "can no longer be deleted."
                )
            self.store.delete(definition.name, item_id)
            return item_id

    def approve_and_post(
        self, through: date | None = None, *, edit_description: str | None = None
    ) -> int:
        """Mark unbilled charges purchased on or before `through` (default: all) billed, as
        Approve & Post does; returns how many. Every other field is kept as it was, except
        `description` when `edit_description` is given (a person editing it while posting).
        With the Procurement module on, a charge of a product that needs procurement is not
        offered until it is fulfilled (status Delivered/Fulfilled). Charges on contracts of
        company 0, the tenant's own, are never offered."""
        definition = schema.CONTRACT_CHARGES
        count = 0
        with self.store.transaction():
            own = {
                c["id"]
                for c in self.all(schema.CONTRACTS)
                if c.get("companyID") == seed.OWN_COMPANY_ID
            }
            for record in self.all(definition):
                if record.get("isBilled") or self.awaits_fulfilment(record):
                    continue
                if record.get("contractID") in own:
                    continue  # what is billed to yourself never reaches Approve & Post
                purchased = record.get("datePurchased")
                if through is not None and (purchased is None or purchased > through):
                    continue
                record["isBilled"] = True
                if edit_description is not None:
                    record["description"] = edit_description
                self._save(definition, record)
                count += 1
        return count

    def awaits_fulfilment(self, charge: Record) -> bool:
        """True when Procurement holds `charge` back from Approve & Post."""
        if not self.settings.procurement or charge.get("status") == CHARGE_STATUS_FULFILLED:
            return False
        product_id = charge.get("productID")
        if not isinstance(product_id, int):
            return False
        product = self.get(schema.PRODUCTS, product_id)
        return product is not None and product.get("doesNotRequireProcurement") is not True

    # -- binding and validation ----------------------------------------------------------------

    def _bind(
        self, definition: EntityDef, body: object
    ) -> tuple[dict[str, Any], dict[str, str | None]]:
        """Writable fields given in `body`, typed; unknown and read-only properties ignored."""
        if not isinstance(body, dict):
            raise ApiError.autotask("The request body is empty or is not a JSON object.")
        values: dict[str, Any] = {}
        udfs: dict[str, str | None] = {}
        errors: list[str] = []
        for key, raw in body.items():
            name = str(key)
            if name.casefold() == "userdefinedfields":
                if definition.udfs is not None:
                    udfs = self._bind_udfs(definition, raw, errors)
                continue
            f = definition.field(name)
            if f is None or f.read_only:
                continue
            if f.cost and not self.settings.cost_permission:
                continue  # Autotask ignores what the user may not see
            try:
                value = coerce(f.type, raw, f.name)
            except SqlConversionError as exc:
                raise ApiError.autotask(str(exc)) from None
            except ValueError as exc:
                errors.append(str(exc))
                continue
            if isinstance(value, Decimal) and abs(value) >= MONEY_LIMIT:
                raise ApiError.autotask(OVERFLOW_MESSAGE)
            if f.date_only and isinstance(value, datetime):
                value = self.settings.calendar_day(value)
            values[f.name] = value
        if errors:
            raise ApiError.autotask(*errors)
        return values, udfs

    @staticmethod
    def _bind_udfs(definition: EntityDef, raw: object, errors: list[str]) -> dict[str, str | None]:
        udfs: dict[str, str | None] = {}
        if raw is None:
            return udfs
        if not isinstance(raw, list):
            errors.append("userDefinedFields must be a list of {name, value} pairs.")
            return udfs
        for pair in raw:
            if not isinstance(pair, dict):
                errors.append("userDefinedFields must be a list of {name, value} pairs.")
                continue
            keys = {str(k).casefold(): v for k, v in pair.items()}
            udf = definition.udf(str(keys.get("name") or ""))
            if udf is None:
                errors.append(
                    f"User-defined field '{keys.get('name')}' does not exist for the "
                    f"{definition.internal} entity."
                )
                continue
            value = keys.get("value")
            text = None if value is None else str(value)
            if text is not None and len(text) > udf.length:
                errors.append(f"{udf.name} exceeds the maximum length of {udf.length}.")
            udfs[udf.name] = text
        return udfs

    def _validate(
        self,
        definition: EntityDef,
        record: Record,
        changed: set[str],
        udfs: dict[str, str | None],
        *,
        creating: bool,
    ) -> list[str]:
        """Required fields (Autotask's always, the tenant's own on create or when changed),
        then the values changed."""
        errors: list[str] = []
        for f in definition.fields:
            value = record.get(f.name)
            required = f.required or (
                self.settings.requires(definition.name, f.name) and (creating or f.name in changed)
            )
            if required and not _present(value):
                errors.append(f"Missing Required Field: {f.name}.")
                continue
            if value is None or f.name not in changed:
                continue
            errors += self._check_value(f, value)
        values = record.get(UDF_KEY) or {}
        for udf in definition.udfs or ():
            required = udf.required or (
                self.settings.requires(definition.name, udf.name) and (creating or udf.name in udfs)
            )
            if required and not _present(values.get(udf.name)):
                errors.append(f"Missing Required Field: {udf.name}.")
        return errors

    def _check_value(self, f: FieldDef, value: Any) -> list[str]:
        if f.picklist:
            entry = f.pick(value)
            if entry is None or not entry.active:
                return [f"The value {value} is not a valid (active) picklist value for {f.name}."]
        if f.reference and not self.exists(f.reference, value):
            return [f"Value does not reference an existing entity for {f.name}."]
        if isinstance(value, str) and f.length and len(value) > f.length:
            return [f"{f.name} exceeds the maximum length of {f.length} characters."]
        return []

    def _material_code(self, field_name: str, code_id: object) -> list[str]:
        if not isinstance(code_id, int):
            return []
        code = self.get(schema.BILLING_CODES, code_id)
        if code is None:
            return []  # reported by the reference check
        if code.get("useType") != schema.USE_TYPE_MATERIAL or not code.get("isActive"):
            return [f"{field_name} must reference an active material billing code."]
        return []

    # -- per-entity rules ----------------------------------------------------------------------

    def _prepare(
        self,
        definition: EntityDef,
        record: Record,
        existing: Record | None,
        changed: set[str],
        actor: int,
        impersonator: int | None,
        now: datetime,
    ) -> list[str]:
        """Set defaults and computed fields; return the entity's business-rule errors."""
        if definition is schema.COMPANIES:
            return self._prepare_company(record, existing, actor, impersonator, now)
        if definition is schema.CONTRACTS:
            return self._prepare_contract(record, existing, changed, now)
        if definition is schema.CONTRACT_CHARGES:
            return self._prepare_charge(record, existing, changed, actor, now)
        if definition is schema.PRODUCTS:
            return self._prepare_product(record, existing, changed, actor, impersonator, now)
        return []

    def _prepare_company(
        self,
        record: Record,
        existing: Record | None,
        actor: int,
        impersonator: int | None,
        now: datetime,
    ) -> list[str]:
        if existing is None:
            if record.get("isActive") is None:
                record["isActive"] = True
            record["createDate"] = now
            record["createdByResourceID"] = actor
            record["impersonatorCreatorResourceID"] = impersonator
            record["lastActivityDate"] = now
            for flag in ("isClientPortalActive", "isSample", "isTaskFireActive"):
                record[flag] = False
        record["lastTrackedModifiedDateTime"] = now
        if record.get("id") == seed.OWN_COMPANY_ID and record.get("isActive") is False:
            return ["Your local organization cannot be inactivated."]
        owner = record.get("ownerResourceID")
        if isinstance(owner, int):
            resource = self.get(schema.RESOURCES, owner)
            if resource is not None and not resource.get("isActive"):
                return ["ownerResourceID must reference an active resource."]
        return []

    @staticmethod
    def _prepare_contract(
        record: Record, existing: Record | None, changed: set[str], now: datetime
    ) -> list[str]:
        if existing is None:
            if record.get("isDefaultContract") is None:
                record["isDefaultContract"] = False
            record["isCompliant"] = True
        record["lastModifiedDateTime"] = now
        for money in ("overageBillingRate", "setupFee"):
            internal = "internalCurrency" + money[0].upper() + money[1:]
            record[internal] = record.get(money)
        errors: list[str] = []
        if (
            record.get("contractType") == RECURRING_SERVICE
            and record.get("contractPeriodType") is None
            and (existing is None or {"contractType", "contractPeriodType"} & changed)
        ):
            errors.append(PERIOD_TYPE_MESSAGE)
        start, end = record.get("startDate"), record.get("endDate")
        if isinstance(start, date) and isinstance(end, date) and end < start:
            errors.append("The contract's endDate must be on or after its startDate.")
        return errors

    def _prepare_charge(
        self,
        record: Record,
        existing: Record | None,
        changed: set[str],
        actor: int,
        now: datetime,
    ) -> list[str]:
        if existing is not None and existing.get("isBilled"):
            return [
                f"The ContractCost {existing['id']} has been billed (isBilled = true) and can "
                "no longer be updated."
            ]
        errors: list[str] = []
        contract = self.get(schema.CONTRACTS, record.get("contractID") or 0)
        if contract is None:
            return ["Value does not reference an existing entity for contractID."]
        if existing is None and contract.get("contractType") in NO_CHARGE_CONTRACT_TYPES:
            kind = NO_CHARGE_CONTRACT_TYPES[contract["contractType"]]
            errors.append(f"Charges cannot be added to a {kind} contract.")
        if record.get("productID") is None and record.get("billingCodeID") is None:
            errors.append("ContractCharge must have either a productID or billingCodeID.")
        if "billingCodeID" in changed:
            errors += self._material_code("billingCodeID", record.get("billingCodeID"))
        self._round_units("ContractCharges", record)
        if record.get("unitPrice") is None:
            record["unitPrice"] = self._default_price(record)
        if existing is None:
            record["isBilled"] = False
            record["createDate"] = now
            record["creatorResourceID"] = actor
            if record.get("isBillableToCompany") is None:
                record["isBillableToCompany"] = True
        if "status" in changed or (existing is None and record.get("status") is not None):
            record["statusLastModifiedBy"] = actor
            record["statusLastModifiedDate"] = now
        quantity, price, cost = (record.get(n) for n in ("unitQuantity", "unitPrice", "unitCost"))
        record["billableAmount"] = self._amount(quantity, price)
        record["extendedCost"] = self._amount(quantity, cost)
        record["internalCurrencyBillableAmount"] = record["billableAmount"]
        record["internalCurrencyUnitPrice"] = record.get("unitPrice")
        return errors

    def _round_units(self, entity_name: str, record: Record) -> None:
        for name in UNIT_FIELDS[entity_name]:
            value = record.get(name)
            if value is not None:
                record[name] = Double(self.settings.round_unit(value))

    def _amount(self, left: Any, right: Any) -> Double | None:
        if left is None or right is None:
            return None
        return Double(self.settings.round_unit(Decimal(left) * Decimal(right)))

    def _default_price(self, record: Record) -> Double | None:
        """`unitPrice` when not given: the billing code's, else the product's."""
        code_id, product_id = record.get("billingCodeID"), record.get("productID")
        source = None
        if isinstance(code_id, int):
            source = self.get(schema.BILLING_CODES, code_id)
        elif isinstance(product_id, int):
            source = self.get(schema.PRODUCTS, product_id)
        price = None if source is None else source.get("unitPrice")
        return None if price is None else Double(price)

    def _prepare_product(
        self,
        record: Record,
        existing: Record | None,
        changed: set[str],
        actor: int,
        impersonator: int | None,
        now: datetime,
    ) -> list[str]:
        self._round_units("Products", record)
        if existing is None:
            if record.get("billingType") is None:
                record["billingType"] = schema.BILLING_TYPE_STANDARD
            if record.get("priceCostMethod") is None:
                record["priceCostMethod"] = schema.PRICE_COST_METHOD_STANDARD
            record["createdByResourceID"] = actor
            record["createdTime"] = now
            record["impersonatorCreatorResourceID"] = impersonator
        errors: list[str] = []
        if "productBillingCodeID" in changed:
            errors += self._material_code(
                "productBillingCodeID", record.get("productBillingCodeID")
            )
        billing_type = record.get("billingType")
        if (
            billing_type is not None
            and billing_type != schema.BILLING_TYPE_STANDARD
            and record.get("periodType") != schema.PERIOD_TYPE_MONTHLY
        ):
            errors.append("periodType must be Monthly when billingType is not Standard.")
        if billing_type == schema.BILLING_TYPE_STANDARD and record.get("priceCostMethod") not in (
            None,
            schema.PRICE_COST_METHOD_STANDARD,
        ):
            errors.append("priceCostMethod must be Standard (Flat) when billingType is Standard.")
        return errors

    # -- metadata ------------------------------------------------------------------------------

    def field_infos(self, definition: EntityDef) -> list[dict[str, Any]]:
        """`entityInformation/fields`, generated from the schema (picklist values as strings);
        the tenant's own required fields are `isRequired`."""
        return [
            _field_info(f, f.required or self.settings.requires(definition.name, f.name))
            for f in definition.fields
        ]

    def udf_infos(self, definition: EntityDef) -> list[dict[str, Any]]:
        """`entityInformation/userDefinedFields`."""
        return [
            {
                "name": u.name,
                "label": u.name,
                "type": u.type,
                "length": u.length,
                "description": u.description,
                "isRequired": u.required or self.settings.requires(definition.name, u.name),
                "isReadOnly": False,
                "isQueryable": True,
                "isReference": False,
                "referenceEntityType": "",
                "isPickList": False,
                "picklistValues": None,
                "picklistParentValueField": "",
                "defaultValue": None,
                "isSupportedWebhookField": False,
            }
            for u in definition.udfs or ()
        ]

    @staticmethod
    def entity_info(definition: EntityDef) -> dict[str, Any]:
        """`entityInformation`'s `info` object."""

        def access(allowed: bool) -> str:
            return "All" if allowed else "None"

        return {
            "name": definition.name,
            "canCreate": definition.can_create,
            "canDelete": definition.can_delete,
            "canQuery": True,
            "canUpdate": definition.can_update,
            "userAccessForCreate": access(definition.can_create),
            "userAccessForDelete": access(definition.can_delete),
            "userAccessForQuery": access(True),
            "userAccessForUpdate": access(definition.can_update),
            "hasUserDefinedFields": definition.udfs is not None,
            "supportsWebhookCallouts": definition.name in ("Companies", "Contracts"),
        }


def _field_info(f: FieldDef, required: bool) -> dict[str, Any]:
    return {
        "name": f.name,
        "dataType": f.type,
        "length": f.length,
        "isRequired": required,
        "isReadOnly": f.read_only,
        "isQueryable": True,
        "isReference": bool(f.reference),
        "referenceEntityType": _singular(f.reference),
        "isPickList": f.is_picklist,
        "picklistValues": [
            {
                "value": str(p.value),
                "label": p.label,
                "isDefaultValue": p.default,
                "sortOrder": index,
                "parentValue": "",
                "isActive": p.active,
                "isSystem": p.system,
            }
            for index, p in enumerate(f.picklist, start=1)
        ]
        if f.picklist
        else None,
        "picklistParentValueField": "",
        "isSupportedWebhookField": False,
    }


def _singular(route: str) -> str:
    definition = schema.entity(route) if route else None
    return "" if definition is None else definition.internal


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _stored_day(text: str) -> date:
    """A kept day; data files of earlier sandboxes hold a UTC instant instead."""
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.date()


def _definition(name: str) -> EntityDef:
    definition = schema.entity(name)
    if definition is None:
        raise KeyError(name)
    return definition


def _body_id(body: object) -> int | None:
    if not isinstance(body, dict):
        return None
    for key, value in body.items():
        if str(key).casefold() == "id":
            try:
                result = coerce("long", value, "id")
            except ValueError:
                return None
            return result if isinstance(result, int) else None
    return None


def encode_token(data: dict[str, Any]) -> str:
    """An opaque paging cursor."""
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    padded = token + "=" * (-len(token) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error):
        raise ApiError.autotask("The paging parameter is not valid.") from None
    if not isinstance(data, dict):
        raise ApiError.autotask("The paging parameter is not valid.")
    return data

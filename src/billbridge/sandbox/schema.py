"""The sandbox's entities: fields, types, required and read-only flags, picklists, UDFs.

Field names and types follow Autotask's swagger models (its July 2022 copy, `ContractModel`,
...; see tests/sandbox/data/README.md), with the newer fields of the current swagger (Contracts
`lastModifiedDateTime`; Products `createdByResourceID`, `createdTime`). A conformance test
checks these tables against the swagger. Picklist ids are the sandbox's own where Autotask's
are not public; clients must resolve labels through the metadata, as they
must on a real tenant. `entityInformation/fields` is generated from these tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

#: Autotask's `dataType` strings (`entityInformation/fields`).
LONG, INTEGER, DOUBLE, STRING, BOOLEAN, DATETIME = (
    "long",
    "integer",
    "double",
    "string",
    "boolean",
    "datetime",
)


@dataclass(frozen=True, slots=True)
class Pick:
    """One picklist entry; `value` is an int on entities and a string in the metadata."""

    value: int
    label: str
    active: bool = True
    default: bool = False
    system: bool = False


@dataclass(frozen=True, slots=True)
class FieldDef:
    """One field of an entity."""

    name: str
    type: str
    required: bool = False
    read_only: bool = False
    length: int = 0
    picklist: tuple[Pick, ...] = ()
    reference: str = ""  # the referenced entity's route name, e.g. "Companies"
    #: A `datetime` on the wire whose UI shows a date only: the tenant keeps a calendar day.
    date_only: bool = False
    #: A cost: hidden (null, writes ignored) without the cost permission.
    cost: bool = False

    @property
    def is_picklist(self) -> bool:
        return bool(self.picklist)

    def pick(self, value: object) -> Pick | None:
        for entry in self.picklist:
            if entry.value == value:
                return entry
        return None


@dataclass(frozen=True, slots=True)
class UdfDef:
    """A user-defined field of an entity (values are strings on the wire)."""

    name: str
    description: str = ""
    type: str = STRING
    length: int = 100
    required: bool = False


@dataclass(frozen=True, slots=True)
class ParentDef:
    """How a child entity is written through its parent: `/Contracts/{id}/Charges`."""

    entity: str  # parent route name
    route: str  # child route segment
    field: str  # the child's field holding the parent id


@dataclass(frozen=True)
class EntityDef:
    """One entity the sandbox serves."""

    name: str  # route name, e.g. "ContractCharges"
    internal: str  # Autotask's internal name, used in its error texts, e.g. "ContractCost"
    fields: tuple[FieldDef, ...]
    id_start: int
    root_verbs: frozenset[str] = frozenset()  # verbs on /{Entity}: POST, PATCH, PUT
    udfs: tuple[UdfDef, ...] | None = None  # None: the model has no userDefinedFields
    parent: ParentDef | None = None
    by_name: dict[str, FieldDef] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name.casefold(): f for f in self.fields})

    def field(self, name: str) -> FieldDef | None:
        """The field called `name`, case-insensitively."""
        return self.by_name.get(name.casefold())

    def udf(self, name: str) -> UdfDef | None:
        folded = name.strip().casefold()
        for udf in self.udfs or ():
            if udf.name.casefold() == folded:
                return udf
        return None

    @property
    def can_create(self) -> bool:
        return "POST" in self.root_verbs or self.parent is not None

    @property
    def can_update(self) -> bool:
        return bool({"PATCH", "PUT"} & self.root_verbs) or self.parent is not None

    @property
    def can_delete(self) -> bool:
        return self.parent is not None


def _f(
    name: str,
    type_: str,
    *,
    req: bool = False,
    ro: bool = False,
    length: int = 0,
    picks: tuple[Pick, ...] = (),
    ref: str = "",
    date: bool = False,
    cost: bool = False,
) -> FieldDef:
    return FieldDef(name, type_, req, ro, length, picks, ref, date, cost)


def _picks(*entries: tuple[int, str] | Pick) -> tuple[Pick, ...]:
    return tuple(e if isinstance(e, Pick) else Pick(e[0], e[1]) for e in entries)


# -- picklists -------------------------------------------------------------------------------

COMPANY_TYPE = _picks(
    Pick(1, "Customer", default=True),
    (2, "Lead"),
    (3, "Prospect"),
    (4, "Dead"),
    (6, "Cancellation"),
    (7, "Vendor"),
    (8, "Partner"),
)
COMPANY_CLASSIFICATION = _picks((1, "Platinum"), (2, "Gold"), (3, "Silver"), (4, "Bronze"))
MARKET_SEGMENT = _picks((1, "Small Business"), (2, "Mid-Market"), (3, "Enterprise"))
TERRITORY = _picks((1, "North"), (2, "South"), (3, "East"), (4, "West"))
BILL_TO_ADDRESS = _picks((1, "Use Company Address"), (2, "Use Bill To Address"))

CONTRACT_TYPE = _picks(
    (1, "Time & Materials"),
    (3, "Fixed Price"),
    (4, "Block Hours"),
    (6, "Retainer"),
    Pick(7, "Recurring Service", default=True),
    (8, "Per Ticket"),
)
CONTRACT_STATUS = _picks((0, "Inactive"), Pick(1, "Active", default=True))
TIME_REPORTING = _picks(Pick(0, "No", default=True), (1, "Yes"))
BILLING_PREFERENCE = _picks(
    (1, "Manually"), Pick(2, "Immediately", default=True), (3, "Timesheet Approval")
)
CONTRACT_PERIOD_TYPE = _picks(
    Pick(1, "Monthly", default=True), (2, "Quarterly"), (3, "Semi-Annual"), (4, "Yearly")
)
CONTRACT_CATEGORY = _picks((1, "Standard"), (2, "Cloud Services"), Pick(3, "Legacy", active=False))
SERVICE_LEVEL_AGREEMENT = _picks((1, "Standard SLA"), (2, "Premium SLA"))

CHARGE_TYPE = _picks(Pick(1, "Operational", default=True), (2, "Capitalized"))
CHARGE_STATUS = _picks(
    Pick(1, "Need to Order/Fulfill", default=True),
    (2, "Ordered"),
    (3, "Back Ordered"),
    (4, "Shipped"),
    (5, "Delivered/Fulfilled"),
    (6, "Canceled"),
)

BILLING_TYPE_STANDARD = 1
PERIOD_TYPE_MONTHLY = 2
PRICE_COST_METHOD_STANDARD = 1
PRODUCT_BILLING_TYPE = _picks(
    Pick(BILLING_TYPE_STANDARD, "Standard", default=True),
    (2, "Per Contact"),
    (3, "Per Asset"),
)
PRODUCT_PERIOD_TYPE = _picks(
    (1, "One-Time"),
    (PERIOD_TYPE_MONTHLY, "Monthly"),
    (3, "Quarterly"),
    (4, "Semi-Annual"),
    (5, "Yearly"),
)
PRICE_COST_METHOD = _picks(
    Pick(PRICE_COST_METHOD_STANDARD, "Standard (Flat)", default=True), (2, "Volume"), (3, "Tiered")
)
PRODUCT_CATEGORY = _picks((1, "Software"), (2, "Cloud Subscriptions"), (3, "Hardware"))

USE_TYPE_MATERIAL = 2
BILLING_CODE_USE_TYPE = _picks(
    (1, "Work Type"),
    (USE_TYPE_MATERIAL, "Material"),
    (3, "Internal Time"),
    (4, "Expense Category"),
    (5, "Recurring Contract Service"),
    (6, "Milestone"),
)
BILLING_CODE_TYPE = _picks((0, "Normal"), (1, "System"), (2, "Non-Billable"))
LICENSE_TYPE = _picks((1, "Administrator"), (2, "Full"), Pick(7, "API User", system=True))

# -- entities --------------------------------------------------------------------------------

COMPANIES = EntityDef(
    name="Companies",
    internal="Account",
    id_start=10001,
    root_verbs=frozenset({"POST", "PATCH", "PUT"}),
    udfs=(UdfDef("Microsoft Tenant ID", "Customer's Microsoft Entra tenant id"),),
    fields=(
        _f("id", LONG, ro=True),
        _f("additionalAddressInformation", STRING, length=100),
        _f("address1", STRING, length=128),
        _f("address2", STRING, length=128),
        _f("alternatePhone1", STRING, length=25),
        _f("alternatePhone2", STRING, length=25),
        _f("apiVendorID", INTEGER, ro=True),
        _f("assetValue", DOUBLE),
        _f("billToCompanyLocationID", INTEGER),
        _f("billToAdditionalAddressInformation", STRING, length=100),
        _f("billingAddress1", STRING, length=150),
        _f("billingAddress2", STRING, length=150),
        _f("billToAddressToUse", INTEGER, picks=BILL_TO_ADDRESS),
        _f("billToAttention", STRING, length=50),
        _f("billToCity", STRING, length=50),
        _f("billToCountryID", INTEGER),
        _f("billToState", STRING, length=128),
        _f("billToZipCode", STRING, length=10),
        _f("city", STRING, length=30),
        _f("classification", INTEGER, picks=COMPANY_CLASSIFICATION),
        _f("companyCategoryID", INTEGER),
        _f("companyName", STRING, req=True, length=100),
        _f("companyNumber", STRING, length=50),
        _f("companyType", INTEGER, req=True, picks=COMPANY_TYPE),
        _f("competitorID", INTEGER),
        _f("countryID", INTEGER),
        _f("createDate", DATETIME, ro=True),
        _f("createdByResourceID", INTEGER, ro=True, ref="Resources"),
        _f("currencyID", INTEGER),
        _f("fax", STRING, length=25),
        _f("impersonatorCreatorResourceID", INTEGER, ro=True, ref="Resources"),
        _f("invoiceEmailMessageID", INTEGER),
        _f("invoiceMethod", INTEGER),
        _f("invoiceNonContractItemsToParentCompany", BOOLEAN),
        _f("invoiceTemplateID", INTEGER),
        _f("isActive", BOOLEAN),
        _f("isClientPortalActive", BOOLEAN, ro=True),
        _f("isEnabledForComanaged", BOOLEAN),
        _f("isSample", BOOLEAN, ro=True),
        _f("isTaskFireActive", BOOLEAN, ro=True),
        _f("isTaxExempt", BOOLEAN),
        _f("lastActivityDate", DATETIME, ro=True),
        _f("lastTrackedModifiedDateTime", DATETIME, ro=True),
        _f("marketSegmentID", INTEGER, picks=MARKET_SEGMENT),
        _f("ownerResourceID", INTEGER, req=True, ref="Resources"),
        _f("parentCompanyID", INTEGER, ref="Companies"),
        _f("phone", STRING, req=True, length=25),
        _f("postalCode", STRING, length=10),
        _f("purchaseOrderTemplateID", INTEGER),
        _f("quoteEmailMessageID", INTEGER),
        _f("quoteTemplateID", INTEGER),
        _f("sicCode", STRING, length=32),
        _f("state", STRING, length=25),
        _f("stockMarket", STRING, length=10),
        _f("stockSymbol", STRING, length=10),
        _f("surveyCompanyRating", DOUBLE, ro=True),
        _f("taxID", STRING, length=50),
        _f("taxRegionID", INTEGER),
        _f("territoryID", INTEGER, picks=TERRITORY),
        _f("webAddress", STRING, length=255),
    ),
)

CONTRACTS = EntityDef(
    name="Contracts",
    internal="Contract",
    id_start=29684001,
    root_verbs=frozenset({"POST", "PATCH", "PUT"}),
    udfs=(
        UdfDef("Subscription ID", "Microsoft subscription id (billbridge's key)"),
        UdfDef("Billing Notes", "Free text for the billing team", length=500),
    ),
    fields=(
        _f("id", LONG, ro=True),
        _f("billingPreference", INTEGER, picks=BILLING_PREFERENCE),
        _f("billToCompanyContactID", INTEGER),
        _f("billToCompanyID", INTEGER, ref="Companies"),
        _f("companyID", INTEGER, req=True, ref="Companies"),
        _f("contactID", INTEGER),
        _f("contactName", STRING, length=100),
        _f("contractCategory", INTEGER, picks=CONTRACT_CATEGORY),
        _f("contractExclusionSetID", INTEGER),
        _f("contractName", STRING, req=True, length=100),
        _f("contractNumber", STRING, length=50),
        _f("contractPeriodType", INTEGER, picks=CONTRACT_PERIOD_TYPE),
        _f("contractType", INTEGER, req=True, picks=CONTRACT_TYPE),
        _f("description", STRING, length=2000),
        _f("endDate", DATETIME, req=True, date=True),
        _f("estimatedCost", DOUBLE, cost=True),
        _f("estimatedHours", DOUBLE),
        _f("estimatedRevenue", DOUBLE),
        _f("exclusionContractID", LONG),
        _f("internalCurrencyOverageBillingRate", DOUBLE, ro=True),
        _f("internalCurrencySetupFee", DOUBLE, ro=True),
        _f("isCompliant", BOOLEAN, ro=True),
        _f("isDefaultContract", BOOLEAN),
        _f("lastModifiedDateTime", DATETIME, ro=True),
        _f("opportunityID", INTEGER),
        _f("organizationalLevelAssociationID", INTEGER),
        _f("overageBillingRate", DOUBLE),
        _f("purchaseOrderNumber", STRING, length=50),
        _f("renewedContractID", LONG, ref="Contracts"),
        _f("serviceLevelAgreementID", INTEGER, picks=SERVICE_LEVEL_AGREEMENT),
        _f("setupFee", DOUBLE),
        _f("setupFeeBillingCodeID", LONG, ref="BillingCodes"),
        _f("startDate", DATETIME, req=True, date=True),
        _f("status", INTEGER, req=True, picks=CONTRACT_STATUS),
        _f("timeReportingRequiresStartAndStopTimes", INTEGER, req=True, picks=TIME_REPORTING),
    ),
)

CONTRACT_CHARGES = EntityDef(
    name="ContractCharges",
    internal="ContractCost",
    id_start=29690001,
    parent=ParentDef(entity="Contracts", route="Charges", field="contractID"),
    fields=(
        _f("id", LONG, ro=True),
        _f("billableAmount", DOUBLE, ro=True),
        _f("billingCodeID", LONG, ref="BillingCodes"),
        _f("chargeType", INTEGER, req=True, picks=CHARGE_TYPE),
        _f("contractID", LONG, req=True, ref="Contracts"),
        _f("contractServiceBundleID", LONG),
        _f("contractServiceID", LONG),
        _f("createDate", DATETIME, ro=True),
        _f("creatorResourceID", LONG, ro=True, ref="Resources"),
        _f("datePurchased", DATETIME, req=True, date=True),
        _f("description", STRING, length=2000),
        _f("extendedCost", DOUBLE, ro=True, cost=True),
        _f("internalCurrencyBillableAmount", DOUBLE, ro=True),
        _f("internalCurrencyUnitPrice", DOUBLE, ro=True),
        _f("internalPurchaseOrderNumber", STRING, length=50),
        _f("isBillableToCompany", BOOLEAN),
        _f("isBilled", BOOLEAN, ro=True),
        _f("name", STRING, req=True, length=100),
        _f("notes", STRING, length=2000),
        _f("organizationalLevelAssociationID", INTEGER),
        _f("productID", LONG, ref="Products"),
        _f("purchaseOrderNumber", STRING, length=50),
        _f("status", LONG, picks=CHARGE_STATUS),
        _f("statusLastModifiedBy", LONG, ro=True, ref="Resources"),
        _f("statusLastModifiedDate", DATETIME, ro=True),
        _f("unitCost", DOUBLE, cost=True),
        _f("unitPrice", DOUBLE),
        _f("unitQuantity", DOUBLE, req=True),
    ),
)

PRODUCTS = EntityDef(
    name="Products",
    internal="Product",
    id_start=29700001,
    root_verbs=frozenset({"POST", "PATCH", "PUT"}),
    udfs=(UdfDef("Microsoft Offer ID", "Partner Center offer or meter id"),),
    fields=(
        _f("id", LONG, ro=True),
        _f("billingType", INTEGER, picks=PRODUCT_BILLING_TYPE),
        _f("chargeBillingCodeID", INTEGER, ref="BillingCodes"),
        _f("createdByResourceID", INTEGER, ro=True, ref="Resources"),
        _f("createdTime", DATETIME, ro=True),
        _f("defaultInstalledProductCategoryID", INTEGER),
        _f("defaultVendorID", INTEGER, ref="Companies"),
        _f("description", STRING, length=8000),
        _f("doesNotRequireProcurement", BOOLEAN),
        _f("externalProductID", STRING, length=50),
        _f("impersonatorCreatorResourceID", INTEGER, ro=True, ref="Resources"),
        _f("internalProductID", STRING, length=100),
        _f("isActive", BOOLEAN, req=True),
        _f("isEligibleForRma", BOOLEAN),
        _f("isSerialized", BOOLEAN, req=True),
        _f("link", STRING, length=500),
        _f("manufacturerName", STRING, length=100),
        _f("manufacturerProductName", STRING, length=100),
        _f("markupRate", DOUBLE),
        _f("msrp", DOUBLE),
        _f("name", STRING, req=True, length=100),
        _f("periodType", INTEGER, picks=PRODUCT_PERIOD_TYPE),
        _f("priceCostMethod", INTEGER, picks=PRICE_COST_METHOD),
        _f("productBillingCodeID", INTEGER, req=True, ref="BillingCodes"),
        _f("productCategory", INTEGER, picks=PRODUCT_CATEGORY),
        _f("sku", STRING, length=50),
        _f("unitCost", DOUBLE, cost=True),
        _f("unitPrice", DOUBLE),
        _f("vendorProductNumber", STRING, length=50),
    ),
)

BILLING_CODES = EntityDef(
    name="BillingCodes",
    internal="AllocationCode",
    id_start=29682801,
    fields=(
        _f("id", LONG, ro=True),
        _f("afterHoursWorkType", INTEGER, ro=True),
        _f("billingCodeType", INTEGER, ro=True, picks=BILLING_CODE_TYPE),
        _f("department", INTEGER, ro=True),
        _f("description", STRING, ro=True, length=500),
        _f("externalNumber", STRING, ro=True, length=100),
        _f("generalLedgerAccount", INTEGER, ro=True),
        _f("isActive", BOOLEAN, ro=True),
        _f("isExcludedFromNewContracts", BOOLEAN, ro=True),
        _f("markupRate", DOUBLE, ro=True),
        _f("name", STRING, ro=True, length=200),
        _f("taxCategoryID", INTEGER, ro=True),
        _f("unitCost", DOUBLE, ro=True, cost=True),
        _f("unitPrice", DOUBLE, ro=True),
        _f("useType", INTEGER, ro=True, picks=BILLING_CODE_USE_TYPE),
    ),
)

RESOURCES = EntityDef(
    name="Resources",
    internal="Resource",
    id_start=29682885,
    root_verbs=frozenset({"PATCH", "PUT"}),
    fields=(
        _f("id", LONG, ro=True),
        _f("accountingReferenceID", STRING, length=100),
        _f("dateFormat", STRING, length=20),
        _f("defaultServiceDeskRoleID", LONG),
        _f("email", STRING, req=True, length=254),
        _f("email2", STRING, length=254),
        _f("email3", STRING, length=254),
        _f("emailTypeCode", STRING, length=10),
        _f("emailTypeCode2", STRING, length=10),
        _f("emailTypeCode3", STRING, length=10),
        _f("firstName", STRING, req=True, length=50),
        _f("gender", STRING, length=1),
        _f("greeting", INTEGER),
        _f("hireDate", DATETIME, date=True),
        _f("homePhone", STRING, length=25),
        _f("initials", STRING, length=3),
        _f("internalCost", DOUBLE, cost=True),
        _f("isActive", BOOLEAN),
        _f("lastName", STRING, req=True, length=50),
        _f("licenseType", INTEGER, ro=True, picks=LICENSE_TYPE),
        _f("locationID", INTEGER),
        _f("middleName", STRING, length=50),
        _f("mobilePhone", STRING, length=25),
        _f("numberFormat", STRING, length=20),
        _f("officeExtension", STRING, length=10),
        _f("officePhone", STRING, length=25),
        _f("payrollType", INTEGER),
        _f("resourceType", STRING, ro=True, length=15),
        _f("suffix", INTEGER),
        _f("surveyResourceRating", DOUBLE, ro=True),
        _f("timeFormat", STRING, length=20),
        _f("title", STRING, length=50),
        _f("travelAvailabilityPct", STRING, length=15),
        _f("userName", STRING, ro=True, length=32),
        _f("userType", INTEGER, ro=True),
    ),
)

ENTITIES: Final[dict[str, EntityDef]] = {
    e.name.casefold(): e
    for e in (COMPANIES, CONTRACTS, CONTRACT_CHARGES, PRODUCTS, BILLING_CODES, RESOURCES)
}


def entity(name: str) -> EntityDef | None:
    """The entity served under route name `name` (case-insensitive)."""
    return ENTITIES.get(name.casefold())

"""What a new sandbox tenant holds before anyone writes to it.

Resources (an administrator and the API user), billing codes (material codes for Microsoft
licensing, Azure and Marketplace, one inactive material code, a work type and a recurring
service code), and company 0: the tenant's own organization, which every Autotask instance has
("your local organization", created with the instance, id 0). Other companies, contracts,
charges and products are created through the API, as on a real tenant. Picklists and UDF
definitions are part of the schema (`schema.py`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Final

USERNAME: Final = "api@sandbox.billbridge.test"
SECRET: Final = "sandbox"  # published: the sandbox is a local test tenant
INTEGRATION_CODE: Final = "BILLBRIDGE-SANDBOX"

ADMIN_RESOURCE_ID: Final = 29682885
API_RESOURCE_ID: Final = 29682886
OWN_COMPANY_ID: Final = 0
OWN_COMPANY_NAME: Final = "Sandbox MSP"

RESOURCES: Final[list[dict[str, Any]]] = [
    {
        "id": ADMIN_RESOURCE_ID,
        "firstName": "Sandbox",
        "lastName": "Administrator",
        "email": "admin@sandbox.billbridge.test",
        "userName": "admin@sandbox.billbridge.test",
        "isActive": True,
        "licenseType": 1,
        "resourceType": "Employee",
        "title": "Service Manager",
        "userType": 1,
    },
    {
        "id": API_RESOURCE_ID,
        "firstName": "billbridge",
        "lastName": "API User",
        "email": USERNAME,
        "userName": USERNAME,
        "isActive": True,
        "licenseType": 7,
        "resourceType": "Employee",
        "userType": 17,
    },
]


def _code(
    code_id: int,
    name: str,
    use_type: int,
    *,
    active: bool = True,
    price: str = "0",
    description: str = "",
) -> dict[str, Any]:
    return {
        "id": code_id,
        "name": name,
        "description": description or name,
        "useType": use_type,
        "billingCodeType": 0,
        "isActive": active,
        "isExcludedFromNewContracts": False,
        "markupRate": Decimal("0"),
        "unitCost": Decimal("0"),
        "unitPrice": Decimal(price),
        "externalNumber": f"GL-{code_id % 1000:03d}",
    }


BILLING_CODES: Final[list[dict[str, Any]]] = [
    _code(29682801, "Remote Support", 1, price="125", description="Work type: remote support"),
    _code(29682802, "Microsoft Licensing", 2, description="Microsoft 365 / CSP licences"),
    _code(29682803, "Azure Consumption", 2, description="Azure plan usage"),
    _code(29682804, "Marketplace Software", 2, description="Microsoft Marketplace offers"),
    _code(29682805, "Perpetual Software", 2, description="One-time software purchases"),
    _code(29682806, "Legacy Hardware", 2, active=False, description="Retired material code"),
    _code(29682807, "Managed Services", 5, description="Recurring contract service"),
    _code(29682808, "Internal Meetings", 3, description="Internal time"),
]


def own_company(now: datetime) -> dict[str, Any]:
    """Company 0, the MSP's own organization (it cannot be made inactive; what is billed to
    it never reaches Approve & Post)."""
    return {
        "id": OWN_COMPANY_ID,
        "companyName": OWN_COMPANY_NAME,
        "companyNumber": "0",
        "companyType": 1,
        "phone": "+1 555 0100",
        "ownerResourceID": ADMIN_RESOURCE_ID,
        "address1": "1 Sandbox Way",
        "city": "New York",
        "state": "NY",
        "postalCode": "10001",
        "isActive": True,
        "isClientPortalActive": False,
        "isSample": False,
        "isTaskFireActive": False,
        "billToAddressToUse": 1,
        "createDate": now,
        "createdByResourceID": ADMIN_RESOURCE_ID,
        "lastActivityDate": now,
        "lastTrackedModifiedDateTime": now,
    }


def seed_records(now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The seeded records per entity route name, as plain field -> value dicts."""
    resources = [
        {**r, "hireDate": now.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)}
        for r in RESOURCES
    ]
    return {"Resources": resources, "BillingCodes": [dict(c) for c in BILLING_CODES]}

"""Helpers of the sandbox tests: credentials, Autotask's swagger, an API wrapper."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from billbridge.sandbox import INTEGRATION_CODE, SECRET, USERNAME, RunningSandbox, SandboxRuntime

SWAGGER_GZ = Path(__file__).parent / "data" / "autotask-swagger-v1-2022.json.gz"
SWAGGER_SHA256 = "8ef2829c99f02179e52fe0180483cf911c57dad1817972a113bf31f053345720"
AUTH = {"ApiIntegrationCode": INTEGRATION_CODE, "UserName": USERNAME, "Secret": SECRET}
V1 = "/atservicesrest/v1.0"


def load_swagger() -> dict[str, Any]:
    """Autotask's 2022 swagger, checked byte for byte."""
    raw = gzip.decompress(SWAGGER_GZ.read_bytes())
    assert hashlib.sha256(raw).hexdigest() == SWAGGER_SHA256, "not Autotask's 2022 swagger"
    document = json.loads(raw)
    assert isinstance(document, dict)
    return document


def contract_fields(company: int, **fields: Any) -> dict[str, Any]:
    """A Recurring Service contract body that a strict tenant takes (noon-UTC dates)."""
    return {
        "companyID": company,
        "contractName": "Microsoft 365",
        "contractType": 7,
        "contractPeriodType": 1,
        "startDate": "2026-10-01T12:00:00Z",
        "endDate": "2027-09-30T12:00:00Z",
        "status": 1,
        "timeReportingRequiresStartAndStopTimes": 0,
        **fields,
    }


class Api:
    """A TestClient with the sandbox credentials and helpers to create records."""

    def __init__(self, client: httpx.Client, runtime: SandboxRuntime) -> None:
        self.client = client
        self.runtime = runtime
        self.sandbox: RunningSandbox | None = None  # set when served over a real socket

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        headers = {**AUTH, **kw.pop("headers", {})}
        return self.client.request(method, V1 + path, json=body, headers=headers, **kw)

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.call(method, path, body)
        assert response.status_code == 200, response.text
        return response.json()

    def errors(self, method: str, path: str, body: Any = None) -> list[str]:
        response = self.call(method, path, body)
        assert response.status_code == 500, response.text
        errors = response.json()["errors"]
        assert isinstance(errors, list)
        return errors

    def query(self, entity: str, *filters: dict[str, Any], **extra: Any) -> list[dict[str, Any]]:
        body = {"filter": list(filters) or [{"op": "gte", "field": "id", "value": 0}], **extra}
        items = self.ok("POST", f"/{entity}/query", body)["items"]
        assert isinstance(items, list)
        return items

    def first_id(self, entity: str, field: str, value: Any) -> int:
        return int(self.query(entity, {"op": "eq", "field": field, "value": value})[0]["id"])

    def resource_id(self) -> int:
        return self.first_id("Resources", "userName", USERNAME)

    def material_code(self, name: str = "Microsoft Licensing") -> int:
        return self.first_id("BillingCodes", "name", name)

    def company(self, name: str = "Contoso Ltd", **fields: Any) -> int:
        body = {
            "companyName": name,
            "companyType": 1,
            "phone": "+1 555 0100",
            "ownerResourceID": self.resource_id(),
            **fields,
        }
        return int(self.ok("POST", "/Companies", body)["itemId"])

    def contract(self, company_id: int, subscription: str = "sub-1", **fields: Any) -> int:
        body = {
            "companyID": company_id,
            "contractName": "Microsoft 365 Business Premium",
            "contractType": 7,
            "contractPeriodType": 1,
            "startDate": "2024-10-01T12:00:00Z",
            "endDate": "2025-09-30T12:00:00Z",
            "status": 1,
            "timeReportingRequiresStartAndStopTimes": 0,
            "userDefinedFields": [{"name": "Subscription ID", "value": subscription}],
            **fields,
        }
        return int(self.ok("POST", "/Contracts", body)["itemId"])

    def product(self, sku: str = "CFQ7TTC0LCHC", **fields: Any) -> int:
        body = {
            "name": "Microsoft 365 Business Premium",
            "sku": sku,
            "isActive": True,
            "isSerialized": False,
            "productBillingCodeID": self.material_code(),
            "unitCost": 18.7,
            "unitPrice": 22,
            **fields,
        }
        return int(self.ok("POST", "/Products", body)["itemId"])

    def charge(self, contract_id: int, product_id: int, **fields: Any) -> int:
        body = {
            "name": "Microsoft 365 Business Premium 2024-10",
            "datePurchased": "2024-10-01T12:00:00Z",
            "chargeType": 1,
            "unitQuantity": 12,
            "unitCost": "18.70",
            "unitPrice": "22.00",
            "productID": product_id,
            **fields,
        }
        return int(self.ok("POST", f"/Contracts/{contract_id}/Charges", body)["itemId"])


#: The `serve` fixture: start a real sandbox with these `SandboxOptions` fields.
Serve = Callable[..., Api]

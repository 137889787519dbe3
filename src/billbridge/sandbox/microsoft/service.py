"""Microsoft's billing endpoints as the emulator answers them, mounted at `/microsoft`.

- `POST /microsoft/login/{tenant}/oauth2/v2.0/token`: Entra ID client credentials (a token per
  scope: Graph's or Partner Center's, each refused by the other API);
- `GET /microsoft/partnercenter/v1/invoices`: Partner Center's invoice list, paged with
  `links.next` as in Microsoft's documented example;
- `POST /microsoft/graph/v1.0/reports/partners/billing/{reconciliation,usage}/billed/export`
  (and `usage/unbilled/export`): 202 with `Location` (the operation) and `Retry-After`;
- `GET .../billing/operations/{id}`: `notStarted`, `running`, then `succeeded` with
  `resourceLocation@odata.navigationLink` (or the manifest inline), or `failed` with code 5000
  "No data available";
- `GET .../billing/manifests/{id}`: the manifest (`schemaVersion`, `dataFormat`, `eTag`,
  `rootDirectory`, `sasToken`, `blobs`);
- `GET /microsoft/blob/{manifest}/{name}?{sasToken}`: the gzipped blob, 403 once its SAS expired.

Faults (`MicrosoftFaults`): throttling (429 with `Retry-After`), slow operations, "No data
available", expired SAS, a missing `PartnerBilling.Read.All` permission, the manifest variants.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from billbridge.sandbox.microsoft.billing import KINDS, BillingData, Kind

TENANT_ID = "0e195b37-4574-4539-bc42-0e539b9684c0"
CLIENT_ID = "7e6a1c1e-5bb5-4c1c-9a55-5a2d3b1e0001"
CLIENT_SECRET = "sandbox-partner-secret"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PARTNER_CENTER_SCOPE = "https://api.partnercenter.microsoft.com/.default"
PREFIX = "/microsoft"
_BILLING = "/graph/v1.0/reports/partners/billing"


@dataclass(frozen=True)
class MicrosoftFaults:
    """How the emulator misbehaves; `parse("throttle=3,slow=5,...")` for the CLI."""

    throttle_every: int = 0
    """Every Nth API request (Graph and Partner Center) is answered 429; 0: never."""
    retry_after_s: int = 1
    """Retry-After of a 429."""
    operation_s: float = 0.0
    """How long an export operation stays notStarted/running."""
    poll_after_s: int = 1
    """Retry-After of the 202 and of an operation still running."""
    no_data: bool = False
    """Every export fails with 5000 "No data available"."""
    sas_ttl_s: float = 3600.0
    inline_manifest: bool = False
    """The succeeded operation carries the manifest itself in `resourceLocation`."""
    schema_version: Literal["1", "2"] = "2"
    data_format: Literal["compressedJSONLines", "compressedJSON"] = "compressedJSONLines"
    deny_billing: bool = False
    """The app lacks the PartnerBilling.Read.All permission: Graph answers 403."""
    invoice_page_size: int = 100
    token_ttl_s: int = 3599
    broken_manifest: bool = False
    """The manifest's blobCount disagrees with its blobs."""
    broken_blob: str = ""
    """"gzip" (not gzip at all), "truncated" (cut in the middle), "json" (a broken line) or
    "empty" (each export lists one more blob, of no rows)."""
    completed: bool = False
    """A finished export's status is `completed` (as Graph's operation resource lists it)
    instead of `succeeded` (as Graph's examples show it)."""
    secret_expired: bool = False
    """The app's client secret has expired: the token endpoint answers AADSTS7000222."""
    array: bool = False
    """Each blob holds one JSON array of the rows instead of JSON lines (whatever the
    manifest's `dataFormat` says: `compressedJSON` is also seen naming JSON lines)."""
    notes: bool = False
    """The invoice list also holds what Microsoft's documented example shows besides invoices:
    a void note, a legacy (Recurring) invoice, and an adjustment note nested in the newest
    invoice's `amendments`; their exports have no data."""

    _NAMES: ClassVar[dict[str, str]] = {
        "throttle": "throttle_every",
        "retry_after": "retry_after_s",
        "slow": "operation_s",
        "poll_after": "poll_after_s",
        "no_data": "no_data",
        "sas_ttl": "sas_ttl_s",
        "inline": "inline_manifest",
        "schema": "schema_version",
        "format": "data_format",
        "deny": "deny_billing",
        "page": "invoice_page_size",
        "token_ttl": "token_ttl_s",
        "broken_manifest": "broken_manifest",
        "broken_blob": "broken_blob",
        "completed": "completed",
        "notes": "notes",
        "array": "array",
        "secret_expired": "secret_expired",
    }

    @classmethod
    def parse(cls, spec: str) -> MicrosoftFaults:
        """`throttle=3,retry_after=1,slow=5,no_data,sas_ttl=60,inline,schema=1,
        format=compressedJSON,deny,page=2`; ValueError names what is wrong."""
        values: dict[str, Any] = {}
        types = {f.name: f.type for f in fields(cls)}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, text = part.partition("=")
            attribute = cls._NAMES.get(name.strip())
            if attribute is None:
                raise ValueError(
                    f"unknown Microsoft fault {name!r}; known: {', '.join(cls._NAMES)}"
                )
            kind = str(types[attribute])
            try:
                if kind == "bool":
                    values[attribute] = text.strip().lower() not in ("0", "false", "no")
                elif kind == "int":
                    values[attribute] = int(text)
                elif kind == "float":
                    values[attribute] = float(text)
                else:
                    values[attribute] = text.strip()
            except ValueError:
                raise ValueError(f"Microsoft fault {name}: {text!r} is not a number") from None
        faults = cls(**values)
        if faults.schema_version not in ("1", "2"):
            raise ValueError("Microsoft fault schema: must be 1 or 2")
        if faults.data_format not in ("compressedJSONLines", "compressedJSON"):
            raise ValueError("Microsoft fault format: compressedJSONLines or compressedJSON")
        if faults.broken_blob not in ("", "gzip", "truncated", "json", "empty"):
            raise ValueError("Microsoft fault broken_blob: gzip, truncated, json or empty")
        if faults.invoice_page_size < 1:
            raise ValueError("Microsoft fault page: must be at least 1")
        return faults

    def __str__(self) -> str:
        default = MicrosoftFaults()
        changed = [
            f"{name}={getattr(self, attribute)}"
            for name, attribute in self._NAMES.items()
            if getattr(self, attribute) != getattr(default, attribute)
        ]
        return ",".join(changed) or "none"


@dataclass
class _Operation:
    id: str
    kind: Kind
    invoice_id: str | None
    started: float
    manifest_id: str | None = None


@dataclass
class _Manifest:
    id: str
    kind: Kind
    invoice_id: str
    created: datetime
    expires: datetime


@dataclass
class ExportCall:
    """One export the emulator started (for tests: a resumed pull starts none)."""

    kind: Kind
    invoice_id: str | None
    body: dict[str, Any] = field(default_factory=dict)


class MicrosoftEmulator:
    """State of the emulated Microsoft tenant: tokens, operations, manifests, faults."""

    def __init__(self, data: BillingData | None = None, faults: MicrosoftFaults | None = None):
        self.data = data or BillingData()
        self.faults = faults or MicrosoftFaults()
        self.exports: list[ExportCall] = []
        self.blob_downloads = 0
        self.token_requests = 0
        self.unbilled_invoice_id: str | None = None
        """The invoice whose usage the unbilled export serves as the current period."""
        self._tokens: dict[str, tuple[str, float]] = {}
        self._operations: dict[str, _Operation] = {}
        self._manifests: dict[str, _Manifest] = {}
        self._requests = 0
        self._key = secrets.token_bytes(16)
        self._lock = threading.Lock()

    # -- hooks for tests and the demo ---------------------------------------------------------

    def set_faults(self, **changes: Any) -> None:
        self.faults = replace(self.faults, **changes)

    def forget_operations(self) -> None:
        """Every operation and manifest is gone (as after Microsoft's retention, or a restart
        of the emulator, which keeps them in memory only)."""
        with self._lock:
            self._operations.clear()
            self._manifests.clear()

    def expire_sas(self) -> None:
        """Every SAS handed out so far expires now (as after a long pause)."""
        with self._lock:
            past = datetime.now(UTC) - timedelta(seconds=1)
            for manifest in self._manifests.values():
                manifest.expires = past

    def close(self) -> None:
        self.data.close()

    # -- the routes ---------------------------------------------------------------------------

    def app(self) -> Starlette:
        billing = _BILLING
        return Starlette(
            routes=[
                Route("/login/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
                Route("/partnercenter/v1/invoices", self._invoices, methods=["GET"]),
                Route(f"{billing}/{{what}}/{{state}}/export", self._export, methods=["POST"]),
                Route(f"{billing}/operations/{{id}}", self._operation, methods=["GET"]),
                Route(f"{billing}/manifests/{{id}}", self._manifest, methods=["GET"]),
                Route("/blob/{manifest}/{name}", self._blob, methods=["GET"]),
            ]
        )

    async def _token(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))

        def value(name: str) -> str:
            return (form.get(name) or [""])[0]

        self.token_requests += 1
        if request.path_params["tenant"] != TENANT_ID:
            return _aad_error(
                400,
                "invalid_request",
                f"AADSTS90002: Tenant '{request.path_params['tenant']}' not found.",
            )
        if value("grant_type") != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", "AADSTS70003: grant type unsupported")
        if value("client_id") != CLIENT_ID:
            return _aad_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{value('client_id')}' was not"
                f" found in the directory '{TENANT_ID}'.",
            )
        if not hmac.compare_digest(value("client_secret"), CLIENT_SECRET):
            return _aad_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in"
                " the request is the client secret value, not the client secret ID.",
            )
        if self.faults.secret_expired:
            return _aad_error(
                401,
                "invalid_client",
                f"AADSTS7000222: The provided client secret keys for app '{CLIENT_ID}' are"
                " expired. Visit the Azure portal to create new keys for your app:"
                " https://aka.ms/NewClientSecret, or consider using certificate credentials"
                " for added security: https://aka.ms/certCreds.",
            )
        scope = value("scope")
        if scope not in (GRAPH_SCOPE, PARTNER_CENTER_SCOPE):
            return _aad_error(
                400, "invalid_scope", f"AADSTS70011: The provided value '{scope}' is not valid."
            )
        token = secrets.token_urlsafe(24)
        ttl = self.faults.token_ttl_s
        with self._lock:
            self._tokens[token] = (scope, time.monotonic() + ttl)
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": ttl,
                "ext_expires_in": ttl,
                "access_token": token,
            }
        )

    def _check(self, request: Request, scope: str) -> Response | None:
        """401 without a valid token for this API, 429 when throttling says so; in Graph's
        error shape, or Partner Center's for its API."""
        error = _graph_error if scope == GRAPH_SCOPE else _partner_center_error
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        with self._lock:
            found = self._tokens.get(token)
            self._requests += 1
            count = self._requests
        if found is None or found[1] < time.monotonic():
            return error(
                401, "InvalidAuthenticationToken", "Access token is empty, invalid or expired."
            )
        if found[0] != scope:
            return error(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. Invalid audience.",
            )
        every = self.faults.throttle_every
        if every and count % every == 0:
            return error(
                429,
                "TooManyRequests",
                "Too many requests.",
                {"Retry-After": str(self.faults.retry_after_s)},
            )
        if scope == GRAPH_SCOPE and self.faults.deny_billing:
            return _graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        return None

    async def _invoices(self, request: Request) -> Response:
        refused = self._check(request, PARTNER_CENTER_SCOPE)
        if refused is not None:
            return refused
        try:
            size = int(request.query_params.get("size", "200"))
            offset = int(request.query_params.get("offset", "0"))
        except ValueError:
            return _partner_center_error(400, "BadRequest", "size and offset must be integers")
        if size < 1 or offset < 0:
            return _partner_center_error(
                400, "BadRequest", "size must be positive, offset not negative"
            )
        size = min(size, self.faults.invoice_page_size)
        listed = self._listed()
        page = listed[offset : offset + size]
        links: dict[str, Any] = {
            "self": {
                "uri": f"/invoices?size={size}&offset={offset}",
                "method": "GET",
                "headers": [],
            }
        }
        if offset + size < len(listed):
            links["next"] = {
                "uri": f"/invoices?size={size}&offset={offset + size}",
                "method": "GET",
                "headers": [],
            }
        return JSONResponse(
            {
                "totalCount": len(page),
                "items": page,
                "links": links,
                "attributes": {"objectType": "Collection"},
            }
        )

    def _listed(self) -> list[dict[str, Any]]:
        """The invoice list's items, newest first, with the `notes` fault's documents."""
        invoices = sorted(self.data.invoices.values(), key=lambda i: (i.date, i.id), reverse=True)
        items = [invoice.to_json() for invoice in invoices]
        if self.faults.notes and items:
            note = _note(items[0], NOTE_IDS["adjustment"], "adjustment_note")
            items[0]["amendments"] = [note | {"amendsOf": items[0]["id"]}]
            items.insert(1, _note(items[0], NOTE_IDS["void"], "void_note"))
            legacy = _note(items[0], NOTE_IDS["legacy"], "invoice")
            items.insert(2, legacy | {"invoiceType": "Recurring"})
        return items

    async def _export(self, request: Request) -> Response:
        refused = self._check(request, GRAPH_SCOPE)
        if refused is not None:
            return refused
        what, state = request.path_params["what"], request.path_params["state"]
        if what not in KINDS or state not in ("billed", "unbilled"):
            return _graph_error(404, "UnknownError", f"No such export: {what}/{state}")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            return _graph_error(
                415, "UnsupportedMediaType", "The Content-Type must be application/json."
            )
        try:
            body = await request.json()
        except ValueError:
            return _graph_error(400, "BadRequest", "The request body is not JSON.")
        if not isinstance(body, dict):
            return _graph_error(400, "BadRequest", "The request body must be an object.")
        allowed = _PARAMETERS[state]
        unknown = next((name for name in body if name not in allowed), None)
        if unknown is not None:
            return _graph_error(
                400,
                "BadRequest",
                f"The parameter '{unknown}' in the request payload is not a valid parameter"
                " for the operation 'export'.",
            )
        if body.get("attributeSet", "full") not in ("full", "basic"):
            return _graph_error(400, "BadRequest", "attributeSet must be full or basic.")
        invoice_id: str | None
        if state == "billed":
            invoice_id = body.get("invoiceId")
            if not isinstance(invoice_id, str) or not invoice_id:
                return _graph_error(400, "BadRequest", "invoiceId is required.")
        else:
            if body.get("billingPeriod") not in ("current", "last"):
                return _graph_error(400, "BadRequest", "billingPeriod must be current or last.")
            currency = body.get("currencyCode")
            if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
                return _graph_error(
                    400, "BadRequest", "currencyCode is required: an ISO 4217 code such as USD."
                )
            invoice_id = self.unbilled_invoice_id
        kind: Kind = "usage" if what == "usage" else "reconciliation"
        operation = _Operation(str(uuid.uuid4()), kind, invoice_id, time.monotonic())
        with self._lock:
            self._operations[operation.id] = operation
            self.exports.append(ExportCall(kind, invoice_id, body))
        origin = _origin(request)
        return Response(
            status_code=202,
            headers={
                "Location": f"{origin}{PREFIX}{_BILLING}/operations/{operation.id}",
                "Retry-After": str(self.faults.poll_after_s),
            },
        )

    async def _operation(self, request: Request) -> Response:
        refused = self._check(request, GRAPH_SCOPE)
        if refused is not None:
            return refused
        with self._lock:
            operation = self._operations.get(request.path_params["id"])
        if operation is None:
            return _graph_error(404, "NotFound", "The operation does not exist.")
        elapsed = time.monotonic() - operation.started
        created = datetime.now(UTC) - timedelta(seconds=elapsed)
        body: dict[str, Any] = {
            "id": operation.id,
            "createdDateTime": created.strftime("%Y-%m-%dT%H:%M:%S"),
            "lastActionDateTime": _iso(datetime.now(UTC)),
        }
        if elapsed < self.faults.operation_s:
            status = "notStarted" if elapsed < self.faults.operation_s / 4 else "running"
            body |= {"@odata.type": "#microsoft.graph.partners.billing.runningOperation"}
            body["status"] = status
            return JSONResponse(body, headers={"Retry-After": str(self.faults.poll_after_s)})
        invoice = self.data.invoices.get(operation.invoice_id or "")
        if self.faults.no_data or invoice is None or not invoice.blobs[operation.kind]:
            body |= {
                "@odata.type": "#microsoft.graph.partners.billing.failedOperation",
                "status": "failed",
                "error": {"message": "No data available", "code": "5000"},
            }
            return JSONResponse(body)
        with self._lock:
            if operation.manifest_id is None:
                now = datetime.now(UTC)
                manifest = _Manifest(
                    str(uuid.uuid4()),
                    operation.kind,
                    invoice.id,
                    now,
                    now + timedelta(seconds=self.faults.sas_ttl_s),
                )
                self._manifests[manifest.id] = manifest
                operation.manifest_id = manifest.id
            manifest = self._manifests[operation.manifest_id]
        body |= {
            "@odata.type": "#microsoft.graph.partners.billing.exportSuccessOperation",
            "status": "completed" if self.faults.completed else "succeeded",
        }
        origin = _origin(request)
        if self.faults.inline_manifest:
            body["resourceLocation"] = self._manifest_json(manifest, origin)
        else:
            body["resourceLocation@odata.navigationLink"] = (
                f"{origin}{PREFIX}{_BILLING}/manifests/{manifest.id}"
            )
        return JSONResponse(body)

    async def _manifest(self, request: Request) -> Response:
        refused = self._check(request, GRAPH_SCOPE)
        if refused is not None:
            return refused
        with self._lock:
            manifest = self._manifests.get(request.path_params["id"])
        if manifest is None:
            return _graph_error(404, "NotFound", "The manifest does not exist.")
        return JSONResponse(self._manifest_json(manifest, _origin(request)))

    def _manifest_json(self, manifest: _Manifest, origin: str) -> dict[str, Any]:
        invoice = self.data.invoices[manifest.invoice_id]
        names = [blob.name for blob in invoice.blobs[manifest.kind]]
        if self.faults.broken_blob == "empty":
            names.append(EMPTY_BLOB)
        return {
            "id": manifest.id,
            "schemaVersion": self.faults.schema_version,
            "dataFormat": self.faults.data_format,
            "createdDateTime": _iso(manifest.created),
            "eTag": invoice.etag(manifest.kind),
            "partnerTenantId": TENANT_ID,
            "rootDirectory": f"{origin}{PREFIX}/blob/{manifest.id}",
            "sasToken": self._sas(manifest),
            "partitionType": "Default",
            "blobCount": len(names) + (1 if self.faults.broken_manifest else 0),
            "blobs": [{"name": name, "partitionValue": "default"} for name in names],
        }

    def _sas(self, manifest: _Manifest) -> str:
        """Percent-encoded as Microsoft's manifest example writes it (`se=...T12%3A37%3A17Z`,
        a base64 `sig` with `%2F` and `%3D`): the client must pass it on as it is."""
        expiry = manifest.expires.strftime("%Y-%m-%dT%H:%M:%SZ")
        signature = self._signature(manifest.id, expiry)
        return (
            f"sv=2023-11-03&se={quote(expiry, safe='')}&sr=c&sp=rl&sig={quote(signature, safe='')}"
        )

    def _signature(self, manifest_id: str, expiry: str) -> str:
        digest = hmac.new(self._key, f"{manifest_id}\n{expiry}".encode(), hashlib.sha256)
        return base64.b64encode(digest.digest()).decode("ascii")

    async def _blob(self, request: Request) -> Response:
        with self._lock:
            manifest = self._manifests.get(request.path_params["manifest"])
        if manifest is None:
            return _blob_error(404, "ResourceNotFound", "The specified resource does not exist.")
        query = request.query_params
        expected = self._signature(manifest.id, query.get("se", ""))
        if not hmac.compare_digest(query.get("sig", ""), expected):
            return _blob_error(
                403,
                "AuthenticationFailed",
                "Server failed to authenticate the request. Make sure the value of"
                " Authorization header is formed correctly including the signature.",
            )
        now = datetime.now(UTC)
        if manifest.expires <= now:
            return _blob_error(
                403,
                "AuthenticationFailed",
                "Server failed to authenticate the request.",
                f"Signed expiry time [{format_datetime(manifest.expires, usegmt=True)}] must be"
                f" after signed start time [{format_datetime(now, usegmt=True)}]",
            )
        if self.faults.broken_blob == "empty" and request.path_params["name"] == EMPTY_BLOB:
            self.blob_downloads += 1
            return Response(gzip.compress(b"", mtime=0))
        blobs = self.data.invoices[manifest.invoice_id].blobs[manifest.kind]
        blob = next((b for b in blobs if b.name == request.path_params["name"]), None)
        if blob is None:
            return _blob_error(404, "BlobNotFound", "The specified blob does not exist.")
        self.blob_downloads += 1
        broken = self.faults.broken_blob
        if broken in ("gzip", "truncated", "json") or self.faults.array:
            return Response(_blob_bytes(blob.path, broken))
        return FileResponse(blob.path, media_type="application/octet-stream")


_PARAMETERS = {
    "billed": frozenset({"invoiceId", "attributeSet"}),
    "unbilled": frozenset({"billingPeriod", "currencyCode", "attributeSet"}),
}
"""The parameters each export action documents; any other is refused, as Graph refuses a
parameter an OData action does not declare."""
_CURRENCY = re.compile(r"[A-Z]{3}")

NOTE_IDS = {"adjustment": "G009990002", "void": "G009990001", "legacy": "D0200999XY"}
"""The ids of the documents the `notes` fault lists."""


def _note(invoice: dict[str, Any], note_id: str, document_type: str) -> dict[str, Any]:
    """A document of the invoice's date and currency, shaped as Microsoft's example shows."""
    return {
        "id": note_id,
        "invoiceDate": invoice["invoiceDate"],
        "totalCharges": 107661.12,
        "paidAmount": 0,
        "currencyCode": invoice["currencyCode"],
        "currencySymbol": invoice["currencySymbol"],
        "invoiceDetails": [
            {
                "invoiceLineItemType": "billing_line_items",
                "billingProvider": "one_time",
                "attributes": {"objectType": "InvoiceDetail"},
            }
        ],
        "documentType": document_type,
        "invoiceType": "OneTime",
        "attributes": {"objectType": "Invoice"},
    }


EMPTY_BLOB = "part-99999-00000000-0000-4000-8000-000000000000.c000.json.gz"
"""The blob of no rows the `empty` fault adds to every export."""


def _blob_bytes(path: Path, broken: str) -> bytes:
    """A blob as a fault or the `array` variant (one JSON array) asks."""
    packed = path.read_bytes()
    if broken == "gzip":
        return b"this is not gzip" + packed[:100]
    if broken == "truncated":
        return packed[: max(len(packed) // 2, 20)]
    lines = gzip.decompress(packed).decode("utf-8").splitlines()
    if broken == "json":  # the second line is cut short
        lines.insert(1, '{"PartnerId": "x", "CustomerId": ')
        return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"))
    return gzip.compress(("[\n" + ",\n".join(lines) + "\n]\n").encode("utf-8"))


def _origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _aad_error(status: int, error: str, description: str) -> Response:
    return JSONResponse(
        {
            "error": error,
            "error_description": description,
            "error_codes": [int(description[6:].split(":")[0])] if description[6:7] else [],
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ"),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
        status_code=status,
    )


def _graph_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(
        {
            "error": {
                "code": code,
                "message": message,
                "innerError": {"date": _iso(datetime.now(UTC)), "request-id": str(uuid.uuid4())},
            }
        },
        status_code=status,
        headers=headers,
    )


_PARTNER_CENTER_CODES = {"InvalidAuthenticationToken": 1002, "TooManyRequests": 429}
"""Partner Center's numeric codes for the emulator's errors: 1002 "Authorization Failed" as
the Partner Center PowerShell module reports a refused call; the others are its own."""


def _partner_center_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    """As Partner Center's REST API writes an error ("Partner Center REST error codes":
    `code` and `description` always, with `data` and `source`)."""
    return JSONResponse(
        {
            "code": _PARTNER_CENTER_CODES.get(code, status),
            "description": message,
            "data": [],
            "source": "PartnerFD",
        },
        status_code=status,
        headers=headers,
    )


def _blob_error(status: int, code: str, message: str, detail: str | None = None) -> Response:
    extra = f"<AuthenticationErrorDetail>{detail}</AuthenticationErrorDetail>" if detail else ""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}\nRequestId:{uuid.uuid4()}\n"
        f"Time:{_iso(datetime.now(UTC))}</Message>{extra}</Error>"
    )
    return Response(body, status_code=status, media_type="application/xml")

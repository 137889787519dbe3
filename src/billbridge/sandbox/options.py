"""How a sandbox is started: address, data file, latency, faults, limits, tenant settings.

The defaults are a typical US tenant as strict as Autotask is known to be (docs/sandbox.md):
Eastern time, date-only fields read in the tenant's zone, no Procurement module, cost fields
visible, unit prices and quantities kept at 4 decimals, no UDF key on records without UDF
values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billbridge.sandbox.faults import FaultSpec
from billbridge.sandbox.microsoft.service import MicrosoftFaults
from billbridge.sandbox.schema import entity
from billbridge.sandbox.seed import INTEGRATION_CODE, SECRET, USERNAME
from billbridge.sandbox.settings import DateReading, TenantSettings

__all__ = ["INTEGRATION_CODE", "SECRET", "USERNAME", "DateReading", "SandboxOptions"]

MAX_PRECISION = 10


@dataclass(frozen=True)
class SandboxOptions:
    """Options of one sandbox server."""

    host: str = "127.0.0.1"
    port: int = 8765  # 0: any free port
    data: Path | None = None  # SQLite file keeping the tenant; None: in memory
    latency_ms: int = 0  # each answer leaves this long after its request arrived
    faults: FaultSpec | None = None
    #: Requests per hour before 429 (Autotask: 10,000 per tenant).
    request_threshold: int = 10_000
    #: The rolling window of `request_threshold`, in minutes (Autotask: 60).
    request_timeframe_minutes: int = 60
    #: Concurrent requests per (integration code, endpoint) (Autotask: 3).
    thread_limit: int = 3
    #: "autotask": wrong secret 401, unknown user or integration code 500 with errors
    #: (see docs/sandbox.md); "401": every credential failure an empty 401.
    auth_errors: Literal["autotask", "401"] = "autotask"
    #: The tenant's time zone (IANA name), in which "convert" reads date-only fields.
    timezone: str = "America/New_York"
    #: Date-only fields (Contracts startDate/endDate, ContractCharges datePurchased):
    #: "convert" moves the instant sent to `timezone` and keeps its calendar date;
    #: "keep" keeps the calendar date of the instant in UTC.
    date_reading: DateReading = "convert"
    #: More required fields, as a tenant may set them: "Entity.field" (a field or UDF name),
    #: e.g. "Contracts.contractCategory".
    required_fields: tuple[str, ...] = ()
    #: False (Autotask): a record without any UDF value has no `userDefinedFields` key.
    keep_empty_udfs: bool = False
    #: The Procurement module: charges of products that need procurement wait in fulfilment.
    procurement: bool = False
    #: False: the API user may not see costs; cost fields read null, writes are ignored.
    cost_permission: bool = True
    #: Decimals kept of unit prices, unit costs and quantities (rounded half away from zero).
    precision: int = 4
    # --- microsoft emulator (P) ---
    #: Partner Center billing files the Microsoft emulator serves (at /microsoft).
    partner_center: tuple[Path, ...] = ()
    #: Its faults (`billbridge.sandbox.microsoft.MicrosoftFaults`); None: none.
    microsoft_faults: MicrosoftFaults | None = None
    #: Rows per blob of its exports (Microsoft splits a big export into many blobs).
    blob_rows: int = 250_000
    #: The invoice whose usage its unbilled usage export serves as the current period (None:
    #: that export answers "No data available").
    unbilled_invoice: str | None = None
    # --- end microsoft emulator ---

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be 0..65535")
        if self.blob_rows < 1:
            raise ValueError("blob_rows must be >= 1")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if min(self.request_threshold, self.request_timeframe_minutes, self.thread_limit) < 1:
            raise ValueError(
                "request_threshold, request_timeframe_minutes and thread_limit must be positive"
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        if self.date_reading not in ("convert", "keep"):
            raise ValueError("date_reading must be 'convert' or 'keep'")
        if not 0 <= self.precision <= MAX_PRECISION:
            raise ValueError(f"precision must be 0..{MAX_PRECISION}")
        for spec in self.required_fields:
            parse_required(spec)

    def tenant_settings(self) -> TenantSettings:
        """The tenant-side settings among these options."""
        return TenantSettings(
            timezone=self.timezone,
            date_reading=self.date_reading,
            required=frozenset(parse_required(spec) for spec in self.required_fields),
            keep_empty_udfs=self.keep_empty_udfs,
            procurement=self.procurement,
            cost_permission=self.cost_permission,
            precision=self.precision,
        )


def parse_required(spec: str) -> tuple[str, str]:
    """`"Contracts.contractCategory"` -> ("Contracts", "contractCategory"), names as the schema
    spells them; ValueError naming what is unknown."""
    entity_name, sep, field_name = spec.strip().partition(".")
    if not sep or not entity_name.strip() or not field_name.strip():
        raise ValueError(f"{spec!r}: expected ENTITY.FIELD, e.g. Contracts.contractCategory")
    definition = entity(entity_name.strip())
    if definition is None:
        raise ValueError(f"{spec!r}: the sandbox serves no entity {entity_name.strip()!r}")
    found = definition.field(field_name.strip())
    if found is not None:
        if found.read_only:
            raise ValueError(f"{spec!r}: {found.name} is read-only")
        return definition.name, found.name
    udf = definition.udf(field_name)
    if udf is not None:
        return definition.name, udf.name
    raise ValueError(f"{spec!r}: {definition.name} has no field {field_name.strip()!r}")

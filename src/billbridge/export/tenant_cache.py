"""The tenant's metadata kept in the state store between exports, and when it may be used.

Reading a tenant's metadata costs 10 requests (the fields of four entities, two UDF lists, the
billing code and two cost samples); an unchanged re-export needs only the reads by key. So the
metadata of the last read is kept, and used under three rules:

- **Only for runs that write nothing.** A run whose plan writes reads the metadata again before
  its first write (`ExportEngine`), so the required-field and picklist checks before a write
  always hold on metadata read in that run, as fresh as without a cache. The cache can only
  let a plan, or an export that finds nothing to write, skip the reading.
- **For an hour** (`MAX_AGE`). What stale metadata can do to such a run is hide a write a
  change in the tenant calls for (a cost permission granted since, so cost updates become
  possible); an hour bounds that, and still serves a person who re-checks or re-runs an
  export in the same sitting. Nothing is written on the cache's word, so the bound is about
  how current a report is, not about safety.
- **Never after a failed write.** A write that failed, or whose outcome is unknown, after the
  metadata was read (Autotask rejected a field, a picklist value, a missing required field)
  makes the entry stale; `doctor --tenant` reads the tenant and replaces the entry.

The key is the tenant (zone lookup URL and API user) and the billing code setting, so another
tenant or another billing code never sees this one's entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from billbridge.autotask import AutotaskClient, FieldInfo, PicklistValue, UdfInfo
from billbridge.config import Settings
from billbridge.export.tenant import (
    TenantContext,
    TenantMetadata,
    TenantMisfitError,
    billing_code_setting,
    context_from,
    read_metadata,
)
from billbridge.store import Store

MAX_AGE = timedelta(hours=1)
_FORMAT = 1
"""Bumped when the stored shape changes: an entry of another format is read again."""


def cache_key(client: AutotaskClient, billing_code: str) -> str:
    config = client.config
    text = "\n".join((config.zone_lookup_url, config.username.casefold(), billing_code.strip()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load(
    store: Store, key: str, *, max_age: timedelta = MAX_AGE
) -> tuple[TenantMetadata, datetime] | None:
    """The cached metadata and when it was read, or None when there is none fit to use."""
    with store.transaction() as uow:
        cached = uow.tenant_metadata.get(key)
    if cached is None or cached.failed_since:
        return None
    age = store.clock() - cached.read_at
    if age > max_age or age < -max_age:  # a clock set back is no proof of freshness
        return None
    try:
        return decode(cached.body), cached.read_at
    except (KeyError, TypeError, ValueError):
        return None


def save(store: Store, key: str, meta: TenantMetadata) -> None:
    with store.transaction() as uow:
        uow.tenant_metadata.put(key, encode(meta))


def forget(store: Store) -> None:
    """Drop every cached entry: the next export reads the tenant again."""
    with store.transaction() as uow:
        uow.tenant_metadata.forget()


def encode(meta: TenantMetadata) -> str:
    body = {
        "format": _FORMAT,
        "fields": {
            entity: [asdict(f) for f in meta.fields_of(entity).values()]
            for entity in ("Contracts", "ContractCharges", "Products")
        }
        | {"BillingCodes": [asdict(f) for f in meta.billing_code_fields.values()]},
        "udfs": {
            "Contracts": [asdict(u) for u in meta.contract_udfs],
            "Products": [asdict(u) for u in meta.product_udfs],
        },
        "billing_codes": [_plain(code) for code in meta.billing_codes],
        "product_sample": [_cost_only(r) for r in meta.product_sample],
        "charge_sample": [_cost_only(r) for r in meta.charge_sample],
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def decode(text: str) -> TenantMetadata:
    body = json.loads(text)
    if body.get("format") != _FORMAT:
        raise ValueError("another format")
    fields = body["fields"]
    udfs = body["udfs"]
    return TenantMetadata(
        contract_fields=_fields(fields["Contracts"]),
        charge_fields=_fields(fields["ContractCharges"]),
        product_fields=_fields(fields["Products"]),
        billing_code_fields=_fields(fields["BillingCodes"]),
        contract_udfs=[_udf(u) for u in udfs["Contracts"]],
        product_udfs=[_udf(u) for u in udfs["Products"]],
        billing_codes=list(body["billing_codes"]),
        product_sample=list(body["product_sample"]),
        charge_sample=list(body["charge_sample"]),
    )


def _fields(entries: Sequence[Mapping[str, Any]]) -> dict[str, FieldInfo]:
    found = {}
    for entry in entries:
        values = tuple(PicklistValue(**v) for v in entry["picklist_values"])
        info = FieldInfo(**{**entry, "picklist_values": values})
        found[info.name] = info
    return found


def _udf(entry: Mapping[str, Any]) -> UdfInfo:
    values = tuple(PicklistValue(**v) for v in entry["picklist_values"])
    return UdfInfo(**{**entry, "picklist_values": values})


def _plain(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record as JSON keeps it: exact numbers as text (no float on the way)."""
    plain: dict[str, Any] = json.loads(json.dumps(record, default=str))
    return plain


def _cost_only(record: Mapping[str, Any]) -> dict[str, Any]:
    """What the cost evidence reads of a sampled record: its unit cost, exactly."""
    for key, value in record.items():
        if key.lower() == "unitcost":
            return {"unitCost": None if value is None else str(value)}
    return {}


def resolve_tenant_cached(
    client: AutotaskClient, settings: Settings, store: Store, *, fresh: bool = False
) -> TenantContext:
    """`resolve_tenant`, from the cached metadata when it is fit to use (and `fresh` is not
    asked for); a fresh reading replaces the entry. A misfit found on cached metadata is
    checked again on a fresh reading: the tenant may have been fixed since."""
    code = billing_code_setting(settings)
    key = cache_key(client, code)
    found = None if fresh else load(store, key)
    if found is not None:
        meta, read_at = found
        try:
            return replace(context_from(meta, settings), cached_at=read_at)
        except TenantMisfitError:
            pass
    meta = read_metadata(client, code)
    tenant = context_from(meta, settings)
    save(store, key, meta)
    return tenant

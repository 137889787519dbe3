"""The tenant's metadata as an export last read it (fields, UDFs, billing code), by tenant.

An opaque JSON body per key: the export layer decides what it holds and when it is too old.
What the store adds is the moment it was read and the journal's last operation then, so that
a write that failed afterwards (rejected for a field, a picklist value) makes it stale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from billbridge.store.runs import JournalState
from billbridge.store.schema import run_operations, tenant_metadata

#: Journal states of a write that did not go through.
_NOT_DONE = (JournalState.FAILED.value, JournalState.UNKNOWN.value)


@dataclass(frozen=True, slots=True)
class CachedMetadata:
    body: str
    read_at: datetime
    failed_since: bool
    """A write has failed (or its outcome is unknown) since the metadata was read."""


class TenantMetadataRepository:
    def __init__(self, connection: Connection, clock: Callable[[], datetime]) -> None:
        self._db = connection
        self._clock = clock

    def get(self, key: str) -> CachedMetadata | None:
        row = self._db.execute(select(tenant_metadata).where(tenant_metadata.c.key == key)).first()
        if row is None:
            return None
        failed = self._db.execute(
            select(run_operations.c.id)
            .where(
                run_operations.c.id > row.last_operation_id,
                run_operations.c.state.in_(_NOT_DONE),
            )
            .limit(1)
        ).first()
        return CachedMetadata(row.body, row.read_at, failed is not None)

    def put(self, key: str, body: str, read_at: datetime | None = None) -> None:
        last = self._db.execute(select(func.max(run_operations.c.id))).scalar() or 0
        self._db.execute(delete(tenant_metadata).where(tenant_metadata.c.key == key))
        self._db.execute(
            insert(tenant_metadata).values(
                key=key, body=body, read_at=read_at or self._clock(), last_operation_id=last
            )
        )

    def forget(self, key: str | None = None) -> None:
        """Drop the entry of `key` (every entry when None)."""
        statement = delete(tenant_metadata)
        if key is not None:
            statement = statement.where(tenant_metadata.c.key == key)
        self._db.execute(statement)

"""Organizations and their company links."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from billbridge.domain.organization import Organization
from billbridge.store.batches import distinct_chunks
from billbridge.store.counts import ChangeCounts
from billbridge.store.schema import organizations as table


class OrganizationRepository:
    def __init__(self, connection: Connection, clock: Callable[[], datetime]) -> None:
        self._db = connection
        self._clock = clock

    def get(self, organization_id: str) -> Organization | None:
        row = self._db.execute(
            select(table).where(table.c.organization_id == organization_id)
        ).one_or_none()
        return None if row is None else _to_domain(row._mapping)

    def get_many(self, organization_ids: Iterable[str]) -> dict[str, Organization]:
        found: dict[str, Organization] = {}
        for chunk in distinct_chunks(organization_ids):
            for row in self._db.execute(select(table).where(table.c.organization_id.in_(chunk))):
                organization = _to_domain(row._mapping)
                found[organization.organization_id] = organization
        return found

    def all(self) -> list[Organization]:
        rows = self._db.execute(select(table).order_by(table.c.name, table.c.organization_id))
        return [_to_domain(row._mapping) for row in rows]

    def upsert(self, incoming: Iterable[Organization], *, keep_links: bool) -> ChangeCounts:
        """Create or update organizations.

        With `keep_links`, an existing organization keeps its company link and active flag
        (sources such as Partner Center know names, not links). Without it, a blank company id
        still keeps an existing link: a link made in billbridge is never lost to a file that
        does not carry one; `link()` removes links.
        """
        incoming = list(incoming)
        existing = self.get_many(o.organization_id for o in incoming)
        counts = ChangeCounts()
        now = self._clock()
        for organization in incoming:
            current = existing.get(organization.organization_id)
            if current is None:
                self._db.execute(insert(table).values(**_to_row(organization), updated_at=now))
                counts.created += 1
                continue
            merged = organization
            if keep_links:
                merged = organization.linked_to(current.autotask_company_id)
                merged = Organization(
                    merged.organization_id,
                    merged.name,
                    merged.domain or current.domain,
                    merged.autotask_company_id,
                    current.active,
                )
            elif organization.autotask_company_id is None:
                merged = organization.linked_to(current.autotask_company_id)
            if merged == current:
                counts.unchanged += 1
                continue
            self._db.execute(
                update(table)
                .where(table.c.organization_id == merged.organization_id)
                .values(**_to_row(merged), updated_at=now)
            )
            counts.updated += 1
        return counts

    def link(self, organization_id: str, company_id: int | None) -> bool:
        """Link (or with None, unlink) an organization; False if there is no such organization."""
        result = self._db.execute(
            update(table)
            .where(table.c.organization_id == organization_id)
            .values(autotask_company_id=company_id, updated_at=self._clock())
        )
        return result.rowcount > 0


def _to_row(organization: Organization) -> dict[str, Any]:
    return {
        "organization_id": organization.organization_id,
        "name": organization.name,
        "domain": organization.domain,
        "autotask_company_id": organization.autotask_company_id,
        "active": organization.active,
    }


def _to_domain(row: Any) -> Organization:
    return Organization(
        organization_id=row["organization_id"],
        name=row["name"],
        domain=row["domain"],
        autotask_company_id=row["autotask_company_id"],
        active=row["active"],
    )

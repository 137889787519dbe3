"""Needs-attention items a person marked resolved, and the conflicts of the latest runs.

A resolution is kept per item with a fingerprint of what the item said: when a later run
reports the same key with other amounts, the fingerprint differs and the item is open again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from billbridge.store.batches import distinct_chunks
from billbridge.store.schema import attention_resolutions, run_operations, run_reports

NOTE_LIMIT = 2000
NAME_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Resolution:
    item_key: str
    fingerprint: str
    note: str
    resolved_by: str
    resolved_at: datetime


@dataclass(frozen=True, slots=True)
class StoredConflict:
    """A conflict operation of the latest run of its report."""

    run_id: int
    report_id: str
    entity: str
    key: str
    autotask_id: int | None
    reason: str | None
    changes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LatestReportRun:
    run_id: int
    report_id: str
    organization_id: str
    status: str
    reason: str | None


class ResolutionRepository:
    def __init__(self, connection: Connection) -> None:
        self._db = connection

    def all(self) -> dict[str, Resolution]:
        return {
            row.item_key: Resolution(
                row.item_key, row.fingerprint, row.note, row.resolved_by, row.resolved_at
            )
            for row in self._db.execute(select(attention_resolutions))
        }

    def resolve(
        self, item_key: str, fingerprint: str, note: str, resolved_by: str, at: datetime
    ) -> Resolution:
        """Mark an item resolved (again, replacing an earlier resolution of the same key)."""
        note = note.strip()[:NOTE_LIMIT]
        resolved_by = resolved_by.strip()[:NAME_LIMIT]
        self._db.execute(
            delete(attention_resolutions).where(attention_resolutions.c.item_key == item_key)
        )
        self._db.execute(
            insert(attention_resolutions).values(
                item_key=item_key,
                fingerprint=fingerprint,
                note=note,
                resolved_by=resolved_by,
                resolved_at=at,
            )
        )
        return Resolution(item_key, fingerprint, note, resolved_by, at)

    def reopen(self, item_key: str) -> bool:
        result = self._db.execute(
            delete(attention_resolutions).where(attention_resolutions.c.item_key == item_key)
        )
        return bool(result.rowcount)

    def latest_report_runs(self) -> list[LatestReportRun]:
        """Each report's latest run: its status and reason (Autotask's text when it failed)."""
        latest = (
            select(run_reports.c.report_id, func.max(run_reports.c.run_id).label("run_id"))
            .group_by(run_reports.c.report_id)
            .subquery()
        )
        query = select(run_reports).join(
            latest,
            (latest.c.report_id == run_reports.c.report_id)
            & (latest.c.run_id == run_reports.c.run_id),
        )
        return [
            LatestReportRun(r.run_id, r.report_id, r.organization_id, r.status, r.reason)
            for r in self._db.execute(query.order_by(run_reports.c.report_id))
        ]

    def conflicts(self, latest: Iterable[LatestReportRun]) -> list[StoredConflict]:
        """The conflict operations of the given runs of their reports."""
        wanted = {(r.run_id, r.report_id) for r in latest}
        found: list[StoredConflict] = []
        for chunk in distinct_chunks(sorted({run for run, _ in wanted})):
            query = (
                select(run_operations)
                .where(run_operations.c.run_id.in_(chunk))
                .where(run_operations.c.action == "conflict")
                .order_by(run_operations.c.run_id, run_operations.c.position)
            )
            for row in self._db.execute(query):
                if (row.run_id, row.report_id) in wanted:
                    found.append(
                        StoredConflict(
                            row.run_id,
                            row.report_id,
                            row.entity,
                            row.key,
                            row.autotask_id,
                            row.reason,
                            json.loads(row.changes),
                        )
                    )
        return found

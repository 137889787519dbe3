"""What was exported: the content each report was last exported in full, and the key map.

The key map (natural key -> Autotask id) is a cache of what Autotask holds, for links and
drill-down; exports always find records in Autotask by their keys, so losing it (or the whole
store) never causes a duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from billbridge.store.batches import distinct_chunks
from billbridge.store.schema import installation, key_map, report_exports

_FORGET_KEY = delete(key_map).where(
    and_(key_map.c.entity == bindparam("e"), key_map.c.key == bindparam("k"))
)


@dataclass(frozen=True, slots=True)
class Installation:
    id: str
    new: bool
    """Made by this call: no tenant can hold a lease record of it yet."""


class ExportStateRepository:
    def __init__(self, connection: Connection, clock: Callable[[], datetime]) -> None:
        self._db = connection
        self._clock = clock

    def exported_hashes(self) -> dict[str, str]:
        """Report id -> the content hash it was last exported in full."""
        rows = self._db.execute(select(report_exports.c.report_id, report_exports.c.content_hash))
        return {row.report_id: row.content_hash for row in rows}

    def mark_exported(self, report_id: str, content_hash: str, run_id: int) -> None:
        values = {"content_hash": content_hash, "run_id": run_id, "exported_at": self._clock()}
        result = self._db.execute(
            update(report_exports).where(report_exports.c.report_id == report_id).values(**values)
        )
        if result.rowcount == 0:
            self._db.execute(insert(report_exports).values(report_id=report_id, **values))

    def remember(self, entity: str, key: str, autotask_id: int, report_id: str | None) -> None:
        self._db.execute(delete(key_map).where(key_map.c.entity == entity, key_map.c.key == key))
        self._db.execute(
            insert(key_map).values(
                entity=entity,
                key=key,
                autotask_id=autotask_id,
                report_id=report_id,
                updated_at=self._clock(),
            )
        )

    def remember_many(self, records: Sequence[tuple[str, str, int, str | None]]) -> None:
        """`remember` for many (entity, key, Autotask id, report id) at once; the last of
        one key wins."""
        latest = {(entity, key): (i, report) for entity, key, i, report in records}
        if not latest:
            return
        now = self._clock()
        forgotten = [{"e": entity, "k": key} for entity, key in latest]
        self._db.execute(_FORGET_KEY, forgotten)
        rows = [
            {"entity": e, "key": k, "autotask_id": i, "report_id": r, "updated_at": now}
            for (e, k), (i, r) in latest.items()
        ]
        self._db.execute(insert(key_map), rows)

    def ids_by_report(self, entity: str, report_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Report id -> {key: Autotask id} of the records of `entity` written for it."""
        found: dict[str, dict[str, int]] = {}
        for chunk in distinct_chunks(report_ids):
            query = select(key_map.c.report_id, key_map.c.key, key_map.c.autotask_id).where(
                key_map.c.entity == entity, key_map.c.report_id.in_(chunk)
            )
            for row in self._db.execute(query):
                found.setdefault(row.report_id, {})[row.key] = row.autotask_id
        return found

    def installation(self) -> Installation:
        """This installation's id, made once and kept in the store (it stamps the export lease
        billbridge holds in the tenant, so that two installations never export at once), and
        whether this call made it."""
        found = self._db.execute(select(installation.c.id).limit(1)).scalar()
        if found is not None:
            return Installation(str(found), new=False)
        new = str(uuid.uuid4())
        self._db.execute(insert(installation).values(id=new, created_at=self._clock()))
        return Installation(new, new=True)

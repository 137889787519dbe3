"""Export runs and their journal.

Every write an export makes is a `run_operations` row: recorded as `sending` (and committed)
before the request leaves, then marked `done` with the Autotask id, or `failed` with
Autotask's exact error, or `unknown` when the outcome could not be known. Operations that
write nothing (unchanged, conflict) are recorded too, so a run shows everything it decided.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Connection, Text, bindparam, func, insert, select, update

from billbridge.store.batches import distinct_chunks
from billbridge.store.schema import run_operations, run_reports, runs

RUNNING = "running"
INTERRUPTED = "interrupted"
FAILED = "failed"


class JournalState(StrEnum):
    """Where a write of a run stands."""

    PLANNED = "planned"
    """Decided, not sent yet."""
    SENDING = "sending"
    """Committed before its request left: it may be in Autotask or on its way there."""
    DONE = "done"
    FAILED = "failed"
    UNKNOWN = "unknown"
    """Sent, outcome not known (a timeout, a killed export): resolved by key, never re-sent
    before the unknown-write horizon has passed."""
    NONE = "none"
    """An operation that writes nothing (unchanged, conflict)."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """A write's outcome for `RunRepository.settle`: an id or error given is kept, None
    leaves what the operation holds."""

    operation_id: int
    state: str
    autotask_id: int | None = None
    error: str | None = None


# Statements built once: the journal writes thousands of rows per run, and building and
# caching a statement per row cost more than executing it.
_MARK_SENDING = (
    update(run_operations)
    .where(run_operations.c.id == bindparam("op_id"))
    .values(state=JournalState.SENDING.value, sent_at=bindparam("at"), updated_at=bindparam("now"))
)
_SETTLE = (
    update(run_operations)
    .where(run_operations.c.id == bindparam("op_id"))
    .values(
        state=bindparam("new_state"),
        autotask_id=func.coalesce(
            bindparam("new_autotask_id", type_=BigInteger), run_operations.c.autotask_id
        ),
        error=func.coalesce(bindparam("new_error", type_=Text), run_operations.c.error),
        updated_at=bindparam("now"),
    )
)


@dataclass(frozen=True, slots=True)
class InFlight:
    """A write sent by an earlier run whose outcome is not known."""

    entity: str
    key: str
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class OperationRecord:
    """An operation of a run as stored (the journal entry of a write)."""

    report_id: str
    position: int
    action: str
    entity: str
    key: str
    autotask_id: int | None
    changes: dict[str, Any]
    reason: str | None
    state: str
    """`planned`, `sending`, `done`, `failed`, `unknown`, or `none` for operations that write
    nothing."""
    error: str | None = None
    id: int | None = None


@dataclass(frozen=True, slots=True)
class ReportRecord:
    report_id: str
    revision: int
    content_hash: str
    organization_id: str
    status: str
    reason: str | None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunSummary:
    id: int
    trigger: str
    today: date | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    created: int
    updated: int
    unchanged: int
    conflicts: int
    failed_reports: int
    requests: int
    report_count: int
    error: str | None = None
    """What stopped the run, exactly as it was said (a fatal error)."""


@dataclass(frozen=True, slots=True)
class RunDetail:
    summary: RunSummary
    reports: list[ReportRecord]
    operations: list[OperationRecord]


@dataclass(frozen=True, slots=True)
class RunTotals:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0
    failed_reports: int = 0
    requests: int = 0


class RunRepository:
    def __init__(self, connection: Connection, clock: Callable[[], datetime]) -> None:
        self._db = connection
        self._clock = clock

    def start(self, trigger: str, today: date | None) -> int:
        now = self._clock()
        result = self._db.execute(
            insert(runs)
            .values(
                trigger=trigger,
                today=today,
                status=RUNNING,
                started_at=now,
                heartbeat_at=now,
                created=0,
                updated=0,
                unchanged=0,
                conflicts=0,
                failed_reports=0,
                requests=0,
            )
            .returning(runs.c.id)
        )
        return int(result.scalar_one())

    def mark_interrupted(self, run_id: int | None = None) -> tuple[list[int], int]:
        """Close runs that stopped without finishing (crashed, killed, or `run_id`, cut short).

        Without `run_id`, call it holding the export lock: no other export can be running
        then, so every run still marked running is dead. Unfinished writes become `unknown`;
        they are resolved by key when the next export reads Autotask. Returns the runs and
        how many writes were left unfinished.
        """
        query = select(runs.c.id).where(runs.c.status == RUNNING)
        if run_id is not None:
            query = query.where(runs.c.id == run_id)
        stale = [row.id for row in self._db.execute(query)]
        if not stale:
            return [], 0
        self._db.execute(
            update(runs)
            .where(runs.c.id.in_(stale))
            .values(status=INTERRUPTED, finished_at=self._clock())
        )
        result = self._db.execute(
            update(run_operations)
            .where(
                run_operations.c.run_id.in_(stale),
                run_operations.c.state.in_((JournalState.SENDING, JournalState.PLANNED)),
            )
            .values(
                state=JournalState.UNKNOWN.value,
                error="the export stopped before the outcome was known; resolved by key"
                " at the next export",
                updated_at=self._clock(),
            )
        )
        return stale, result.rowcount

    def in_flight(self, since: datetime) -> list[InFlight]:
        """Writes sent at or after `since` whose outcome no run has learnt (still `sending`,
        or `unknown`): Autotask may still be carrying them out."""
        query = select(
            run_operations.c.entity, run_operations.c.key, run_operations.c.sent_at
        ).where(
            run_operations.c.state.in_((JournalState.SENDING, JournalState.UNKNOWN)),
            run_operations.c.sent_at.is_not(None),
            run_operations.c.sent_at >= since,
        )
        return [InFlight(row.entity, row.key, row.sent_at) for row in self._db.execute(query)]

    def discard(self, run_id: int) -> None:
        """Forget a run that never began its work (another installation held the tenant)."""
        self._db.execute(run_operations.delete().where(run_operations.c.run_id == run_id))
        self._db.execute(run_reports.delete().where(run_reports.c.run_id == run_id))
        self._db.execute(runs.delete().where(runs.c.id == run_id))

    def has_run(self, trigger: str, today: date) -> bool:
        """Whether a run of this trigger for this day started (failed setups count too)."""
        query = select(runs.c.id).where(runs.c.trigger == trigger, runs.c.today == today).limit(1)
        return self._db.execute(query).first() is not None

    def running(self) -> list[int]:
        return [r.id for r in self._db.execute(select(runs.c.id).where(runs.c.status == RUNNING))]

    def heartbeat(self, run_id: int) -> None:
        self._db.execute(update(runs).where(runs.c.id == run_id).values(heartbeat_at=self._clock()))

    def record_reports(self, run_id: int, reports: Sequence[ReportRecord]) -> None:
        if not reports:
            return
        rows = [
            {
                "run_id": run_id,
                "report_id": report.report_id,
                "revision": report.revision,
                "content_hash": report.content_hash,
                "organization_id": report.organization_id,
                "status": report.status,
                "reason": report.reason,
                "warnings": json.dumps(report.warnings),
            }
            for report in reports
        ]
        self._db.execute(insert(run_reports), rows)

    def set_report_status(
        self, run_id: int, report_id: str, status: str, reason: str | None
    ) -> None:
        self._db.execute(
            update(run_reports)
            .where(run_reports.c.run_id == run_id, run_reports.c.report_id == report_id)
            .values(status=status, reason=reason)
        )

    def add_operations(self, run_id: int, operations: Sequence[OperationRecord]) -> list[int]:
        if not operations:
            return []
        now = self._clock()
        rows = [
            {
                "run_id": run_id,
                "report_id": op.report_id,
                "position": op.position,
                "action": op.action,
                "entity": op.entity,
                "key": op.key,
                "autotask_id": op.autotask_id,
                "changes": json.dumps(op.changes, sort_keys=True),
                "reason": op.reason,
                "state": op.state,
                "error": op.error,
                "updated_at": now,
            }
            for op in operations
        ]
        # One statement for all (insertmanyvalues), the ids in the order of `operations`.
        statement = insert(run_operations).returning(
            run_operations.c.id, sort_by_parameter_order=True
        )
        return [int(row.id) for row in self._db.execute(statement, rows)]

    def set_operation_state(
        self,
        operation_ids: Iterable[int],
        state: str,
        *,
        autotask_id: int | None = None,
        error: str | None = None,
        sent_at: datetime | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": str(state), "updated_at": self._clock()}
        if autotask_id is not None:
            values["autotask_id"] = autotask_id
        if error is not None:
            values["error"] = error
        if sent_at is not None:
            values["sent_at"] = sent_at
        self._db.execute(
            update(run_operations)
            .where(run_operations.c.id.in_(list(operation_ids)))
            .values(**values)
        )

    def mark_sending(self, intents: Sequence[tuple[Sequence[int], datetime]]) -> None:
        """Record writes `sending` at their moment, many at once: (operation ids, sent at)."""
        now = self._clock()
        rows = [{"op_id": i, "at": sent_at, "now": now} for ids, sent_at in intents for i in ids]
        if rows:
            self._db.execute(_MARK_SENDING, rows)

    def settle(self, outcomes: Sequence[Settlement]) -> None:
        """Record the outcomes of writes, many at once (one statement, many parameter sets)."""
        now = self._clock()
        rows = [
            {
                "op_id": o.operation_id,
                "new_state": str(o.state),
                "new_autotask_id": o.autotask_id,
                "new_error": o.error,
                "now": now,
            }
            for o in outcomes
        ]
        if rows:
            self._db.execute(_SETTLE, rows)

    def finish(self, run_id: int, status: str, totals: RunTotals, error: str | None = None) -> None:
        now = self._clock()
        self._db.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(
                status=status,
                error=error,
                finished_at=now,
                heartbeat_at=now,
                created=totals.created,
                updated=totals.updated,
                unchanged=totals.unchanged,
                conflicts=totals.conflicts,
                failed_reports=totals.failed_reports,
                requests=totals.requests,
            )
        )

    def recent(self, limit: int = 50) -> list[RunSummary]:
        query = (
            select(runs, self._report_count().label("report_count"))
            .order_by(runs.c.id.desc())
            .limit(limit)
        )
        return [_summary(row._mapping) for row in self._db.execute(query)]

    def get(self, run_id: int) -> RunDetail | None:
        row = self._db.execute(
            select(runs, self._report_count().label("report_count")).where(runs.c.id == run_id)
        ).one_or_none()
        if row is None:
            return None
        reports = [
            ReportRecord(
                r.report_id,
                r.revision,
                r.content_hash,
                r.organization_id,
                r.status,
                r.reason,
                json.loads(r.warnings),
            )
            for r in self._db.execute(
                select(run_reports)
                .where(run_reports.c.run_id == run_id)
                .order_by(run_reports.c.report_id)
            )
        ]
        operations = [
            OperationRecord(
                report_id=o.report_id,
                position=o.position,
                action=o.action,
                entity=o.entity,
                key=o.key,
                autotask_id=o.autotask_id,
                changes=json.loads(o.changes),
                reason=o.reason,
                state=o.state,
                error=o.error,
                id=o.id,
            )
            for o in self._db.execute(
                select(run_operations)
                .where(run_operations.c.run_id == run_id)
                .order_by(run_operations.c.position)
            )
        ]
        return RunDetail(_summary(row._mapping), reports, operations)

    def last_run_of_reports(
        self, report_ids: Iterable[str]
    ) -> dict[str, tuple[int, str, str | None]]:
        """For each report, its latest run: (run id, status, reason)."""
        found: dict[str, tuple[int, str, str | None]] = {}
        for chunk in distinct_chunks(report_ids):
            query = (
                select(
                    run_reports.c.report_id,
                    run_reports.c.run_id,
                    run_reports.c.status,
                    run_reports.c.reason,
                )
                .where(run_reports.c.report_id.in_(chunk))
                .order_by(run_reports.c.run_id)
            )
            for row in self._db.execute(query):
                found[row.report_id] = (row.run_id, row.status, row.reason)
        return found

    @staticmethod
    def _report_count() -> Any:
        return select(func.count()).where(run_reports.c.run_id == runs.c.id).scalar_subquery()


def _summary(row: Any) -> RunSummary:
    return RunSummary(
        id=row["id"],
        trigger=row["trigger"],
        today=row["today"],
        status=row["status"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        created=row["created"],
        updated=row["updated"],
        unchanged=row["unchanged"],
        conflicts=row["conflicts"],
        failed_reports=row["failed_reports"],
        requests=row["requests"],
        report_count=row["report_count"],
        error=row["error"],
    )

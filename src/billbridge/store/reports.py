"""Billing reports, kept as revisions: a correction is a new revision, the old one stays."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Date, Dialect, func, insert, select, update

from billbridge.domain.report import BillingReport, ReportLine
from billbridge.domain.subscription import SubscriptionType
from billbridge.store.batches import distinct_chunks
from billbridge.store.schema import report_lines, report_revisions, reports


class SaveOutcome(enum.Enum):
    CREATED = "created"
    CORRECTED = "corrected"
    UNCHANGED = "unchanged"


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A report as stored: its current revision and when that revision was imported."""

    report: BillingReport
    revision: int
    content_hash: str
    imported_at: datetime
    source: str


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """A report without its lines, for listings."""

    report_id: str
    organization_id: str
    generated_on: date
    period_start: date
    period_end: date
    currency: str
    revision: int
    content_hash: str
    line_count: int
    imported_at: datetime


class ReportRepository:
    def __init__(self, connection: Connection, clock: Callable[[], datetime]) -> None:
        self._db = connection
        self._clock = clock

    def save(self, report: BillingReport, *, source: str) -> SaveOutcome:
        """Store a report; the same content again is a no-op, new content a new revision."""
        content_hash = report.content_hash
        current = self._db.execute(
            select(reports.c.current_revision, reports.c.content_hash).where(
                reports.c.report_id == report.report_id
            )
        ).one_or_none()
        if current is not None and current.content_hash == content_hash:
            return SaveOutcome.UNCHANGED
        revision = 1 if current is None else current.current_revision + 1
        summary = {
            "organization_id": report.organization_id,
            "current_revision": revision,
            "generated_on": report.generated_on,
            "content_hash": content_hash,
        }
        if current is None:
            self._db.execute(insert(reports).values(report_id=report.report_id, **summary))
        else:
            self._db.execute(
                update(reports).where(reports.c.report_id == report.report_id).values(**summary)
            )
        revision_id = self._insert_revision(report, revision, content_hash, source)
        self._insert_lines(revision_id, report.lines)
        return SaveOutcome.CREATED if current is None else SaveOutcome.CORRECTED

    def get(self, report_id: str, *, revision: int | None = None) -> StoredReport | None:
        """The current revision of a report (or the given one)."""
        query = select(report_revisions).where(report_revisions.c.report_id == report_id)
        if revision is None:
            query = query.join(
                reports,
                (reports.c.report_id == report_revisions.c.report_id)
                & (reports.c.current_revision == report_revisions.c.revision),
            )
        else:
            query = query.where(report_revisions.c.revision == revision)
        row = self._db.execute(query).one_or_none()
        return None if row is None else self._load(row._mapping)

    def heads(self, report_ids: Iterable[str]) -> dict[str, tuple[date, str]]:
        """The generated date and content hash of each stored report's current revision, without
        loading its lines (an import compares these for every report it makes)."""
        found: dict[str, tuple[date, str]] = {}
        columns = (reports.c.report_id, reports.c.generated_on, reports.c.content_hash)
        for chunk in distinct_chunks(report_ids):
            rows = self._db.execute(select(*columns).where(reports.c.report_id.in_(chunk)))
            found.update({row.report_id: (row.generated_on, row.content_hash) for row in rows})
        return found

    def get_many(self, report_ids: Sequence[str]) -> list[StoredReport]:
        found = [self.get(report_id) for report_id in report_ids]
        return [stored for stored in found if stored is not None]

    def summaries(
        self,
        *,
        generated_on_or_before: date | None = None,
        organization_id: str | None = None,
    ) -> list[ReportSummary]:
        """Current revisions without their lines, newest period first."""
        line_count = (
            select(func.count())
            .where(report_lines.c.revision_id == report_revisions.c.id)
            .scalar_subquery()
        )
        query = select(report_revisions, line_count.label("line_count")).join(
            reports,
            (reports.c.report_id == report_revisions.c.report_id)
            & (reports.c.current_revision == report_revisions.c.revision),
        )
        if generated_on_or_before is not None:
            query = query.where(reports.c.generated_on <= generated_on_or_before)
        if organization_id is not None:
            query = query.where(reports.c.organization_id == organization_id)
        query = query.order_by(
            report_revisions.c.period_start.desc(),
            report_revisions.c.organization_id,
            report_revisions.c.report_id,
        )
        return [_summary(row._mapping) for row in self._db.execute(query)]

    def revisions(self, report_id: str) -> list[ReportSummary]:
        line_count = (
            select(func.count())
            .where(report_lines.c.revision_id == report_revisions.c.id)
            .scalar_subquery()
        )
        query = (
            select(report_revisions, line_count.label("line_count"))
            .where(report_revisions.c.report_id == report_id)
            .order_by(report_revisions.c.revision)
        )
        return [_summary(row._mapping) for row in self._db.execute(query)]

    def _insert_revision(
        self, report: BillingReport, revision: int, content_hash: str, source: str
    ) -> int:
        result = self._db.execute(
            insert(report_revisions)
            .values(
                report_id=report.report_id,
                revision=revision,
                content_hash=content_hash,
                organization_id=report.organization_id,
                generated_on=report.generated_on,
                period_start=report.period_start,
                period_end=report.period_end,
                currency=report.currency,
                source=source,
                imported_at=self._clock(),
            )
            .returning(report_revisions.c.id)
        )
        return int(result.scalar_one())

    def _insert_lines(self, revision_id: int, lines: Sequence[ReportLine]) -> None:
        """One driver-level executemany: a big usage report has tens of thousands of lines, and
        SQLAlchemy's per-row parameter handling cost more than SQLite's insert. The values go
        through the columns' own bind processors, so they are stored exactly as before."""
        if lines:
            writer = _LineWriter.of(self._db.dialect)
            self._db.exec_driver_sql(writer.sql, writer.rows(revision_id, lines))

    def _load(self, revision: Any) -> StoredReport:
        rows = self._db.execute(
            select(report_lines)
            .where(report_lines.c.revision_id == revision["id"])
            .order_by(report_lines.c.position)
        )
        lines = tuple(_line(row._mapping) for row in rows)
        report = BillingReport(
            report_id=revision["report_id"],
            organization_id=revision["organization_id"],
            generated_on=revision["generated_on"],
            period_start=revision["period_start"],
            period_end=revision["period_end"],
            currency=revision["currency"],
            lines=lines,
        )
        return StoredReport(
            report=report,
            revision=revision["revision"],
            content_hash=revision["content_hash"],
            imported_at=revision["imported_at"],
            source=revision["source"],
        )


_LINE_COLUMNS = tuple(column.name for column in report_lines.columns)
"""The table's columns in order; from the third on, each is the `ReportLine` attribute of that
name (`subscription_type` by its value), as `_LineWriter.rows` takes them."""


@dataclass(frozen=True, slots=True)
class _LineWriter:
    """The report lines' INSERT compiled for one dialect, with each column's bind processor."""

    sql: str
    processors: tuple[Callable[[Any], Any] | None, ...]
    names: tuple[str, ...] | None
    """The parameter names for a dialect with named parameters, None for positional ones."""
    dates: tuple[bool, ...]
    """Which columns are dates: a report's lines share a few, each processed once."""

    @staticmethod
    def of(dialect: Dialect) -> _LineWriter:
        found = _WRITERS.get(dialect.name + dialect.paramstyle)
        if found is None:
            compiled = insert(report_lines).compile(dialect=dialect, column_keys=_LINE_COLUMNS)
            if compiled.positiontup is not None:
                assert tuple(compiled.positiontup) == _LINE_COLUMNS
            processors = tuple(
                report_lines.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                for name in _LINE_COLUMNS
            )
            names = None if compiled.positional else _LINE_COLUMNS
            dates = tuple(isinstance(report_lines.c[n].type, Date) for n in _LINE_COLUMNS)
            found = _WRITERS[dialect.name + dialect.paramstyle] = _LineWriter(
                compiled.string, processors, names, dates
            )
        return found

    def rows(self, revision_id: int, lines: Sequence[ReportLine]) -> list[Any]:
        """The parameters of every line, built column by column (cheaper than row by row)."""
        columns: list[Sequence[Any]] = [
            [revision_id] * len(lines),
            range(len(lines)),
            [line.subscription_id for line in lines],
            [line.subscription_type.value for line in lines],
        ]
        columns += [[getattr(line, name) for line in lines] for name in _LINE_COLUMNS[4:]]
        bound = [
            values
            if process is None
            else _once_each(process, values)
            if is_date
            else map(process, values)
            for process, is_date, values in zip(self.processors, self.dates, columns, strict=True)
        ]
        if self.names is None:
            return list(zip(*bound, strict=True))
        return [dict(zip(self.names, row, strict=True)) for row in zip(*bound, strict=True)]


_WRITERS: dict[str, _LineWriter] = {}


def _once_each(process: Callable[[Any], Any], values: Sequence[Any]) -> Iterable[Any]:
    """`map(process, values)`, calling `process` once per distinct value (for dates, where
    equal values are the same value)."""
    done = {value: process(value) for value in set(values)}
    return map(done.__getitem__, values)


def _line(row: Any) -> ReportLine:
    return ReportLine(
        subscription_id=row["subscription_id"],
        subscription_type=SubscriptionType(row["subscription_type"]),
        sku=row["sku"],
        product_name=row["product_name"],
        quantity=row["quantity"],
        unit_cost=row["unit_cost"],
        unit_price=row["unit_price"],
        subscription_start=row["subscription_start"],
        subscription_end=row["subscription_end"],
        charge_start=row["charge_start"],
        charge_end=row["charge_end"],
        usage_quantity=row["usage_quantity"],
        usage_unit=row["usage_unit"],
    )


def _summary(row: Any) -> ReportSummary:
    return ReportSummary(
        report_id=row["report_id"],
        organization_id=row["organization_id"],
        generated_on=row["generated_on"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        currency=row["currency"],
        revision=row["revision"],
        content_hash=row["content_hash"],
        line_count=row["line_count"],
        imported_at=row["imported_at"],
    )

"""What was pulled from Microsoft: each invoice, and each of its exports' operation and eTag.

An export's operation URL is saved (and committed) the moment Microsoft accepts the export, so
a pull killed while it waits resumes that operation instead of starting a new export.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, delete, insert, select, update

from billbridge.store.schema import pull_exports, pulled_invoices


@dataclass(frozen=True)
class PulledInvoice:
    invoice_id: str
    invoice_date: date
    currency: str
    total: Decimal
    status: str
    """`imported`, `no_data` (nothing billed), `skipped` (not a New Commerce invoice: a void
    note, an adjustment note, a legacy invoice; `error` says which), `failed` or `waiting` (to
    resume)."""
    rows: int
    report_ids: tuple[str, ...]
    error: str | None
    pulled_at: datetime


@dataclass(frozen=True)
class ExportState:
    invoice_id: str
    kind: str
    operation_url: str | None
    state: str
    """`started` (operation saved), `no_data`, `imported` (with the manifest's eTag), or
    `failed` (what Microsoft made of it was unusable: the next pull exports it anew)."""
    etag: str | None
    rows: int


class PullRepository:
    def __init__(self, connection: Connection, clock: Callable[[], datetime]) -> None:
        self._db = connection
        self._clock = clock

    def invoices(self) -> list[PulledInvoice]:
        rows = self._db.execute(
            select(pulled_invoices).order_by(
                pulled_invoices.c.invoice_date.desc(), pulled_invoices.c.invoice_id
            )
        )
        return [
            PulledInvoice(
                row.invoice_id,
                row.invoice_date,
                row.currency,
                row.total,
                row.status,
                row.rows,
                tuple(json.loads(row.report_ids)),
                row.error,
                row.pulled_at,
            )
            for row in rows
        ]

    def invoice(self, invoice_id: str) -> PulledInvoice | None:
        return next((i for i in self.invoices() if i.invoice_id == invoice_id), None)

    def record_invoice(
        self,
        invoice_id: str,
        *,
        invoice_date: date,
        currency: str,
        total: Decimal,
        status: str,
        rows: int = 0,
        report_ids: Sequence[str] = (),
        error: str | None = None,
    ) -> None:
        values = {
            "invoice_date": invoice_date,
            "currency": currency,
            "total": total,
            "status": status,
            "rows": rows,
            "report_ids": json.dumps(list(report_ids)),
            "error": error,
            "pulled_at": self._clock(),
        }
        done = self._db.execute(
            update(pulled_invoices)
            .where(pulled_invoices.c.invoice_id == invoice_id)
            .values(**values)
        )
        if done.rowcount == 0:
            self._db.execute(insert(pulled_invoices).values(invoice_id=invoice_id, **values))

    def exports(self, invoice_id: str) -> dict[str, ExportState]:
        rows = self._db.execute(select(pull_exports).where(pull_exports.c.invoice_id == invoice_id))
        return {
            row.kind: ExportState(
                row.invoice_id, row.kind, row.operation_url, row.state, row.etag, row.rows
            )
            for row in rows
        }

    def save_export(
        self,
        invoice_id: str,
        kind: str,
        *,
        state: str,
        operation_url: str | None,
        etag: str | None = None,
        rows: int = 0,
    ) -> None:
        self._db.execute(
            delete(pull_exports).where(
                pull_exports.c.invoice_id == invoice_id, pull_exports.c.kind == kind
            )
        )
        self._db.execute(
            insert(pull_exports).values(
                invoice_id=invoice_id,
                kind=kind,
                operation_url=operation_url,
                state=state,
                etag=etag,
                rows=rows,
                updated_at=self._clock(),
            )
        )

"""The billing reports file: one CSV row (or JSON line object) per billing line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from billbridge.domain.report import BillingReport, ReportLine
from billbridge.domain.subscription import SubscriptionType
from billbridge.sources.fields import RowReader
from billbridge.sources.files import read_records
from billbridge.sources.located_json import LocatedDict
from billbridge.sources.problems import ProblemLog
from billbridge.sources.tabular import Columns, Record, json_objects

REPORT_FIELDS = (
    "report_id",
    "organization_id",
    "generated_on",
    "period_start",
    "period_end",
    "currency",
)
LINE_FIELDS = Columns(
    required=(
        "subscription_id",
        "subscription_type",
        "sku",
        "product_name",
        "quantity",
        "unit_cost",
        "unit_price",
    ),
    optional=(
        "subscription_start",
        "subscription_end",
        "charge_start",
        "charge_end",
        "usage_quantity",
        "usage_unit",
    ),
)
CSV_COLUMNS = Columns(required=REPORT_FIELDS + LINE_FIELDS.required, optional=LINE_FIELDS.optional)
JSON_REPORT_KEYS = Columns(required=(*REPORT_FIELDS, "lines"))


@dataclass(frozen=True, slots=True)
class LocatedReport:
    """A report read from a file, with where it starts (for errors found after reading)."""

    report: BillingReport
    file: str
    line: int


@dataclass(frozen=True, slots=True)
class _Header:
    report_id: str
    organization_id: str
    generated_on: date
    period_start: date
    period_end: date
    currency: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(slots=True)
class _Draft:
    header: _Header
    lines: list[ReportLine]
    types: dict[str, tuple[SubscriptionType, str]]
    ok: bool = True


def read_reports(paths: Sequence[Path]) -> list[LocatedReport]:
    """All reports of the files, or `InputError` listing every problem."""
    log = ProblemLog()
    reports = collect_reports(paths, log)
    log.raise_if_any()
    return reports


def collect_reports(paths: Sequence[Path], log: ProblemLog) -> list[LocatedReport]:
    """The reports that could be read, logging problems, so callers can add checks of theirs."""
    drafts: dict[str, _Draft] = {}

    def add(header_record: Record, line_record: Record) -> None:
        header = _read_header(RowReader(header_record, log))
        line_reader = RowReader(line_record, log)
        line = _read_line(line_reader)
        if header is None:
            return
        draft = drafts.get(header.report_id)
        if draft is None:
            draft = drafts[header.report_id] = _Draft(header, [], {})
        elif draft.header.file != header.file:
            if draft.ok:
                line_reader.problem(
                    "report_id",
                    f"report '{header.report_id}' is also in {draft.header.where};"
                    " a report must come from one file",
                )
            draft.ok = False
            return
        elif not _agrees(draft.header, header, line_reader):
            draft.ok = False
            return
        if line is None:
            draft.ok = False
            return
        known = draft.types.get(line.subscription_id)
        if known is None:
            draft.types[line.subscription_id] = (
                line.subscription_type,
                line_reader.record.line_ref,
            )
        elif known[0] != line.subscription_type:
            line_reader.problem(
                "subscription_type",
                f"subscription '{line.subscription_id}' is {known[0].value} at {known[1]}",
            )
            draft.ok = False
            return
        draft.lines.append(line)

    def from_json(path: Path, document: Any) -> list[Record]:
        _read_json_reports(path, document, log, add)
        return []

    for record in read_records(paths, CSV_COLUMNS, log, from_json):
        add(record, record)

    return [
        LocatedReport(
            BillingReport(
                report_id=d.header.report_id,
                organization_id=d.header.organization_id,
                generated_on=d.header.generated_on,
                period_start=d.header.period_start,
                period_end=d.header.period_end,
                currency=d.header.currency,
                lines=tuple(d.lines),
            ),
            d.header.file,
            d.header.line,
        )
        for d in drafts.values()
        if d.ok
    ]


def _read_json_reports(path: Path, document: Any, log: ProblemLog, add: Any) -> None:
    if not isinstance(document, LocatedDict) or set(document) != {"reports"}:
        log.add(path, 1, None, 'must be an object {"reports": [...]}')
        return
    for report_record in json_objects(
        path, document["reports"], JSON_REPORT_KEYS, log, where='"reports"', line=document.line
    ):
        lines = report_record.values["lines"]
        line_records = json_objects(
            path, lines, LINE_FIELDS, log, where='"lines"', line=report_record.line
        )
        if isinstance(lines, list) and not lines:
            log.add(path, report_record.line, "lines", "a report needs at least one line")
        for line_record in line_records:
            add(report_record, line_record)


def _read_header(row: RowReader) -> _Header | None:
    report_id = row.text("report_id")
    organization_id = row.text("organization_id")
    generated_on = row.date("generated_on")
    period_start = row.date("period_start")
    period_end = row.date("period_end")
    currency = row.currency("currency")
    if period_start and period_end and period_end < period_start:
        row.problem("period_end", f"{period_end} is before period_start {period_start}")
    if (
        not row.ok
        or report_id is None
        or organization_id is None
        or generated_on is None
        or period_start is None
        or period_end is None
        or currency is None
    ):
        return None
    return _Header(
        report_id,
        organization_id,
        generated_on,
        period_start,
        period_end,
        currency,
        row.record.file,
        row.record.line,
    )


def _read_line(row: RowReader) -> ReportLine | None:
    subscription_id = row.text("subscription_id")
    subscription_type = row.choice("subscription_type", SubscriptionType)
    sku = row.text("sku")
    product_name = row.text("product_name")
    quantity = row.decimal("quantity")
    unit_cost = row.decimal("unit_cost")
    unit_price = row.decimal("unit_price")
    subscription_start = row.date("subscription_start", required=False)
    subscription_end = row.date("subscription_end", required=False)
    charge_start = row.date("charge_start", required=False)
    charge_end = row.date("charge_end", required=False)
    usage_quantity = row.decimal("usage_quantity", required=False)
    usage_unit = row.text("usage_unit", required=False)
    for start_column, start, end_column, end in (
        ("subscription_start", subscription_start, "subscription_end", subscription_end),
        ("charge_start", charge_start, "charge_end", charge_end),
    ):
        if start and end and end < start:
            row.problem(end_column, f"{end} is before {start_column} {start}")
    if (
        not row.ok
        or subscription_id is None
        or subscription_type is None
        or sku is None
        or product_name is None
        or quantity is None
        or unit_cost is None
        or unit_price is None
    ):
        return None
    return ReportLine(
        subscription_id=subscription_id,
        subscription_type=subscription_type,
        sku=sku,
        product_name=product_name,
        quantity=quantity,
        unit_cost=unit_cost,
        unit_price=unit_price,
        subscription_start=subscription_start,
        subscription_end=subscription_end,
        charge_start=charge_start,
        charge_end=charge_end,
        usage_quantity=usage_quantity,
        usage_unit=usage_unit,
    )


def _agrees(first: _Header, other: _Header, row: RowReader) -> bool:
    agree = True
    for column in ("organization_id", "generated_on", "period_start", "period_end", "currency"):
        mine, theirs = getattr(other, column), getattr(first, column)
        if mine != theirs:
            row.problem(
                column,
                f"'{mine}' disagrees with '{theirs}' at {first.where}"
                f" (rows of report '{first.report_id}' must agree)",
            )
            agree = False
    return agree

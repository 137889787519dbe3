"""Microsoft Partner Center files as a source of organizations and billing reports.

`read_partner_center` reads any mix of the New Commerce invoice reconciliation (CSV, the API's
JSON line items) and the daily-rated usage file (CSV, the Graph export's JSON lines), plain or
gzipped, recognised by their columns. It returns one organization per customer tenant and one
report per customer, billing period and kind of file, or raises `InputError` listing every
problem found. The modules, in reading order:

- `files`: opening (gzip, CSV or JSON, line numbers); `detect`: the kind of file;
- `columns`, `values`, `numbers`, `dates`: binding columns by name and reading their values;
- `invoice` and `charges`: reconciliation lines and the charge rules for licences;
- `usage` and `columnar`: usage rows summed per meter (by rows, or by columns for big CSVs);
- `prices`: sale prices; `reports`: organizations, periods, report ids.

docs/partner-center.md explains the rules for users.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from billbridge.domain.organization import Organization
from billbridge.domain.price_list import PriceListItem
from billbridge.sources.heap import big_buffers_on_heap
from billbridge.sources.partner_center import usage
from billbridge.sources.partner_center.columnar import (
    Groups,
    Unmerged,
    UsageGroups,
    read_usage_csv,
)
from billbridge.sources.partner_center.columns import Binding, bind
from billbridge.sources.partner_center.detect import FileKind, detect
from billbridge.sources.partner_center.files import Refused, Source, fingerprint, open_source
from billbridge.sources.partner_center.invoice import InvoiceLine, read_invoice_lines
from billbridge.sources.partner_center.prices import Pricing
from billbridge.sources.partner_center.reports import Builder, UsageMeters
from billbridge.sources.problems import ProblemLog
from billbridge.sources.reports import LocatedReport

__all__ = ["PartnerCenterImport", "read_partner_center"]


@dataclass(frozen=True)
class PartnerCenterImport:
    organizations: list[Organization]
    """One per customer tenant, never linked to a company (the store keeps existing links)."""
    reports: list[LocatedReport]
    warnings: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    """Per file (by name), the rows it had."""


def read_partner_center(
    paths: Sequence[Path],
    *,
    generated_on: date,
    azure_markup: Decimal | None,
    license_markup: Decimal | None,
    price_list: Mapping[str, PriceListItem] | Callable[[], Mapping[str, PriceListItem]],
) -> PartnerCenterImport:
    """Organizations and reports of the files, or `InputError` listing every problem.
    `price_list` may be a function, called once the files are read (so that the caller can
    load it meanwhile)."""
    log = ProblemLog()
    read = _Files(log)
    # each file's chunks reuse the memory of the one before, and so do the next file's (a pull
    # reads one file per blob)
    with big_buffers_on_heap():
        for index, path in enumerate(paths):
            read.add(index, path)
    read.merge_usage(paths)
    log.raise_if_any()
    builder = Builder(
        files=[str(path) for path in paths],
        generated_on=generated_on,
        pricing=Pricing(
            price_list if isinstance(price_list, Mapping) else price_list(),
            license_markup,
            azure_markup,
        ),
        log=log,
    )
    reports = builder.invoice_reports(read.invoice_lines) + builder.usage_reports(read.meters)
    log.raise_if_any()
    organizations = builder.organizations()
    warnings = builder.warnings + list(builder.pricing.warnings.values())
    return PartnerCenterImport(organizations, reports, warnings, read.rows)


@dataclass(slots=True)
class _Files:
    """What the files hold, as each is read: invoice lines, usage meters, rows per file."""

    log: ProblemLog
    invoice_lines: list[InvoiceLine] = field(default_factory=list)
    meters: UsageMeters = field(default_factory=UsageMeters)
    rows: dict[str, int] = field(default_factory=dict)
    """Per file (by name), the rows it had."""
    _grouped: dict[usage.Layout, UsageGroups] = field(default_factory=dict)
    _columnar: dict[int, tuple[Source, Binding]] = field(default_factory=dict)
    _seen: dict[tuple[int, str], Path] = field(default_factory=dict)

    def add(self, index: int, path: Path) -> None:
        log = self.log
        identity = fingerprint(path)
        if identity is not None and identity in self._seen:
            same = self._seen[identity]
            log.add(path, None, None, f"is the same file as {same}: each file counts once")
            return
        if identity is not None:
            self._seen[identity] = path
        source = open_source(path, log)
        if source is None:
            return
        kind = detect(source.columns)
        if isinstance(kind, str):
            log.add(path, source.header_line, None, kind)
        elif kind is FileKind.INVOICE:
            lines = read_invoice_lines(source, index, log)
            self.invoice_lines.extend(lines)
            self.rows[source.name] = len(lines)  # less only where a problem stops the import
        else:
            read = _read_usage(source, log)
            if isinstance(read, Groups):
                grouped = self._grouped.setdefault(read.layout, UsageGroups(read.layout))
                grouped.add(index, read.frame)
                self._columnar[index] = (source, read.binding)
                self.rows[source.name] = read.rows
            elif read is not None:
                self.meters.add(index, read.meters)
                self.rows[source.name] = read.rows

    def merge_usage(self, paths: Sequence[Path]) -> None:
        """The columnar reader's groups of all the files made meters."""
        for groups in self._grouped.values():
            try:
                for index, meters in groups.meters().items():
                    self.meters.add(index, meters)
            except (usage.BadKey, Unmerged):
                # the row reader says which row is bad, and leaves it out; it sums any size
                for index in groups.files:
                    by_rows = _by_rows(*self._columnar[index], self.log)
                    if by_rows is not None:
                        self.meters.add(index, by_rows.meters)
                _in_file_order(self.log, paths)


def _in_file_order(log: ProblemLog, paths: Sequence[Path]) -> None:
    """The problems in the order of the files (the row reader may have read one again late)."""
    order = {str(path): index for index, path in enumerate(paths)}
    log.sort_by(lambda problem: order.get(problem.file, len(order)))


def _read_usage(source: Source, log: ProblemLog) -> Groups | usage.UsageRead | None:
    """The file's rows grouped by the columnar reader, or its meters read row by row, or None
    with its problems logged."""
    binding, problems = bind(source.columns, usage.FIELDS)
    for column, message in problems:
        log.add(source.name, source.header_line, column, message)
    if problems:
        return None
    if source.format in ("csv", "json-lines"):
        try:
            groups = read_usage_csv(source, binding)
        except Refused as exc:
            log.add(source.name, None, None, str(exc))
            return None
        if groups is not None:
            return groups
    return _by_rows(source, binding, log)


def _by_rows(source: Source, binding: Binding, log: ProblemLog) -> usage.UsageRead | None:
    before = len(log.problems)
    groups, rows = usage.read_rows(source, binding, log)
    if len(log.problems) > before:
        return None
    return usage.UsageRead(usage.finish(usage.RawGroups.of(groups), usage.layout(binding)), rows)

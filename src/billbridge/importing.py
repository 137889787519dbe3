"""The import commands' work: read every file, check against the store, save in one transaction.

A command stores all of its files or nothing: the readers collect every problem first, and the
store is written only when there are none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from billbridge.domain.price_list import PriceListItem
from billbridge.sources.organizations import read_organizations
from billbridge.sources.partner_center import read_partner_center
from billbridge.sources.price_list import read_price_list
from billbridge.sources.problems import ProblemLog
from billbridge.sources.reports import LocatedReport, collect_reports

if TYPE_CHECKING:  # the store (SQLAlchemy) is imported while a big file is read, not before
    from billbridge.store import Store, UnitOfWork
    from billbridge.store.counts import ChangeCounts
    from billbridge.store.reports import SaveOutcome


@dataclass(slots=True)
class ReportCounts:
    created: int = 0
    corrected: int = 0
    unchanged: int = 0
    report_ids: list[str] = field(default_factory=list)

    def add(self, outcome: SaveOutcome) -> None:
        from billbridge.store.reports import SaveOutcome

        if outcome is SaveOutcome.CREATED:
            self.created += 1
        elif outcome is SaveOutcome.CORRECTED:
            self.corrected += 1
        else:
            self.unchanged += 1

    def __str__(self) -> str:
        return f"{self.created} new, {self.corrected} corrected, {self.unchanged} unchanged"


def import_organizations(store: Store, paths: Sequence[Path]) -> ChangeCounts:
    organizations = read_organizations(paths)
    with store.transaction() as uow:
        return uow.organizations.upsert(organizations, keep_links=False)


def import_price_list(store: Store, paths: Sequence[Path]) -> ChangeCounts:
    items = read_price_list(paths)
    with store.transaction() as uow:
        return uow.price_list.upsert(items)


def import_reports(store: Store, paths: Sequence[Path]) -> ReportCounts:
    """Save the reports of the files, or none of them.

    Unknown organizations are reported together with the files' own problems, so one run
    shows everything there is to fix.
    """
    log = ProblemLog()
    located = collect_reports(paths, log)
    with store.transaction() as uow:
        known = uow.organizations.get_many(r.report.organization_id for r in located)
        for r in located:
            if r.report.organization_id not in known:
                log.add(
                    r.file,
                    r.line,
                    "organization_id",
                    f"unknown organization '{r.report.organization_id}'; import it first"
                    " with `billbridge import organizations`",
                )
        log.raise_if_any()
        return _save_reports(uow, located, _names(paths))


@dataclass(slots=True)
class PartnerCenterCounts:
    organizations: ChangeCounts
    reports: ReportCounts
    warnings: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    """Per file (by name), the rows it had."""


def import_partner_center(
    store: Store | Callable[[], Store],
    paths: Sequence[Path],
    *,
    generated_on: date | None,
    today: date | None = None,
    azure_markup: Decimal | None = None,
    license_markup: Decimal | None = None,
    source: str | None = None,
) -> PartnerCenterCounts:
    """Organizations (by tenant id, never touching their links) and reports from Partner Center.

    Without `generated_on`, new reports are generated `today`, and a report already stored
    with the same lines keeps its date: importing the same file again on a later day changes
    nothing (and does not make the report due again).

    The reports' revisions name `source` as where they came from (the files' names without).

    `store` may be a function that opens it: it is then opened (and migrated), and the price
    list loaded, in a thread while the files are read, which mostly waits on polars (it
    releases the GIL): a command's start-up is hidden behind the reading of a big file.
    """
    with ThreadPoolExecutor(1) as pool:
        opening = pool.submit(_store_and_prices, store)
        result = read_partner_center(
            paths,
            generated_on=generated_on or today or datetime.now(UTC).date(),
            azure_markup=azure_markup,
            license_markup=license_markup,
            price_list=lambda: opening.result()[1],
        )
        opened = opening.result()[0]
    with opened.transaction() as uow:
        reports = result.reports
        if generated_on is None:
            heads = uow.reports.heads(item.report.report_id for item in reports)
            reports = [_keep_generated_date(heads, item) for item in reports]
        organizations = uow.organizations.upsert(result.organizations, keep_links=True)
        counts = _save_reports(uow, reports, source or _names(paths))
    return PartnerCenterCounts(organizations, counts, list(result.warnings), result.rows)


def _store_and_prices(store: Store | Callable[[], Store]) -> tuple[Store, dict[str, PriceListItem]]:
    opened = store() if callable(store) else store
    with opened.transaction() as uow:
        return opened, {item.sku: item for item in uow.price_list.all()}


def _keep_generated_date(
    heads: Mapping[str, tuple[date, str]], item: LocatedReport
) -> LocatedReport:
    """The report dated as the stored one when that is all that differs."""
    stored = heads.get(item.report.report_id)
    if stored is None or stored[0] == item.report.generated_on:
        return item
    same_day = replace(item.report, generated_on=stored[0])
    if same_day.content_hash != stored[1]:
        return item
    return replace(item, report=same_day)


def _names(paths: Sequence[Path]) -> str:
    return ", ".join(p.name for p in paths)


def _save_reports(uow: UnitOfWork, located: Sequence[LocatedReport], source: str) -> ReportCounts:
    counts = ReportCounts()
    for item in located:
        counts.add(uow.reports.save(item.report, source=source))
        counts.report_ids.append(item.report.report_id)
    return counts

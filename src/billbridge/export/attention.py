"""Needs attention: what a person must act on, from the store (no Autotask request).

Unresolved conflicts with the money they carry, failed reports with Autotask's text, unlinked
organizations that have billing, lines sold below cost or under `reconcile.margin_floor`, and
terms ending within 30 days. Each item has a stable key; a person marks it resolved with a
note, and it stays resolved while what it says is unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from billbridge.config import Settings
from billbridge.domain.reconcile import Flag
from billbridge.domain.report import BillingReport
from billbridge.domain.totals import (
    SubscriptionCharge,
    conflict_amount,
    margin_percent,
    money_text,
    subscription_charges,
    total,
)
from billbridge.store import Store
from billbridge.store.resolutions import Resolution, ResolutionRepository

TERM_DAYS = 30
KINDS = ("conflict", "failed_report", "unlinked", "below_cost", "margin_below_floor", "term_ending")


@dataclass(frozen=True, slots=True)
class Item:
    kind: str
    key: str
    title: str
    detail: str
    organization_id: str | None = None
    report_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    link: str | None = None
    resolution: Resolution | None = None

    @property
    def fingerprint(self) -> str:
        text = json.dumps([self.kind, self.title, self.detail, str(self.amount)])
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def resolved(self) -> bool:
        return self.resolution is not None and self.resolution.fingerprint == self.fingerprint

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "title": self.title,
            "detail": self.detail,
            "organization_id": self.organization_id,
            "report_id": self.report_id,
            "amount": None if self.amount is None else money_text(self.amount),
            "currency": self.currency,
            "resolved": self.resolved,
            "resolution": None
            if not self.resolved or self.resolution is None
            else {
                "note": self.resolution.note,
                "by": self.resolution.resolved_by,
                "at": self.resolution.resolved_at.isoformat(),
            },
        }


@dataclass(frozen=True, slots=True)
class Attention:
    items: tuple[Item, ...]

    @property
    def open(self) -> list[Item]:
        return [i for i in self.items if not i.resolved]

    @property
    def resolved(self) -> list[Item]:
        return [i for i in self.items if i.resolved]

    def to_json(self) -> dict[str, Any]:
        counts = dict.fromkeys(KINDS, 0)
        for item in self.open:
            counts[item.kind] += 1
        return {
            "open": len(self.open),
            "counts": counts,
            "items": [i.to_json() for i in self.open],
            "resolved": [i.to_json() for i in self.resolved],
        }


class UnknownItemError(LookupError):
    pass


def needs_attention(store: Store, settings: Settings, today: date) -> Attention:
    with store.transaction() as uow:
        repo = ResolutionRepository(uow.connection)
        resolutions = repo.all()
        latest = repo.latest_report_runs()
        conflicts = repo.conflicts(latest)
        organizations = {o.organization_id: o for o in uow.organizations.all()}
        summaries = uow.reports.summaries()
        newest: dict[str, str] = {}
        for summary in summaries:  # newest period first
            newest.setdefault(summary.organization_id, summary.report_id)
        current = [s.report for s in uow.reports.get_many(list(newest.values()))]
        conflict_reports = {
            s.report.report_id: s.report
            for s in uow.reports.get_many(sorted({c.report_id for c in conflicts}))
        }
    names = {o.organization_id: o.name for o in organizations.values()}
    items: list[Item] = []
    for conflict in conflicts:
        items.append(_conflict_item(conflict, conflict_reports.get(conflict.report_id), names))
    for run in latest:
        if run.status == "failed":
            items.append(
                Item(
                    "failed_report",
                    f"failed:{run.report_id}",
                    f"Report {run.report_id} failed in run {run.run_id}",
                    run.reason or "failed",
                    organization_id=run.organization_id,
                    report_id=run.report_id,
                    link=f"/runs/{run.run_id}",
                )
            )
    charges = {r.report_id: subscription_charges(r) for r in current}
    for report in current:
        organization = organizations.get(report.organization_id)
        if organization is not None and organization.active and not organization.is_linked:
            sums = total(charges[report.report_id])
            amounts = sums[0] if sums else None
            items.append(
                Item(
                    "unlinked",
                    f"unlinked:{organization.organization_id}",
                    f"{organization.name} has billing but no Autotask company",
                    f"report {report.report_id} ({report.period_label}) is not exported until"
                    " it is linked",
                    organization_id=organization.organization_id,
                    report_id=report.report_id,
                    amount=amounts.price if amounts else None,
                    currency=report.currency,
                    link=f"/organizations/{organization.organization_id}",
                )
            )
        items += _margin_items(charges[report.report_id], names, settings)
        items += _term_items(report, names, today)
    resolved = [
        Item(**{**_fields(item), "resolution": resolutions.get(item.key)}) for item in items
    ]
    return Attention(tuple(resolved))


def resolve_item(
    store: Store, settings: Settings, today: date, key: str, note: str, by: str, at: datetime
) -> Item:
    """Mark one open item resolved with a note, by whom and when."""
    attention = needs_attention(store, settings, today)
    found = next((i for i in attention.items if i.key == key), None)
    if found is None:
        raise UnknownItemError(f"nothing needs attention under the key {key!r}")
    with store.transaction() as uow:
        resolution = ResolutionRepository(uow.connection).resolve(
            key, found.fingerprint, note, by, at
        )
    return Item(**{**_fields(found), "resolution": resolution})


def _fields(item: Item) -> dict[str, Any]:
    return {name: getattr(item, name) for name in Item.__dataclass_fields__}


def _conflict_item(conflict: Any, report: BillingReport | None, names: dict[str, str]) -> Item:
    currency = report.currency if report else ""
    held: dict[str, Decimal | None] = {}
    if report is not None:
        for charge in subscription_charges(report):
            if conflict.key == f"{charge.subscription_id}/{charge.period}":
                held = {"unitQuantity": charge.quantity, "unitPrice": charge.unit_price}
    amount = conflict_amount(conflict.changes, held, currency, conflict.autotask_id)
    organization = report.organization_id if report else None
    who = names.get(organization or "", organization or "")
    detail = amount.text if amount else (conflict.reason or "conflict")
    if amount and conflict.reason:
        # The plan writes the amount into a billed charge's reason itself: not said twice.
        said = conflict.reason.startswith(amount.text)
        detail = conflict.reason if said else f"{amount.text}. {conflict.reason}"
    return Item(
        "conflict",
        f"conflict:{conflict.report_id}:{conflict.entity}:{conflict.key}",
        f"{conflict.entity} {conflict.key} of {who or conflict.report_id}",
        detail,
        organization_id=organization,
        report_id=conflict.report_id,
        amount=amount.amount if amount else None,
        currency=currency or None,
        link=f"/runs/{conflict.run_id}",
    )


def _margin_items(
    charges: Sequence[SubscriptionCharge], names: dict[str, str], settings: Settings
) -> list[Item]:
    floor = settings.reconcile.margin_floor
    items = []
    for charge in charges:
        percent = margin_percent(charge.price, charge.cost)
        who = names.get(charge.organization_id, charge.organization_id)
        where = f"{who}, {charge.product} ({charge.subscription_id}), {charge.period}"
        margin = charge.price - charge.cost
        if charge.price < charge.cost:
            kind, text = Flag.BELOW_COST.value, "sold below cost"
        elif floor is not None and charge.cost > 0 and (percent is None or percent < floor):
            kind, text = Flag.MARGIN_BELOW_FLOOR.value, f"margin under {money_text(floor)}%"
        else:
            continue
        items.append(
            Item(
                kind,
                f"{kind}:{charge.report_id}:{charge.subscription_id}",
                f"{where}: {text}",
                f"cost {money_text(charge.cost)}, price {money_text(charge.price)},"
                f" margin {money_text(margin)} {charge.currency}"
                + (f" ({money_text(percent)}%)" if percent is not None else ""),
                organization_id=charge.organization_id,
                report_id=charge.report_id,
                amount=margin,
                currency=charge.currency,
                link=f"/reports/{charge.report_id}",
            )
        )
    return items


def _term_items(report: BillingReport, names: dict[str, str], today: date) -> list[Item]:
    ends: dict[str, tuple[date, str]] = {}
    for line in report.lines:
        end = line.subscription_end
        if end is not None and today <= end <= today + timedelta(days=TERM_DAYS):
            ends[line.subscription_id] = (end, line.product_name)
    who = names.get(report.organization_id, report.organization_id)
    return [
        Item(
            "term_ending",
            f"term:{report.organization_id}:{subscription}:{end.isoformat()}",
            f"{who}, {product} ({subscription}): term ends {end.isoformat()}",
            f"in {(end - today).days} days; renew, or let it end and stop billing it",
            organization_id=report.organization_id,
            report_id=report.report_id,
            link=f"/reports/{report.report_id}",
        )
        for subscription, (end, product) in sorted(ends.items())
    ]

"""The month to date: Graph's unbilled usage export, read in memory and never stored.

Graph's unbilled usage export (`POST .../billing/usage/unbilled/export` with
`{"billingPeriod": "current", "currencyCode": ...}`) is read like a billed one, but nothing is
stored and nothing is exported: Microsoft's unbilled figures change until the invoice is made.
`fetch_unbilled` is the one place that fetches and reads it; `billbridge pull partner-center
--unbilled current` shows it per organization (`preview_unbilled`), and `plan` and `reconcile`
with `--unbilled current` hold it against Autotask.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from billbridge.config import Settings
from billbridge.domain.price_list import PriceListItem
from billbridge.domain.report import BillingReport
from billbridge.microsoft import NoData
from billbridge.microsoft.client import PartnerCenterClient
from billbridge.microsoft.errors import MalformedResponseError
from billbridge.pulling import describe_problems, microsoft_settings
from billbridge.sources.partner_center import PartnerCenterImport, read_partner_center
from billbridge.sources.partner_center.files import is_blank
from billbridge.sources.problems import InputError

NO_UNBILLED_USAGE = "Microsoft has no unbilled usage for the current period yet"


@dataclass(frozen=True)
class Unbilled:
    """What Microsoft's unbilled usage export holds for the month to date, read in memory."""

    currency: str
    read: PartnerCenterImport
    """Empty when Microsoft answers "No data available" or serves blobs of no rows."""

    @property
    def reports(self) -> list[BillingReport]:
        return [item.report for item in self.read.reports]

    @property
    def names(self) -> dict[str, str]:
        """Organization id -> name, as Microsoft's data names each customer."""
        return {o.organization_id: o.name for o in self.read.organizations}

    @property
    def rows(self) -> int:
        return sum(self.read.rows.values())


@dataclass(frozen=True)
class PreviewLine:
    organization: str
    period: str
    cost: Decimal
    price: Decimal


@dataclass(frozen=True)
class Preview:
    currency: str
    rows: int
    lines: tuple[PreviewLine, ...]


def fetch_unbilled(
    settings: Settings,
    client: PartnerCenterClient | None = None,
    *,
    price_list: Mapping[str, PriceListItem] | None = None,
) -> Unbilled:
    """The current period's unbilled usage, priced as an import would price it (`price_list`:
    the store's, when there is one); nothing is written anywhere."""
    own = client is None
    client = client or PartnerCenterClient(microsoft_settings(settings))
    try:
        return _fetch(settings, client, price_list or {})
    finally:
        if own:
            client.close()


def _fetch(
    settings: Settings, client: PartnerCenterClient, price_list: Mapping[str, PriceListItem]
) -> Unbilled:
    invoices = client.invoices()
    currency = invoices[-1].currency if invoices and invoices[-1].currency else "USD"
    nothing = Unbilled(currency, PartnerCenterImport([], []))
    what = "the unbilled usage export"
    outcome = client.wait(client.start_unbilled_usage_export(currency), what)
    if isinstance(outcome, NoData):
        return nothing
    manifest = client.manifest(outcome, what)
    with tempfile.TemporaryDirectory(prefix="billbridge-preview-") as directory:
        blobs = client.download(manifest, Path(directory), "unbilled-usage", what)
        paths = [blob.path for blob in blobs if not is_blank(blob.path)]
        if not paths:
            return nothing
        try:
            read = read_partner_center(
                paths,
                generated_on=datetime.now(UTC).date(),
                azure_markup=settings.partner_center.azure_markup,
                license_markup=settings.partner_center.license_markup,
                price_list=price_list,
            )
        except InputError as exc:
            in_blobs = {str(blob.path): ("usage", blob.name) for blob in blobs}
            raise MalformedResponseError(
                describe_problems("Microsoft's unbilled usage export", exc, in_blobs)
            ) from None
    return Unbilled(currency, read)


def preview_unbilled(settings: Settings, client: PartnerCenterClient | None = None) -> Preview:
    """The month to date's cost and price per organization."""
    unbilled = fetch_unbilled(settings, client)
    names = unbilled.names
    lines = tuple(
        PreviewLine(
            names.get(report.organization_id, report.organization_id),
            f"{report.period_start}..{report.period_end}",
            sum((line.quantity * line.unit_cost for line in report.lines), Decimal(0)),
            sum((line.quantity * line.unit_price for line in report.lines), Decimal(0)),
        )
        for report in unbilled.reports
    )
    return Preview(unbilled.currency, unbilled.rows, lines)

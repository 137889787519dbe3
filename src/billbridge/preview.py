"""`billbridge pull partner-center --unbilled current`: the month to date, for a look only.

Graph's unbilled usage export (`POST .../billing/usage/unbilled/export` with
`{"billingPeriod": "current", "currencyCode": ...}`) is read like a billed one, but nothing is
stored and nothing is exported: Microsoft's unbilled figures change until the invoice is made.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from billbridge.config import Settings
from billbridge.microsoft import NoData
from billbridge.microsoft.client import PartnerCenterClient
from billbridge.microsoft.errors import MalformedResponseError
from billbridge.pulling import describe_problems, microsoft_settings
from billbridge.sources.partner_center import read_partner_center
from billbridge.sources.partner_center.files import is_blank
from billbridge.sources.problems import InputError


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


def preview_unbilled(settings: Settings, client: PartnerCenterClient | None = None) -> Preview:
    own = client is None
    client = client or PartnerCenterClient(microsoft_settings(settings))
    try:
        invoices = client.invoices()
        currency = invoices[-1].currency if invoices and invoices[-1].currency else "USD"
        what = "the unbilled usage export"
        outcome = client.wait(client.start_unbilled_usage_export(currency), what)
        if isinstance(outcome, NoData):
            return Preview(currency, 0, ())
        manifest = client.manifest(outcome, what)
        with tempfile.TemporaryDirectory(prefix="billbridge-preview-") as directory:
            blobs = client.download(manifest, Path(directory), "unbilled-usage", what)
            paths = [blob.path for blob in blobs if not is_blank(blob.path)]
            if not paths:
                return Preview(currency, 0, ())
            try:
                read = read_partner_center(
                    paths,
                    generated_on=datetime.now(UTC).date(),
                    azure_markup=settings.partner_center.azure_markup,
                    license_markup=settings.partner_center.license_markup,
                    price_list={},
                )
            except InputError as exc:
                in_blobs = {str(blob.path): ("usage", blob.name) for blob in blobs}
                raise MalformedResponseError(
                    describe_problems("Microsoft's unbilled usage export", exc, in_blobs)
                ) from None
    finally:
        if own:
            client.close()
    names = {o.organization_id: o.name for o in read.organizations}
    lines = tuple(
        PreviewLine(
            names.get(item.report.organization_id, item.report.organization_id),
            f"{item.report.period_start}..{item.report.period_end}",
            sum((line.quantity * line.unit_cost for line in item.report.lines), Decimal(0)),
            sum((line.quantity * line.unit_price for line in item.report.lines), Decimal(0)),
        )
        for item in read.reports
    )
    return Preview(currency, sum(read.rows.values()), lines)

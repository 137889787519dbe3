"""The Microsoft client billbridge pulls with: invoices, exports, operations, manifests, blobs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from billbridge.microsoft import exports
from billbridge.microsoft.exports import BlobFile, Kind, Manifest, Outcome
from billbridge.microsoft.http import MicrosoftHttp
from billbridge.microsoft.invoices import InvoiceSummary, list_invoices
from billbridge.microsoft.settings import MicrosoftSettings


class PartnerCenterClient:
    """A direct CSP partner's view of its billing, by app (client credentials) tokens."""

    def __init__(
        self,
        settings: MicrosoftSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"transport": transport}
        if sleep is not None:
            kwargs["sleep"] = sleep
        self.http = MicrosoftHttp(settings, **kwargs)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PartnerCenterClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def invoices(self) -> list[InvoiceSummary]:
        return list_invoices(self.http)

    def start_billed_export(self, kind: Kind, invoice_id: str) -> str:
        body = {"invoiceId": invoice_id, "attributeSet": "full"}
        return exports.start_export(self.http, kind, body, _what(kind, invoice_id))

    def start_unbilled_usage_export(self, currency: str, period: str = "current") -> str:
        body = {"billingPeriod": period, "currencyCode": currency, "attributeSet": "full"}
        return exports.start_export(
            self.http, "usage", body, f"the unbilled usage export ({period})"
        )

    def wait(
        self, operation_url: str, what: str, on_poll: Callable[[str], None] | None = None
    ) -> Outcome:
        return exports.wait(self.http, operation_url, what, on_poll=on_poll)

    def manifest(self, outcome: exports.Succeeded, what: str) -> Manifest:
        if outcome.manifest is not None:
            return outcome.manifest
        assert outcome.manifest_url is not None
        return exports.fetch_manifest(self.http, outcome.manifest_url, what)

    def download(
        self,
        manifest: Manifest,
        directory: Path,
        prefix: str,
        what: str,
        on_blob: Callable[[int], None] | None = None,
    ) -> list[BlobFile]:
        return exports.download(self.http, manifest, directory, prefix, what, on_blob=on_blob)


def _what(kind: Kind, invoice_id: str) -> str:
    return (
        f"invoice {invoice_id}'s {'reconciliation' if kind == 'reconciliation' else 'usage'} export"
    )

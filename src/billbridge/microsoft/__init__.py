"""The Microsoft client: app tokens by client credentials, Partner Center's invoice list and
Graph's billing exports (operation, manifest, blobs), streamed to files the Partner Center
reader reads. Imports nothing of Autotask (docs/design.md); `billbridge.pulling` orchestrates."""

from __future__ import annotations

from billbridge.microsoft.client import PartnerCenterClient
from billbridge.microsoft.errors import MicrosoftError
from billbridge.microsoft.exports import KINDS, Kind, Manifest, NoData, Succeeded
from billbridge.microsoft.invoices import InvoiceSummary
from billbridge.microsoft.settings import GRAPH_SCOPE, MicrosoftSettings

__all__ = [
    "GRAPH_SCOPE",
    "KINDS",
    "InvoiceSummary",
    "Kind",
    "Manifest",
    "MicrosoftError",
    "MicrosoftSettings",
    "NoData",
    "PartnerCenterClient",
    "Succeeded",
]

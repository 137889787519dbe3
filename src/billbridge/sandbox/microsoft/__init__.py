"""The Microsoft side of the sandbox: Entra ID tokens, Partner Center invoices and the Graph
billing exports (operations, manifests, blobs), served from the user's Partner Center files.

`billbridge sandbox --partner-center FILE...` mounts it at `/microsoft`; see docs/pull.md.
"""

from __future__ import annotations

from billbridge.sandbox.microsoft.billing import BillingData, BillingFileError
from billbridge.sandbox.microsoft.service import (
    CLIENT_ID,
    CLIENT_SECRET,
    GRAPH_SCOPE,
    PARTNER_CENTER_SCOPE,
    PREFIX,
    TENANT_ID,
    MicrosoftEmulator,
    MicrosoftFaults,
)

__all__ = [
    "CLIENT_ID",
    "CLIENT_SECRET",
    "GRAPH_SCOPE",
    "PARTNER_CENTER_SCOPE",
    "PREFIX",
    "TENANT_ID",
    "BillingData",
    "BillingFileError",
    "MicrosoftEmulator",
    "MicrosoftFaults",
]

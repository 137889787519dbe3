"""The emulator of one sandbox, from its options."""

from __future__ import annotations

from billbridge.sandbox.microsoft.billing import BillingData
from billbridge.sandbox.microsoft.service import MicrosoftEmulator, MicrosoftFaults
from billbridge.sandbox.options import SandboxOptions


def microsoft_emulator(options: SandboxOptions) -> MicrosoftEmulator:
    """Raises `BillingFileError` naming a file it cannot serve."""
    return MicrosoftEmulator(
        BillingData(options.partner_center, blob_rows=options.blob_rows),
        options.microsoft_faults or MicrosoftFaults(),
    )

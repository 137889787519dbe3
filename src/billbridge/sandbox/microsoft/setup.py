"""The emulator of one sandbox, from its options."""

from __future__ import annotations

from billbridge.sandbox.microsoft.billing import BillingData, BillingFileError
from billbridge.sandbox.microsoft.service import MicrosoftEmulator, MicrosoftFaults
from billbridge.sandbox.options import SandboxOptions


def microsoft_emulator(options: SandboxOptions) -> MicrosoftEmulator:
    """Raises `BillingFileError` naming a file it cannot serve, or an unbilled invoice that
    none of the files holds."""
    data = BillingData(options.partner_center, blob_rows=options.blob_rows)
    unbilled = options.unbilled_invoice
    if unbilled is not None and unbilled not in data.invoices:
        served = ", ".join(sorted(data.invoices)) or "none"
        raise BillingFileError(
            f"--unbilled-invoice {unbilled}: no file served holds that invoice (served: {served})"
        )
    emulator = MicrosoftEmulator(data, options.microsoft_faults or MicrosoftFaults())
    emulator.unbilled_invoice_id = unbilled
    return emulator

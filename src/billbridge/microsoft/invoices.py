"""Partner Center's invoice list (`GET {api_url}/v1/invoices`), every page.

Pages follow `links.next.uri` (relative to `{api_url}/v1`, as in Microsoft's documented
example), passing on the `MS-ContinuationToken` header when a link carries one.

Microsoft's documented example nests an invoice's adjustment notes in its `amendments` (with
`amendsOf`) and lists a voided invoice as a `void_note`; those, and legacy (`Recurring`)
invoices, are listed here too, so that the pull can say why it leaves each one out rather
than leave it out unseen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from billbridge.microsoft.errors import MalformedResponseError
from billbridge.microsoft.http import MicrosoftHttp, parse_json

MAX_PAGES = 1000


@dataclass(frozen=True)
class InvoiceSummary:
    id: str
    invoice_date: date
    currency: str
    total: Decimal
    document_type: str
    invoice_type: str
    amends: str | None = None
    """For an adjustment note (nested in an invoice's `amendments`), the invoice it amends."""

    @property
    def pullable(self) -> bool:
        """A New Commerce invoice with billed exports: not a void note or a legacy one."""
        return self.document_type.lower() == "invoice" and self.invoice_type.lower() == "onetime"

    @property
    def voided(self) -> bool:
        return self.document_type.lower() == "void_note"

    @property
    def left_out(self) -> str:
        """Why a pull leaves this document out unless named, and what to do ("" if pullable)."""
        if self.pullable:
            return ""
        amount = f"{self.currency} {self.total:,.2f}".strip()
        if self.voided:
            return f"a void note ({amount}): Microsoft voided this invoice; nothing to bill"
        if self.document_type.lower() == "adjustment_note":
            of = f" of invoice {self.amends}" if self.amends else ""
            return (
                f"an adjustment note{of} ({amount}): check it in Partner Center;"
                f" --invoice {self.id} pulls it if Microsoft exports its lines"
            )
        if self.invoice_type.lower() == "recurring":
            return (
                f"a legacy (Recurring) invoice ({amount}): Graph's billed exports cover New"
                " Commerce invoices; import its files with `billbridge import partner-center`"
            )
        return (
            f"a {self.document_type} of type {self.invoice_type} ({amount}), not a New Commerce"
            f" invoice; --invoice {self.id} tries to pull it"
        )


def list_invoices(http: MicrosoftHttp) -> list[InvoiceSummary]:
    settings = http.settings
    root = f"{settings.api_url}/v1"
    url = f"{root}/invoices"
    params: dict[str, str] | None = {"size": "200", "offset": "0"}
    invoices: dict[str, InvoiceSummary] = {}
    seen: set[str] = set()
    for _ in range(MAX_PAGES):
        response = http.call(
            "GET", url, scope=settings.api_scope, params=params, what="the invoice list"
        )
        body = parse_json(response, url, "the invoice list")
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise MalformedResponseError('the invoice list has no "items" list', url=url)
        for item in body["items"]:
            invoice = _invoice(item, url)
            invoices.setdefault(invoice.id, invoice)
            for note in _amendments(item, invoice.id, url):
                invoices.setdefault(note.id, note)
        link = (
            (body.get("links") or {}).get("next") if isinstance(body.get("links"), dict) else None
        )
        if not isinstance(link, dict) or not isinstance(link.get("uri"), str) or not link["uri"]:
            return sorted(invoices.values(), key=lambda i: (i.invoice_date, i.id))
        uri = link["uri"]
        url = uri if uri.startswith("http") else f"{root}/{uri.lstrip('/')}"
        params = None
        if url in seen:
            raise MalformedResponseError("the invoice list's next link repeats a page", url=url)
        seen.add(url)
    raise MalformedResponseError(f"the invoice list has more than {MAX_PAGES} pages", url=url)


def _amendments(item: dict[str, Any], invoice_id: str, url: str) -> list[InvoiceSummary]:
    found = item.get("amendments")
    if found is None:
        return []
    if not isinstance(found, list):
        raise MalformedResponseError(f"invoice {invoice_id}'s amendments are not a list", url=url)
    # `_invoice` refuses a note that is not an object before its amendsOf is read.
    return [
        replace(_invoice(raw, url), amends=str(raw.get("amendsOf") or invoice_id)) for raw in found
    ]


def _invoice(item: Any, url: str) -> InvoiceSummary:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
        raise MalformedResponseError("an invoice of the list has no id", url=url)
    invoice_id = item["id"]
    try:
        when = datetime.fromisoformat(str(item.get("invoiceDate", "")).replace("Z", "+00:00"))
    except ValueError:
        raise MalformedResponseError(
            f"invoice {invoice_id} has no readable invoiceDate: {item.get('invoiceDate')!r}",
            url=url,
        ) from None
    try:
        total = Decimal(str(item.get("totalCharges", 0)))
    except InvalidOperation:
        total = Decimal(0)
    return InvoiceSummary(
        id=invoice_id,
        invoice_date=when.date(),
        currency=str(item.get("currencyCode") or ""),
        total=total,
        document_type=str(item.get("documentType") or "invoice"),
        invoice_type=str(item.get("invoiceType") or "OneTime"),
    )

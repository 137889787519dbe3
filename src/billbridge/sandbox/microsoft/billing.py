"""The emulator's billing data: Partner Center files turned into invoices and export blobs.

The user's files (invoice reconciliation and daily-rated usage, CSV or JSON lines, plain or
gzipped) are read once, row by row, and each row is written as one JSON line into the gzipped
blobs of its invoice and kind, in a spool directory, as Microsoft's Graph billing export stores
them in Azure blob storage: `part-NNNNN-<uuid>.c000.json.gz`, several gzip members per blob (a
large partition is split into several files, one partition "default"). So a month of millions
of rows is converted once, never held in memory, and served by file.

The emulator holds its own copy of what it must know about these files (the sandbox imports
nothing of billbridge outside itself): which kind a file is, by its columns; the invoice number,
dates, currency and amount columns.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import polars as pl

Kind = Literal["reconciliation", "usage"]
KINDS: tuple[Kind, ...] = ("reconciliation", "usage")

_NOT_ALNUM = re.compile(r"[^0-9a-z]")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
# A JSON number as Microsoft writes it (exponents included: `7.10833E-05`).
_JSON_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$")
_NUMERIC = {
    "unitprice",
    "quantity",
    "billingpretaxtotal",
    "pricingpretaxtotal",
    "effectiveunitprice",
    "pctobcexchangerate",
    "partnerearnedcreditpercentage",
    "creditpercentage",
    "billablequantity",
    "subtotal",
    "taxtotal",
    "total",
    "totalforcustomer",
}
_MEMBER_ROWS = 50_000
_ACCOUNTED = (
    "billingcurrency",
    "currency",
    "billingpretaxtotal",
    "total",
    "subtotal",
    "chargestartdate",
    "chargeenddate",
)


class BillingFileError(ValueError):
    """A file the emulator cannot serve (named, with the reason)."""


def canonical(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


@dataclass
class Blob:
    name: str
    path: Path
    rows: int


@dataclass
class Invoice:
    """One Partner Center invoice and the blobs of its two billed exports."""

    id: str
    currency: str = "USD"
    total: Decimal = Decimal(0)
    period_start: date | None = None
    period_end: date | None = None
    blobs: dict[Kind, list[Blob]] = field(
        default_factory=lambda: {"reconciliation": [], "usage": []}
    )
    invoice_date: date | None = None
    """Set by the emulator's user, or the 8th of the month after the billing period."""

    @property
    def date(self) -> date:
        if self.invoice_date is not None:
            return self.invoice_date
        end = self.period_end or date(2000, 1, 1)
        first = (end.replace(day=1) + timedelta(days=32)).replace(day=1)
        return first.replace(day=8)

    def etag(self, kind: Kind) -> str:
        """Changes when the exported content does (the digest of its blobs)."""
        digest = hashlib.sha256(kind.encode())
        for blob in self.blobs[kind]:
            digest.update(blob.name.encode())
            digest.update(str(blob.path.stat().st_size).encode())
        return digest.hexdigest()[:17]

    def rows(self, kind: Kind) -> int:
        return sum(blob.rows for blob in self.blobs[kind])

    def to_json(self) -> dict[str, Any]:
        """As Partner Center's `GET v1/invoices` writes an invoice (Partner Center REST, "Get a
        collection of invoices")."""
        lines = f"/invoices/OneTime-{self.id}/lineitems/OneTime/BillingLineItems"
        return {
            "id": self.id,
            "invoiceDate": f"{self.date.isoformat()}T00:00:00Z",
            "billingPeriodStartDate": f"{(self.period_start or self.date).isoformat()}T00:00:00Z",
            "billingPeriodEndDate": f"{(self.period_end or self.date).isoformat()}T00:00:00Z",
            "totalCharges": float(self.total),
            "paidAmount": 0,
            "currencyCode": self.currency,
            "currencySymbol": "$" if self.currency == "USD" else self.currency,
            "pdfDownloadLink": f"/invoices/{self.id}/documents/statement",
            "invoiceDetails": [
                {
                    "invoiceLineItemType": "billing_line_items",
                    "billingProvider": "one_time",
                    "links": {
                        "self": {
                            "uri": lines,
                            "method": "GET",
                            "headers": [],
                        }
                    },
                    "attributes": {"objectType": "InvoiceDetail"},
                }
            ],
            "documentType": "invoice",
            "invoiceType": "OneTime",
            "links": {
                "self": {"uri": f"/invoices/OneTime-{self.id}", "method": "GET", "headers": []}
            },
            "attributes": {"objectType": "Invoice"},
        }


class BillingData:
    """The invoices of the files given, their blobs spooled to a temporary directory."""

    def __init__(self, paths: Sequence[Path] = (), *, blob_rows: int = 250_000) -> None:
        self.blob_rows = blob_rows
        self.invoices: dict[str, Invoice] = {}
        # Only a sandbox given files gets a spool directory (and must be closed to remove it).
        self._spool = Path(tempfile.mkdtemp(prefix="billbridge-msemu-")) if paths else Path()
        try:
            for path in paths:
                self.add_file(path)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._spool != Path():
            shutil.rmtree(self._spool, ignore_errors=True)

    def add_file(self, path: Path) -> None:
        """Read one file's rows into the blobs of their invoices."""
        if self._spool == Path():
            self._spool = Path(tempfile.mkdtemp(prefix="billbridge-msemu-"))
        try:
            rows = _rows(path)
            header = next(rows)
        except (OSError, EOFError, UnicodeDecodeError, csv.Error, ValueError) as exc:
            raise BillingFileError(f"{path}: cannot be read: {exc}") from None
        except StopIteration:
            raise BillingFileError(f"{path}: is empty") from None
        keys = [canonical(name) for name in header]
        kind = _kind(set(keys))
        if kind is None:
            raise BillingFileError(
                f"{path}: is neither an invoice reconciliation nor a daily-rated usage file"
            )
        index = {key: i for i, key in reversed(list(enumerate(keys)))}
        if "invoicenumber" not in index:
            raise BillingFileError(f"{path}: has no InvoiceNumber column")
        if not _is_json_lines(path) and self._add_csv_fast(path, header, keys, kind, index):
            return
        writers: dict[str, _BlobWriter] = {}
        encoders = [_encoder(name, key) for name, key in zip(header, keys, strict=True)]
        try:
            for row in rows:
                if not any(row):
                    continue
                invoice = self._invoice(row[index["invoicenumber"]].strip() or "UNKNOWN")
                _account(invoice, row, index, kind)
                writer = writers.get(invoice.id)
                if writer is None:
                    writer = writers[invoice.id] = _BlobWriter(
                        self._spool, invoice.blobs[kind], self.blob_rows
                    )
                writer.write(
                    "{"
                    + ",".join(
                        encode(row[i] if i < len(row) else "") for i, encode in enumerate(encoders)
                    )
                    + "}\n"
                )
        except (OSError, EOFError, UnicodeDecodeError, csv.Error) as exc:
            raise BillingFileError(f"{path}: cannot be read: {exc}") from None
        finally:
            for writer in writers.values():
                writer.close()

    def _add_csv_fast(
        self, path: Path, header: list[str], keys: list[str], kind: Kind, index: dict[str, int]
    ) -> bool:
        """The CSV converted by polars (a million rows in seconds, not minutes), the same
        lines as the row by row way; False to leave the file to that way."""
        if len(set(header)) != len(header):
            return False
        try:
            frame = pl.read_csv(path, infer_schema=False, encoding="utf8", raise_if_empty=True)
        except (pl.exceptions.PolarsError, OSError, UnicodeError, ValueError):
            return False
        if [c.lstrip("\ufeff") for c in frame.columns] != header:
            return False
        frame.columns = header
        frame = frame.filter(~pl.all_horizontal(pl.all().is_null()))
        numeric = [name for name, key in zip(header, keys, strict=True) if key in _NUMERIC]
        fields = []
        for name, key in zip(header, keys, strict=True):
            text = pl.col(name).fill_null("")
            if key.endswith("date") and key not in _NUMERIC:
                iso = text.str.to_date("%m/%d/%Y", strict=False).dt.strftime("%Y-%m-%dT00:00:00Z")
                text = pl.when(text.str.contains(_US_DATE.pattern)).then(iso).otherwise(text)
            fields.append(text.alias(name))
        line = pl.struct(fields).struct.json_encode()
        if numeric:
            names = "|".join(re.escape(name) for name in numeric)
            number = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
            line = line.str.replace_all(f'"({names})":"({number})"', '"$1":$2')
        invoice_column = header[index["invoicenumber"]]
        try:
            lines = frame.select(
                pl.col(invoice_column).fill_null("").str.strip_chars().alias("invoice"),
                line.alias("line"),
            )
        except pl.exceptions.PolarsError:
            return False
        wanted = [k for k in _ACCOUNTED if k in index]
        small: dict[str, int] = {k: i for i, k in enumerate(wanted)}
        accounts = frame.select([pl.col(header[index[k]]).fill_null("") for k in wanted])
        for invoice_id, row in zip(
            lines.get_column("invoice").to_list(), accounts.iter_rows(), strict=True
        ):
            _account(self._invoice(invoice_id or "UNKNOWN"), list(row), small, kind)
        for (invoice_id,), part in lines.partition_by(
            "invoice", as_dict=True, maintain_order=True
        ).items():
            writer = _BlobWriter(
                self._spool, self._invoice(str(invoice_id) or "UNKNOWN").blobs[kind], self.blob_rows
            )
            try:
                for text in part.get_column("line").to_list():
                    writer.write(text + "\n")
            finally:
                writer.close()
        return True

    def _invoice(self, invoice_id: str) -> Invoice:
        found = self.invoices.get(invoice_id)
        if found is None:
            found = self.invoices[invoice_id] = Invoice(invoice_id)
        return found


def _kind(keys: set[str]) -> Kind | None:
    if "billingpretaxtotal" in keys or {"usagedate", "entitlementid"} <= keys:
        return "usage"
    if {"chargetype", "effectiveunitprice"} <= keys:
        return "reconciliation"
    return None


def _account(invoice: Invoice, row: list[str], index: dict[str, int], kind: Kind) -> None:
    def value(key: str) -> str:
        i = index.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""

    currency = value("billingcurrency") or value("currency")
    if currency:
        invoice.currency = currency
    amount = value("billingpretaxtotal") if kind == "usage" else value("total") or value("subtotal")
    with contextlib.suppress(InvalidOperation):
        invoice.total += Decimal(amount or 0)
    start = _date(value("chargestartdate"))
    if start is None:
        return
    if kind == "reconciliation":
        # Licence lines may run months ahead: the invoiced month is that of the latest start.
        start = start.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    else:
        end = _date(value("chargeenddate")) or start
    if invoice.period_start is None or start > invoice.period_start:
        invoice.period_start, invoice.period_end = start, end


def _date(text: str) -> date | None:
    match = _US_DATE.match(text)
    if match:
        return date(int(match[3]), int(match[1]), int(match[2]))
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _encoder(name: str, key: str) -> Any:
    prefix = json.dumps(name) + ":"
    if key in _NUMERIC:

        def number(text: str) -> str:
            text = text.strip()
            return prefix + (text if _JSON_NUMBER.match(text) else json.dumps(text))

        return number
    if key.endswith("date"):

        def when(text: str) -> str:
            match = _US_DATE.match(text.strip())
            if match:
                text = f"{match[3]}-{int(match[1]):02d}-{int(match[2]):02d}T00:00:00Z"
            return prefix + json.dumps(text)

        return when
    return lambda text: prefix + json.dumps(text)


class _BlobWriter:
    """Gzipped JSON lines, a new gzip member every `_MEMBER_ROWS` rows (as big exports are)."""

    def __init__(self, spool: Path, blobs: list[Blob], blob_rows: int) -> None:
        self._spool = spool
        self._blobs = blobs
        self._blob_rows = blob_rows
        self._raw: io.BufferedWriter | None = None
        self._member: gzip.GzipFile | None = None
        self._rows = 0

    def write(self, line: str) -> None:
        if self._raw is None or self._blobs[-1].rows >= self._blob_rows:
            self._next_blob()
        elif self._rows and self._rows % _MEMBER_ROWS == 0:
            self._next_member()
        assert self._member is not None
        self._member.write(line.encode("utf-8"))
        self._blobs[-1].rows += 1
        self._rows += 1

    def _next_blob(self) -> None:
        self.close()
        name = f"part-{len(self._blobs):05d}-{uuid.uuid4()}.c000.json.gz"
        path = self._spool / name
        self._blobs.append(Blob(name, path, 0))
        self._raw = path.open("wb")
        self._rows = 0
        self._member = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=1, mtime=0)

    def _next_member(self) -> None:
        assert self._member is not None and self._raw is not None
        self._member.close()
        self._member = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=1, mtime=0)

    def close(self) -> None:
        if self._member is not None:
            self._member.close()
            self._member = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None


def _is_json_lines(path: Path) -> bool:
    with path.open("rb") as probe:
        packed = probe.read(2) == b"\x1f\x8b"
    with gzip.open(path, "rb") if packed else path.open("rb") as raw:
        return raw.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def _rows(path: Path) -> Iterator[list[str]]:
    """The file's header then rows, CSV or JSON lines, plain or gzipped (sniffed)."""
    with path.open("rb") as probe:
        packed = probe.read(2) == b"\x1f\x8b"
    with (
        gzip.open(path, "rb") if packed else path.open("rb") as raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text,
    ):
        first = text.readline()
        if not first:
            return
        if first.lstrip().startswith("{"):
            item = json.loads(first, parse_float=Decimal)
            header = list(item)
            yield header
            yield [_text(item.get(name)) for name in header]
            for line in text:
                if line.strip():
                    item = json.loads(line, parse_float=Decimal)
                    yield [_text(item.get(name)) for name in header]
            return
        reader = csv.reader([first], strict=True)
        yield next(reader)
        yield from csv.reader(text, strict=True)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def utc_now() -> datetime:
    return datetime.now(UTC)

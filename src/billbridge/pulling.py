"""`billbridge pull partner-center` and the daily check's pull: Microsoft's billed exports of
each new invoice, imported as `import partner-center` would, dated by the invoice date.

Per invoice: both exports (reconciliation, usage) are started first and their operation URLs
committed at once, so a pull killed while it waits resumes them on the next run instead of
starting new exports; then each is polled, its manifest read and its blobs streamed, still
gzipped, into files of a temporary directory (bounded by the month's gzipped size on disk, never
held in memory), which the Partner Center reader inflates as it reads them. The import is all
or nothing, as a file import is; only then is the invoice marked pulled, with each manifest's
eTag. An invoice marked pulled is never exported again. An expired SAS (403 on a blob) starts a
new export of that kind only. "No data available" (5000) is an empty export: an invoice with
neither kind is recorded as having nothing billed.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from billbridge.config import PartnerCenterSettings, Settings
from billbridge.importing import import_partner_center
from billbridge.microsoft import KINDS, InvoiceSummary, Kind, MicrosoftSettings, NoData
from billbridge.microsoft.client import PartnerCenterClient
from billbridge.microsoft.errors import MalformedResponseError, MicrosoftError, SasExpiredError
from billbridge.microsoft.exports import BlobFile, Manifest
from billbridge.sources.partner_center.files import is_blank
from billbridge.sources.problems import InputError
from billbridge.store import Store
from billbridge.store.pulls import PulledInvoice

logger = logging.getLogger(__name__)

Status = Literal["imported", "unchanged", "no_data", "skipped", "failed", "waiting"]
"""`skipped`: a document Microsoft lists that is not a New Commerce invoice (a void note, an
adjustment note, a legacy invoice), left out unless named with `--invoice`."""
_MAX_PROBLEMS_SHOWN = 10


@dataclass(frozen=True)
class InvoicePull:
    invoice_id: str
    invoice_date: date | None
    status: Status
    rows: int = 0
    exports_started: int = 0
    report_ids: tuple[str, ...] = ()
    detail: str = ""
    """What was imported, or what went wrong and what to do about it."""


@dataclass
class PullResult:
    invoices: list[InvoicePull] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    older: int = 0
    """New Commerce invoices not pulled, older than `partner_center.history_days`."""

    @property
    def exit_code(self) -> int:
        return 1 if any(i.status in ("failed", "waiting") for i in self.invoices) else 0

    def count(self, status: Status) -> int:
        return sum(1 for i in self.invoices if i.status == status)


_DOWNLOADS = "billbridge-pull-"
"""The prefix of a pull's temporary directory of blobs, followed by its process id."""


def _remove_stale_downloads() -> None:
    """The blob directories of pulls whose process is gone (killed with SIGKILL, or with the
    machine): nothing else would ever remove them, and a month is hundreds of MB. A directory
    whose process id is alive is kept, whoever owns it now."""
    for path in Path(tempfile.gettempdir()).glob(f"{_DOWNLOADS}*-*"):
        pid = path.name.removeprefix(_DOWNLOADS).split("-", 1)[0]
        if not pid.isdigit() or not path.is_dir() or _alive(int(pid)):
            continue
        logger.info("removing %s, left by a pull that did not finish", path)
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or not a pid: not ours to judge
    return True


class PullStopped(Exception):
    """A fatal error (credentials, permission) stopped the pull at `invoice_id`; `result`
    holds what was pulled before it."""

    def __init__(self, error: MicrosoftError, invoice_id: str, result: PullResult) -> None:
        super().__init__(f"the pull stopped at invoice {invoice_id}: {error}")
        self.error = error
        self.invoice_id = invoice_id
        self.result = result


class UnknownInvoicesError(ValueError):
    """`--invoice` named invoices Partner Center does not list: nothing was pulled."""

    def __init__(self, unknown: Sequence[str], listed: int) -> None:
        names = ", ".join(unknown)
        super().__init__(
            f"not in Partner Center's invoice list ({listed} invoices listed): {names};"
            " check the ids; nothing was pulled"
        )
        self.unknown = tuple(unknown)


def microsoft_settings(settings: Settings) -> MicrosoftSettings:
    """The client's settings; `SettingsError` naming each missing key."""
    settings.require(
        "partner_center.tenant_id", "partner_center.client_id", "partner_center.client_secret"
    )
    section: PartnerCenterSettings = settings.partner_center
    assert section.tenant_id and section.client_id and section.client_secret
    return MicrosoftSettings(
        tenant_id=section.tenant_id,
        client_id=section.client_id,
        client_secret=section.client_secret,
        authority_url=section.authority_url,
        graph_url=section.graph_url,
        api_url=section.api_url,
        api_scope=section.api_scope,
        poll_deadline_s=section.poll_deadline_s,
    )


def pull_partner_center(
    store: Store,
    settings: Settings,
    *,
    invoice_ids: Sequence[str] = (),
    today: date | None = None,
    azure_markup: Decimal | None = None,
    license_markup: Decimal | None = None,
    client: PartnerCenterClient | None = None,
    progress: Callable[[str], None] | None = None,
    counted: Callable[[int, int], None] | None = None,
) -> PullResult:
    """Pull the invoices not yet pulled (or `invoice_ids`). Raises fatal `MicrosoftError`s
    met before any invoice (credentials, the invoice list), `PullStopped` for one met at an
    invoice (with what was pulled before it), `UnknownInvoicesError` for ids not listed, and
    `StoreBusyError` when another pull is running; every other problem fails one invoice,
    recorded in the result and the store. `progress` is told each step, `counted` the
    invoices pulled so far of those to pull."""
    day = today or datetime.now(UTC).date()
    section = settings.partner_center
    markups = (
        azure_markup if azure_markup is not None else section.azure_markup,
        license_markup if license_markup is not None else section.license_markup,
    )
    own = client is None
    client = client or PartnerCenterClient(microsoft_settings(settings))
    try:
        with store.exclusive("pull"):
            _remove_stale_downloads()
            puller = _Puller(
                store, client, markups, progress or (lambda _: None), counted or (lambda *_: None)
            )
            return puller.run(invoice_ids, day - timedelta(days=section.history_days))
    finally:
        if own:
            client.close()


def daily_pull(settings: Settings, store: Store) -> Callable[[date], PullResult | None] | None:
    """The daily check's pull: from `partner_center.pull_day` of each month on (Microsoft's
    invoices are ready by the 8th), every invoice not yet pulled; None when the
    `[partner_center]` credentials are not set."""
    if not settings.partner_center.configured:
        return None

    def pull(day: date) -> PullResult | None:
        if day.day < settings.partner_center.pull_day:
            return None
        result = pull_partner_center(store, settings, today=day)
        logger.info(
            "daily pull of %s: %d imported, %d with no data, %d left out, %d waiting, %d failed",
            day,
            result.count("imported"),
            result.count("no_data"),
            result.count("skipped"),
            result.count("waiting"),
            result.count("failed"),
        )
        for invoice in result.invoices:
            if invoice.status in ("failed", "waiting", "skipped"):
                logger.warning("invoice %s: %s", invoice.invoice_id, invoice.detail)
        for warning in result.warnings:
            logger.warning("%s", warning)
        return result

    return pull


class _Puller:
    def __init__(
        self,
        store: Store,
        client: PartnerCenterClient,
        markups: tuple[Decimal | None, Decimal | None],
        progress: Callable[[str], None],
        counted: Callable[[int, int], None],
    ) -> None:
        self.store = store
        self.client = client
        self.azure_markup, self.license_markup = markups
        self.progress = progress
        self.counted = counted
        self.result = PullResult()

    def run(self, invoice_ids: Sequence[str], oldest: date) -> PullResult:
        listed = {invoice.id: invoice for invoice in self.client.invoices()}
        with self.store.transaction() as uow:
            pulled = {p.invoice_id: p for p in uow.pulls.invoices()}
        done = {i for i, p in pulled.items() if p.status in ("imported", "no_data")}
        if invoice_ids:
            chosen = self._named(invoice_ids, listed, pulled, done)
        else:
            chosen = self._new(listed, pulled, done, oldest)
        self.counted(0, len(chosen))
        for count, invoice in enumerate(sorted(chosen, key=lambda i: (i.invoice_date, i.id)), 1):
            try:
                self._add(self._pull(invoice))
            except MicrosoftError as exc:  # only fatal ones get here
                raise PullStopped(exc, invoice.id, self.result) from exc
            self.counted(count, len(chosen))
        return self.result

    def _named(
        self,
        invoice_ids: Sequence[str],
        listed: dict[str, InvoiceSummary],
        pulled: dict[str, PulledInvoice],
        done: set[str],
    ) -> list[InvoiceSummary]:
        """The invoices named, every one of which must be listed (else nothing is pulled)."""
        named = list(dict.fromkeys(invoice_ids))
        unknown = [i for i in named if i not in listed]
        if unknown:
            raise UnknownInvoicesError(unknown, len(listed))
        chosen = []
        for invoice_id in named:
            invoice = listed[invoice_id]
            if invoice_id in done:
                before = pulled[invoice_id]
                self._add(
                    InvoicePull(
                        invoice_id,
                        invoice.invoice_date,
                        "unchanged",
                        rows=before.rows,
                        report_ids=before.report_ids,
                        detail=f"already pulled on {before.pulled_at:%Y-%m-%d};"
                        " nothing exported again",
                    )
                )
            else:
                chosen.append(invoice)
        return chosen

    def _new(
        self,
        listed: dict[str, InvoiceSummary],
        pulled: dict[str, PulledInvoice],
        done: set[str],
        oldest: date,
    ) -> list[InvoiceSummary]:
        """The invoices to pull unasked; the documents left out are said once (and stored,
        so the web admin shows them too), and an invoice voided after its pull is warned of."""
        recent = [i for i in listed.values() if i.invoice_date >= oldest and i.id not in done]
        self.result.older = sum(
            1
            for i in listed.values()
            if i.pullable and i.invoice_date < oldest and i.id not in done
        )
        for invoice in recent:
            if invoice.pullable or invoice.id in pulled:
                continue
            self._record(invoice, "skipped", error=invoice.left_out)
            self._add(
                InvoicePull(invoice.id, invoice.invoice_date, "skipped", detail=invoice.left_out)
            )
        for invoice in listed.values():
            before = pulled.get(invoice.id)
            if invoice.voided and before is not None and before.status == "imported":
                self.result.warnings.append(
                    f"invoice {invoice.id} was pulled on {before.pulled_at:%Y-%m-%d}, and"
                    " Microsoft now lists it as a void note: check the charges billbridge"
                    f" made of its {len(before.report_ids)} reports in Autotask"
                )
        return [i for i in recent if i.pullable]

    def _add(self, pulled: InvoicePull) -> None:
        self.result.invoices.append(pulled)
        self.progress(f"{pulled.invoice_id}: {pulled.status}")  # the summary says the detail

    def _pull(self, invoice: InvoiceSummary) -> InvoicePull:
        self.progress(f"{invoice.id} ({invoice.invoice_date}): exporting")
        started = 0
        try:
            operations, started = self._operations(invoice)
            with tempfile.TemporaryDirectory(prefix=f"{_DOWNLOADS}{os.getpid()}-") as directory:
                return self._fetch_and_import(invoice, operations, started, Path(directory))
        except MicrosoftError as exc:
            if exc.kind == "fatal":
                raise
            status: Status = "waiting" if exc.retriable else "failed"
            detail = str(exc)
            if not exc.retriable:
                # What Microsoft made of these exports is unusable: the next pull exports anew
                # rather than fetch the same failed operation or broken blobs again.
                self._forget_operations(invoice.id)
                detail += "; the next pull exports it again"
            self._record(invoice, status, error=detail)
            return InvoicePull(
                invoice.id, invoice.invoice_date, status, exports_started=started, detail=detail
            )

    def _forget_operations(self, invoice_id: str) -> None:
        with self.store.transaction() as uow:
            for kind, state in uow.pulls.exports(invoice_id).items():
                if state.state == "started":
                    uow.pulls.save_export(invoice_id, kind, state="failed", operation_url=None)

    def _operations(self, invoice: InvoiceSummary) -> tuple[dict[Kind, str], int]:
        """Each kind's operation: the one saved by an earlier pull, or a new export."""
        with self.store.transaction() as uow:
            states = uow.pulls.exports(invoice.id)
        operations: dict[Kind, str] = {}
        started = 0
        for kind in KINDS:
            state = states.get(kind)
            if state is not None and state.state == "no_data":
                continue
            if state is not None and state.state == "started" and state.operation_url:
                operations[kind] = state.operation_url
                continue
            operations[kind] = self._start(invoice.id, kind)
            started += 1
        return operations, started

    def _start(self, invoice_id: str, kind: Kind) -> str:
        url = self.client.start_billed_export(kind, invoice_id)
        with self.store.transaction() as uow:
            uow.pulls.save_export(invoice_id, kind, state="started", operation_url=url)
        return url

    def _fetch_and_import(
        self,
        invoice: InvoiceSummary,
        operations: dict[Kind, str],
        started: int,
        directory: Path,
    ) -> InvoicePull:
        exported: list[_Export] = []
        for kind, url in operations.items():
            export, restarted = self._fetch(invoice.id, kind, url, directory)
            started += restarted
            if export is None:
                with self.store.transaction() as uow:
                    uow.pulls.save_export(invoice.id, kind, state="no_data", operation_url=url)
                continue
            exported.append(export)
        paths = [blob.path for export in exported for blob in export.blobs]
        if not paths:
            self._record(invoice, "no_data")
            return InvoicePull(
                invoice.id,
                invoice.invoice_date,
                "no_data",
                exports_started=started,
                detail="Microsoft has no billed data for it (No data available)",
            )
        self.progress(f"{invoice.id}: importing {len(paths)} blob(s)")
        try:
            counts = import_partner_center(
                self.store,
                paths,
                generated_on=invoice.invoice_date,
                azure_markup=self.azure_markup,
                license_markup=self.license_markup,
                source=f"Microsoft's exports of invoice {invoice.id}",
            )
        except InputError as exc:
            subject = f"Microsoft's export of invoice {invoice.id}"
            raise MalformedResponseError(
                describe_problems(subject, exc, _blob_names(exported))
            ) from None
        rows = {export.kind: export.rows(counts.rows) for export in exported}
        with self.store.transaction() as uow:
            for export in exported:
                uow.pulls.save_export(
                    invoice.id,
                    export.kind,
                    state="imported",
                    operation_url=None,
                    etag=export.etag,
                    rows=rows[export.kind],
                )
            uow.pulls.record_invoice(
                invoice.id,
                invoice_date=invoice.invoice_date,
                currency=invoice.currency,
                total=invoice.total,
                status="imported",
                rows=sum(rows.values()),
                report_ids=counts.reports.report_ids,
            )
        self.result.warnings.extend(_in_blobs(counts.warnings, invoice.id, exported))
        return InvoicePull(
            invoice.id,
            invoice.invoice_date,
            "imported",
            rows=sum(rows.values()),
            exports_started=started,
            report_ids=tuple(counts.reports.report_ids),
            detail=f"{len(counts.reports.report_ids)} reports: {counts.reports}",
        )

    def _fetch(
        self, invoice_id: str, kind: Kind, url: str, directory: Path
    ) -> tuple[_Export | None, int]:
        """The export's blobs (None when it has no data, or no rows) and how many new exports
        it took (an operation gone at Microsoft, or an expired SAS, gets one new export of this
        kind; the other kind's download is kept)."""
        what = f"invoice {invoice_id}'s {kind} export"
        label = f"{invoice_id} {kind}"  # short: it shares a terminal line with the progress
        restarted = 0
        while True:
            try:
                outcome = self.client.wait(url, what, on_poll=self._polled(label))
                manifest = (
                    None if isinstance(outcome, NoData) else self.client.manifest(outcome, what)
                )
            except MicrosoftError as exc:
                # Microsoft keeps an operation and its manifest for a while only: one saved by
                # an earlier pull may be gone (404). Looked up and not found, it is exported anew.
                if exc.status != 404 or restarted:
                    raise
                url, restarted = self._export_again(invoice_id, kind, "Microsoft no longer has it")
                continue
            if manifest is None:
                return None, restarted
            try:
                blobs = self._download(manifest, directory, f"{invoice_id}-{kind}", label, what)
            except SasExpiredError:
                if restarted:
                    raise
                url, restarted = self._export_again(invoice_id, kind, "its SAS expired")
                continue
            if not blobs:  # only blank blobs: no rows, as "No data available" says
                return None, restarted
            return _Export(kind, blobs, manifest.eTag), restarted

    def _export_again(self, invoice_id: str, kind: Kind, why: str) -> tuple[str, int]:
        """A new export of this kind (the only one a fetch may start): its operation URL, and
        1 for the exports started."""
        logger.info("%s: exporting %s again, as %s", invoice_id, kind, why)
        return self._start(invoice_id, kind), 1

    def _polled(self, label: str) -> Callable[[str], None]:
        """Tells `progress` of each new state of the operation (not of every poll)."""
        last = ""

        def polled(status: str) -> None:
            nonlocal last
            if status != last:
                last = status
                self.progress(f"{label}: {status} at Microsoft")

        return polled

    def _download(
        self, manifest: Manifest, directory: Path, prefix: str, label: str, what: str
    ) -> list[BlobFile]:
        """The manifest's blobs, leaving out those of no rows (the reader refuses an empty
        file)."""
        self.progress(f"{label}: {manifest.blobCount} blob(s)")

        def each(number: int) -> None:
            self.progress(f"{label}: blob {number} of {manifest.blobCount}")

        blobs = self.client.download(manifest, directory, prefix, what, on_blob=each)
        return [blob for blob in blobs if not is_blank(blob.path)]

    def _record(self, invoice: InvoiceSummary, status: Status, error: str | None = None) -> None:
        with self.store.transaction() as uow:
            uow.pulls.record_invoice(
                invoice.id,
                invoice_date=invoice.invoice_date,
                currency=invoice.currency,
                total=invoice.total,
                status=status,
                error=error,
            )


@dataclass(frozen=True)
class _Export:
    """One kind's export of an invoice, downloaded."""

    kind: Kind
    blobs: list[BlobFile]
    etag: str

    def rows(self, by_file: dict[str, int]) -> int:
        return sum(by_file.get(str(blob.path), 0) for blob in self.blobs)


def _blob_names(exported: list[_Export]) -> dict[str, tuple[str, str]]:
    """Each downloaded file's kind and blob name, by the file's name as the reader gives it."""
    return {str(blob.path): (e.kind, blob.name) for e in exported for blob in e.blobs}


def _in_blobs(warnings: list[str], invoice_id: str, exported: list[_Export]) -> list[str]:
    """Warnings naming Microsoft's blobs instead of billbridge's temporary files."""
    names = _blob_names(exported)
    if not names:
        return warnings
    pattern = re.compile("(" + "|".join(map(re.escape, names)) + r")(?::(\d+))?")

    def place(match: re.Match[str]) -> str:
        kind, blob = names[match[1]]
        line = f" line {match[2]}" if match[2] else ""
        return f"invoice {invoice_id} {kind}, blob {blob}{line}"

    return [pattern.sub(place, warning) for warning in warnings]


def describe_problems(subject: str, error: InputError, names: dict[str, tuple[str, str]]) -> str:
    """The reader's problems, located in Microsoft's blobs rather than billbridge's files
    (`names`: each file's kind of export and blob name)."""
    shown = []
    for problem in error.problems[:_MAX_PROBLEMS_SHOWN]:
        kind, blob = names.get(problem.file, ("?", ""))
        line = f" line {problem.line}" if problem.line is not None else ""
        place = f"blob {blob}{line}" if blob else f"the {kind} export"
        column = f" {problem.column}:" if problem.column else ""
        shown.append(f"{kind} {place}:{column} {problem.message}")
    more = len(error.problems) - len(shown)
    tail = f" (and {more} more)" if more > 0 else ""
    return f"{subject} cannot be imported, nothing of it was stored: {'; '.join(shown)}{tail}"

"""Pulling from the emulator over real HTTP: what is imported, what a second pull does."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from billbridge.importing import import_partner_center
from billbridge.pulling import PullResult
from billbridge.sandbox.microsoft import MicrosoftFaults
from tests.microsoft.conftest import (
    RECON,
    RECON_INVOICE,
    USAGE,
    USAGE_INVOICE,
    Pull,
    PullFactory,
    report_hashes,
    stored_reports,
)

INVOICE_DAY = date(2025, 12, 8)


def test_a_pull_imports_every_new_invoice_dated_by_the_invoice(make_pull: PullFactory) -> None:
    pulling = make_pull()
    result = pulling.pull()

    assert [(i.invoice_id, i.status) for i in result.invoices] == [
        (RECON_INVOICE, "imported"),
        (USAGE_INVOICE, "imported"),
    ]
    assert result.exit_code == 0
    stored = stored_reports(pulling.store)
    with pulling.store.transaction() as uow:
        pulled = {p.invoice_id: p for p in uow.pulls.invoices()}
    assert {r.report.generated_on for r in stored} == {INVOICE_DAY}
    assert pulled[RECON_INVOICE].status == "imported"
    assert pulled[RECON_INVOICE].invoice_date == INVOICE_DAY
    assert set(pulled[USAGE_INVOICE].report_ids) == {
        r.report.report_id for r in stored if r.report.report_id.startswith("pc-usage-")
    }
    # Every kind of each invoice was exported once; the missing kinds had no data.
    assert sorted(pulling.exports_of(RECON_INVOICE)) == ["reconciliation", "usage"]


def test_the_pulled_reports_are_those_the_file_import_makes(make_pull: PullFactory) -> None:
    pulling = make_pull()
    pulling.pull()
    by_file = make_pull(name="files")
    import_partner_center(by_file.store, [RECON, USAGE], generated_on=INVOICE_DAY)

    assert report_hashes(pulling.store) == report_hashes(by_file.store)
    assert len(report_hashes(pulling.store)) == 8


def test_a_second_pull_starts_no_export_and_changes_nothing(make_pull: PullFactory) -> None:
    pulling = make_pull()
    pulling.pull()
    exports = len(pulling.emulator.exports)
    downloads = pulling.emulator.blob_downloads

    again = pulling.pull()
    named = pulling.pull(invoice_ids=[RECON_INVOICE])

    assert again.invoices == []
    assert [(i.invoice_id, i.status) for i in named.invoices] == [(RECON_INVOICE, "unchanged")]
    assert len(pulling.emulator.exports) == exports
    assert pulling.emulator.blob_downloads == downloads


def test_named_invoices_only(make_pull: PullFactory) -> None:
    pulling = make_pull()
    result = pulling.pull(invoice_ids=[USAGE_INVOICE])

    assert [(i.invoice_id, i.status) for i in result.invoices] == [(USAGE_INVOICE, "imported")]
    assert result.exit_code == 0
    assert pulling.exports_of(RECON_INVOICE) == []


def test_old_invoices_wait_for_invoice(make_pull: PullFactory) -> None:
    pulling = make_pull()
    result = pulling.pull(today=date(2026, 6, 1))
    assert result.invoices == []
    assert pulling.emulator.exports == []


def test_invoice_list_pages_are_followed(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(invoice_page_size=1))
    result = pulling.pull()
    assert {i.invoice_id for i in result.invoices} == {RECON_INVOICE, USAGE_INVOICE}


@pytest.mark.parametrize("array", [False, True])
def test_manifest_variants_of_real_payloads(make_pull: PullFactory, array: bool) -> None:
    """Inline manifest, schema "1", compressedJSON blobs of JSON lines or of one JSON array."""
    reference = make_pull(name="reference")
    reference.pull()
    faults = MicrosoftFaults(
        inline_manifest=True, schema_version="1", data_format="compressedJSON", array=array
    )
    variant = make_pull(faults=faults, name="variant")
    result = variant.pull()

    assert [i.status for i in result.invoices] == ["imported", "imported"]
    assert report_hashes(variant.store) == report_hashes(reference.store)


def test_unbilled_preview_stores_nothing(make_pull: PullFactory) -> None:
    from billbridge.preview import preview_unbilled

    pulling = make_pull()
    pulling.emulator.unbilled_invoice_id = USAGE_INVOICE
    preview = preview_unbilled(pulling.settings)

    assert preview.currency == "USD"
    assert preview.rows == 45
    assert {line.organization for line in preview.lines} >= {"Contoso Ltd"}
    assert pulling.emulator.exports[-1].body["billingPeriod"] == "current"
    assert pulling.emulator.exports[-1].body["currencyCode"] == "USD"
    assert stored_reports(pulling.store) == []
    with pulling.store.transaction() as uow:
        assert uow.pulls.invoices() == []


def test_the_blobs_are_read_gzipped_as_microsoft_serves_them(
    make_pull: PullFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is inflated to disk: the reader gets each blob's bytes as served, and the rows
    recorded are those of the blobs."""
    pulling = make_pull()
    served = {
        blob.path.read_bytes()
        for invoice in pulling.emulator.data.invoices.values()
        for blobs in invoice.blobs.values()
        for blob in blobs
    }
    given: list[bytes] = []

    def recorded(store: Any, paths: list[Path], **kwargs: Any) -> Any:
        given.extend(path.read_bytes() for path in paths)
        return import_partner_center(store, paths, **kwargs)

    monkeypatch.setattr("billbridge.pulling.import_partner_center", recorded)
    result = pulling.pull()

    assert given and set(given) <= served
    assert all(blob.startswith(b"\x1f\x8b") for blob in given)
    invoice = pulling.emulator.data.invoices[USAGE_INVOICE]
    rows = invoice.rows("usage") + invoice.rows("reconciliation")
    assert rows > 0
    assert [i.rows for i in result.invoices if i.invoice_id == USAGE_INVOICE] == [rows]
    with pulling.store.transaction() as uow:
        pulled = {p.invoice_id: p for p in uow.pulls.invoices()}
    assert pulled[USAGE_INVOICE].rows == rows


def _imported_as(reference: Pull, pulling: Pull, result: PullResult) -> None:
    """Both invoices imported, with the reference's reports, and every row counted."""
    assert [i.status for i in result.invoices] == ["imported", "imported"]
    assert report_hashes(pulling.store) == report_hashes(reference.store)
    invoice = pulling.emulator.data.invoices[USAGE_INVOICE]
    assert [i.rows for i in result.invoices if i.invoice_id == USAGE_INVOICE] == [
        invoice.rows("usage") + invoice.rows("reconciliation")
    ]


def test_an_export_in_many_blobs_gives_the_same_reports(make_pull: PullFactory) -> None:
    """Microsoft splits a big export into many blobs, each holding most meters of the month."""
    reference = make_pull(name="reference")
    reference.pull()
    split = make_pull(name="split", blob_rows=4)
    usage_blobs = split.emulator.data.invoices[USAGE_INVOICE].blobs["usage"]
    assert len(usage_blobs) > 5
    _imported_as(reference, split, split.pull())


def test_a_broken_line_is_named_by_its_blob_and_its_line_there(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(broken_blob="json"), blob_rows=4)
    result = pulling.pull()
    blobs = pulling.emulator.data.invoices[USAGE_INVOICE].blobs["usage"]
    detail = next(i.detail for i in result.invoices if i.invoice_id == USAGE_INVOICE)
    assert f"usage blob {blobs[0].name} line 2: broken JSON" in detail, detail
    assert f"usage blob {blobs[1].name} line 2: broken JSON" in detail, detail
    assert stored_reports(pulling.store) == []


def test_a_blob_of_no_rows_is_left_out(make_pull: PullFactory) -> None:
    reference = make_pull(name="reference")
    reference.pull()
    pulling = make_pull(faults=MicrosoftFaults(broken_blob="empty"), name="empty")
    downloads = pulling.emulator.blob_downloads
    _imported_as(reference, pulling, pulling.pull())
    exports = [b for i in pulling.emulator.data.invoices.values() for b in i.blobs.values() if b]
    served = sum(len(blobs) for blobs in exports)
    assert pulling.emulator.blob_downloads - downloads == served + len(exports)  # + the empty


def test_an_unbilled_blob_that_cannot_be_read_is_named(make_pull: PullFactory) -> None:
    from billbridge.microsoft.errors import MalformedResponseError
    from billbridge.preview import preview_unbilled

    pulling = make_pull(faults=MicrosoftFaults(broken_blob="json"))
    pulling.emulator.unbilled_invoice_id = USAGE_INVOICE
    blob = pulling.emulator.data.invoices[USAGE_INVOICE].blobs["usage"][0]
    with pytest.raises(MalformedResponseError) as raised:
        preview_unbilled(pulling.settings)
    assert f"usage blob {blob.name} line 2: broken JSON" in str(raised.value)
    assert "billbridge-preview-" not in str(raised.value)  # no temporary file named

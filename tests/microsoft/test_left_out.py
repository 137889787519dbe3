"""Documents Microsoft lists that are not New Commerce invoices, and a pull stopped midway:
each said, never left out unseen (over real HTTP, against the emulator)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest

from billbridge.microsoft.errors import MissingPermissionError
from billbridge.pulling import PullStopped, UnknownInvoicesError
from billbridge.sandbox.microsoft import MicrosoftFaults
from billbridge.sandbox.microsoft.service import NOTE_IDS
from tests.microsoft.conftest import RECON_INVOICE, USAGE_INVOICE, PullFactory, stored_reports
from tests.microsoft.test_cli_pull import _run


def test_void_adjustment_and_legacy_documents_are_said_once_and_stored(
    make_pull: PullFactory,
) -> None:
    pulling = make_pull(faults=MicrosoftFaults(notes=True))
    result = pulling.pull()

    statuses = {i.invoice_id: i.status for i in result.invoices}
    assert statuses == {
        RECON_INVOICE: "imported",
        USAGE_INVOICE: "imported",
        NOTE_IDS["void"]: "skipped",
        NOTE_IDS["legacy"]: "skipped",
        NOTE_IDS["adjustment"]: "skipped",
    }
    detail = {i.invoice_id: i.detail for i in result.invoices}
    assert "void note" in detail[NOTE_IDS["void"]]
    assert "legacy (Recurring)" in detail[NOTE_IDS["legacy"]]
    assert f"adjustment note of invoice {USAGE_INVOICE}" in detail[NOTE_IDS["adjustment"]]
    assert f"--invoice {NOTE_IDS['adjustment']}" in detail[NOTE_IDS["adjustment"]]
    assert result.exit_code == 0
    assert not [call for call in pulling.emulator.exports if call.invoice_id in NOTE_IDS.values()]
    with pulling.store.transaction() as uow:
        stored = {p.invoice_id: (p.status, p.error) for p in uow.pulls.invoices()}
    assert stored[NOTE_IDS["void"]][0] == "skipped"
    assert "void note" in (stored[NOTE_IDS["void"]][1] or "")

    assert pulling.pull().invoices == []  # said once; the web admin keeps showing them


def test_a_named_adjustment_note_is_exported_and_may_have_no_data(
    make_pull: PullFactory,
) -> None:
    pulling = make_pull(faults=MicrosoftFaults(notes=True))
    result = pulling.pull(invoice_ids=[NOTE_IDS["adjustment"]])
    assert [(i.invoice_id, i.status) for i in result.invoices] == [
        (NOTE_IDS["adjustment"], "no_data")
    ]
    assert sorted(pulling.exports_of(NOTE_IDS["adjustment"])) == ["reconciliation", "usage"]


def test_an_invoice_voided_after_its_pull_is_warned_of(make_pull: PullFactory) -> None:
    pulling = make_pull()
    pulling.pull()
    invoice = pulling.emulator.data.invoices[USAGE_INVOICE]
    original = invoice.to_json

    def voided() -> dict[str, object]:
        return original() | {"documentType": "void_note"}

    invoice.to_json = voided  # type: ignore[method-assign]
    result = pulling.pull()
    assert result.invoices == []
    assert len(result.warnings) == 1
    assert f"invoice {USAGE_INVOICE} was pulled on" in result.warnings[0]
    assert "void note" in result.warnings[0]


def test_an_unknown_named_invoice_pulls_nothing(make_pull: PullFactory) -> None:
    pulling = make_pull()
    with pytest.raises(UnknownInvoicesError, match="G999"):
        pulling.pull(invoice_ids=[USAGE_INVOICE, "G999"])
    assert pulling.emulator.exports == []
    code, _, err = _run(pulling.write_config(), "pull", "partner-center", "--invoice", "G999")
    assert code == 2
    assert "G999" in err and "nothing was pulled" in err


def test_a_permission_lost_midway_shows_what_was_pulled_before(make_pull: PullFactory) -> None:
    pulling = make_pull()

    def deny_after_the_first_import(message: str) -> None:
        if message.endswith(": imported"):
            pulling.emulator.set_faults(deny_billing=True)

    with pytest.raises(PullStopped) as raised:
        pulling.pull(progress=deny_after_the_first_import)
    stopped = raised.value
    assert isinstance(stopped.error, MissingPermissionError)
    assert stopped.invoice_id == USAGE_INVOICE
    assert [(i.invoice_id, i.status) for i in stopped.result.invoices] == [
        (RECON_INVOICE, "imported")
    ]
    assert stored_reports(pulling.store)


def test_the_cli_shows_the_pull_before_the_error_that_stopped_it(
    make_pull: PullFactory,
) -> None:
    pulling = make_pull()
    config = pulling.write_config()
    code, out, _ = _run(config, "pull", "partner-center", "--invoice", RECON_INVOICE)
    assert code == 0
    pulling.emulator.set_faults(deny_billing=True)
    code, out, err = _run(
        config, "pull", "partner-center", "--invoice", RECON_INVOICE, "--invoice", USAGE_INVOICE
    )
    assert code == 2
    assert f"invoice {RECON_INVOICE} of 2025-12-08: unchanged" in out
    assert f"the pull stopped at invoice {USAGE_INVOICE}" in err
    assert "PartnerBilling.Read.All" in err


def test_older_invoices_are_counted_and_said(make_pull: PullFactory) -> None:
    from datetime import date

    pulling = make_pull()
    result = pulling.pull(today=date(2026, 6, 1))
    assert result.invoices == [] and result.older == 2
    config = pulling.write_config(history_days="30")
    code, out, _ = _run(config, "pull", "partner-center", "--json")
    assert code == 0
    assert json.loads(out)["older_than_history"] == 2


def test_the_unbilled_preview_refuses_an_invoice(make_pull: PullFactory) -> None:
    pulling = make_pull()
    code, _, err = _run(
        pulling.write_config(), "pull", "partner-center", "--unbilled", "current", "--invoice", "X"
    )
    assert code == 2
    assert "leave out --invoice" in err
    assert pulling.emulator.exports == []


def test_the_pull_tells_each_step_and_counts_the_invoices(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(operation_s=1.2, poll_after_s=1))
    steps: list[str] = []
    counts: list[tuple[int, int]] = []
    pulling.pull(progress=steps.append, counted=lambda done, total: counts.append((done, total)))
    assert counts == [(0, 2), (1, 2), (2, 2)]
    recon = f"{RECON_INVOICE} reconciliation"  # the first export polled
    assert f"{recon}: notStarted at Microsoft" in steps or f"{recon}: running at Microsoft" in steps
    assert f"{recon}: succeeded at Microsoft" in steps
    assert f"{recon}: blob 1 of 1" in steps
    assert steps.count(f"{recon}: succeeded at Microsoft") == 1  # each state once, not each poll


def test_a_terminal_sees_the_pull_progress_and_then_the_summary(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(operation_s=1.2, poll_after_s=1))
    config = pulling.write_config()
    leader, follower = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BILLBRIDGE_")}
    environment |= {"COLUMNS": "80", "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, "-m", "billbridge", "--config", str(config), "pull", "partner-center"],
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
        env=environment,
        cwd=config.parent,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        seen += chunk
    out, _ = process.communicate(timeout=120)
    os.close(leader)
    assert process.returncode == 0, seen.decode(errors="replace")
    shown = seen.decode(errors="replace")
    assert "at Microsoft" in shown and "2/2" in shown
    assert "invoices: 2 imported" in out

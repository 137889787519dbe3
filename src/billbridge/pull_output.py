"""What `billbridge pull partner-center` prints: a table per invoice, or one JSON object."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table

from billbridge.config import SettingsError
from billbridge.microsoft.errors import MicrosoftError
from billbridge.preview import NO_UNBILLED_USAGE, Preview
from billbridge.pulling import PullResult, PullStopped, Status, UnknownInvoicesError
from billbridge.render import paragraphs
from billbridge.store.database import StoreBusyError, StoreError

EXIT_PARTLY_FAILED = 1
EXIT_BAD_INPUT = 2
STATUSES: tuple[Status, ...] = (
    "imported",
    "unchanged",
    "no_data",
    "skipped",
    "failed",
    "waiting",
)


@contextmanager
def pull_errors(
    fail: Callable[[str, int], NoReturn], show: Callable[[PullResult], None]
) -> Iterator[None]:
    """What stops a pull, as one message and an exit status (after what was pulled before a
    fatal error at an invoice, shown by `show`)."""
    try:
        with microsoft_errors(fail, "nothing was pulled"):
            yield
    except PullStopped as exc:
        show(exc.result)
        fail(str(exc), EXIT_BAD_INPUT)
    except UnknownInvoicesError as exc:
        fail(f"--invoice: {exc}", EXIT_BAD_INPUT)
    except SettingsError as exc:
        fail("the settings cannot be used: " + "; ".join(exc.problems), EXIT_BAD_INPUT)
    except StoreBusyError as exc:
        fail(f"{exc}; try again when it has finished", EXIT_PARTLY_FAILED)
    except StoreError as exc:
        fail(str(exc), EXIT_BAD_INPUT)


@contextmanager
def microsoft_errors(fail: Callable[[str, int], NoReturn], stopped: str) -> Iterator[None]:
    """A Microsoft error as `stopped: what Microsoft said`: exit 2 when a person must fix a
    setting or a permission, 1 when trying again later may do."""
    try:
        yield
    except MicrosoftError as exc:
        code = EXIT_BAD_INPUT if exc.kind == "fatal" else EXIT_PARTLY_FAILED
        fail(f"{stopped}: {exc}", code)


def pull_json(result: PullResult) -> dict[str, Any]:
    return {
        "summary": {status: result.count(status) for status in STATUSES},
        "invoices": [
            {
                "invoice_id": i.invoice_id,
                "invoice_date": i.invoice_date.isoformat() if i.invoice_date else None,
                "status": i.status,
                "rows": i.rows,
                "exports_started": i.exports_started,
                "report_ids": list(i.report_ids),
                "detail": i.detail,
            }
            for i in result.invoices
        ],
        "warnings": result.warnings,
        "older_than_history": result.older,
    }


def show_pull(result: PullResult, out: Console, err: Console, *, as_json: bool) -> None:
    if as_json:
        out.print(json.dumps(pull_json(result), indent=2), markup=False)
        return
    paragraphs(err, *(f"warning: {warning}" for warning in result.warnings))
    older = (
        f"{result.older} older invoice(s) not pulled: they are older than"
        " partner_center.history_days; --invoice ID pulls one"
        if result.older
        else ""
    )
    if not result.invoices:
        paragraphs(out, "Nothing new to pull: every recent invoice is already pulled.")
        if older:
            paragraphs(out, older)
        return
    # Plain lines, not a table: they pipe cleanly and never cut the detail.
    texts = []
    for item in result.invoices:
        day = item.invoice_date.isoformat() if item.invoice_date else "no date"
        status = "left out" if item.status == "skipped" else item.status.replace("_", " ")
        texts.append(f"invoice {item.invoice_id} of {day}: {status}, {item.rows:,} rows")
        if item.detail:
            texts.append(f"  {item.detail}")
    labels: tuple[tuple[Status, str], ...] = (
        ("imported", "imported"),
        ("unchanged", "unchanged"),
        ("no_data", "with no data"),
        ("skipped", "left out"),
        ("waiting", "still running at Microsoft"),
        ("failed", "failed"),
    )
    parts = [f"{result.count(s)} {label}" for s, label in labels if result.count(s)]
    texts.append(f"invoices: {', '.join(parts)}")
    if older:
        texts.append(older)
    paragraphs(out, *texts)


def show_preview(preview: Preview, out: Console, *, as_json: bool) -> None:
    """The month to date per organization; a preview, never imported or exported."""
    if as_json:
        body = {
            "currency": preview.currency,
            "rows": preview.rows,
            "organizations": [
                {
                    "organization": line.organization,
                    "period": line.period,
                    "cost": f"{line.cost:.2f}",
                    "price": f"{line.price:.2f}",
                }
                for line in preview.lines
            ],
        }
        out.print(json.dumps(body, indent=2), markup=False)
        return
    if not preview.lines:
        out.print(f"{NO_UNBILLED_USAGE}.")
        return
    table = Table(
        title=f"Unbilled usage to date ({preview.rows:,} rows; a preview, not imported)",
        title_justify="left",
        show_edge=False,
    )
    table.add_column("organization", overflow="fold")
    table.add_column("period", no_wrap=True)
    table.add_column(f"cost {preview.currency}", justify="right", no_wrap=True)
    table.add_column(f"price {preview.currency}", justify="right", no_wrap=True)
    for line in sorted(preview.lines, key=lambda item: item.organization):
        table.add_row(line.organization, line.period, f"{line.cost:,.2f}", f"{line.price:,.2f}")
    out.print(table)

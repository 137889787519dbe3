"""Text output of `reconcile` and `attention`: fixed columns that fit 80, colour on a terminal."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from billbridge.domain.reconcile import Reconciliation, Row, Status
from billbridge.domain.totals import money_text
from billbridge.export.attention import Attention

WIDTH = 80
STATUS_LABEL = {
    Status.MATCHED: "matched",
    Status.OVER_BILLED: "over-billed",
    Status.UNDER_BILLED: "under-billed",
    Status.NOT_IN_AUTOTASK: "left out",
    Status.AUTOTASK_ONLY: "Autotask only",
}
STATUS_STYLE = {
    Status.MATCHED: "green",
    Status.OVER_BILLED: "bold red",
    Status.UNDER_BILLED: "bold red",
    Status.NOT_IN_AUTOTASK: "yellow",
    Status.AUTOTASK_ONLY: "magenta",
}
# status, organization, subscription, source, Autotask, difference: 78 columns with the gaps.
# Status, organization, source, Autotask, difference: 80 columns with the spaces between.
COLUMNS = ((14, "<"), (33, "<"), (10, ">"), (10, ">"), (9, ">"))
NOTE_INDENT = " " * 15


def reconcile_lines(reconciliation: Reconciliation) -> list[tuple[str, str]]:
    """(text, style) lines: the table, then totals and tie-out per currency."""
    counts = reconciliation.counts()
    described = ", ".join(f"{counts[s.value]} {STATUS_LABEL[s]}" for s in Status if counts[s.value])
    heading = f"Reconciliation {reconciliation.period}: {len(reconciliation.rows)} rows" + (
        f" ({described})" if described else ""
    )
    lines = [(text, "bold") for text in _wrap(heading)]
    lines += [
        ("", ""),
        (_cells("STATUS", "ORGANIZATION", "SOURCE", "AUTOTASK", "DIFF"), "bold"),
    ]
    for row in reconciliation.rows:
        lines += [(text, STATUS_STYLE[row.status]) for text in _row_lines(row)]
        subscription = f"{row.subscription_id or 'no subscription'}: {row.product}"
        lines += [(text, "dim") for text in _wrap(subscription, indent=NOTE_INDENT)]
        note = _note(row)
        if note:
            lines += [(text, "dim") for text in _wrap(note, indent=NOTE_INDENT)]
    for totals in reconciliation.totals:
        percent = totals.margin_percent
        lines.append(("", ""))
        text = (
            f"Totals {totals.currency}: source cost {money_text(totals.source_cost)},"
            f" price {money_text(totals.source_price)}; Autotask cost"
            f" {money_text(totals.autotask_cost)}, price {money_text(totals.autotask_price)},"
            f" margin {money_text(totals.margin)}"
            + (f" ({money_text(percent)}%)" if percent is not None else "")
        )
        lines += [(t, "") for t in _wrap(text)]
    for tie in reconciliation.tie_out:
        parts = ", ".join(
            f"{reason} {money_text(amount)} ({count})"
            for reason, (count, amount) in sorted(tie.left_out.items())
        )
        text = (
            f"Tie-out {tie.currency}: imported {money_text(tie.imported)} ="
            f" in Autotask {money_text(tie.in_autotask)} + left out"
            f" {money_text(tie.left_out_total)}"
            + (f" ({parts})" if parts else "")
            + ("; balanced" if tie.balanced else "; NOT BALANCED")
            + f". Autotask bills {money_text(tie.autotask_difference)} more than the source"
            f" on those rows, and {money_text(tie.autotask_only)} on charges no billing names."
        )
        lines += [(t, "" if tie.balanced else "bold red") for t in _wrap(text)]
    return lines


def print_reconciliation(
    console: Console, reconciliation: Reconciliation, requests: int, heading: str = ""
) -> None:
    """The table and totals; `heading` first (what the source side is, when that is not the
    store's reports)."""
    marked = [(text, "bold") for text in _wrap(heading)] if heading else []
    _print_lines(console, marked + reconcile_lines(reconciliation))
    console.print(f"Autotask requests: {requests} (reads only)", markup=False, highlight=False)


def _row_lines(row: Row) -> list[str]:
    """The row's figures; a name too long for its column gets a line of its own, never cut."""
    source = money_text(row.source_price) if row.source_price is not None else "-"
    held = money_text(row.autotask_price) if row.autotask_price is not None else "-"
    difference = (
        ""
        if row.status in (Status.MATCHED, Status.NOT_IN_AUTOTASK)
        else (("+" if row.difference > 0 else "") + money_text(row.difference))
    )
    status = STATUS_LABEL[row.status]
    name = row.organization_name or row.organization_id or ""
    if len(name) <= COLUMNS[1][0]:
        return [_cells(status, name, source, held, difference)]
    return [f"{status:<{COLUMNS[0][0]}} {name}", _cells("", "", source, held, difference)]


def _note(row: Row) -> str:
    parts = []
    if row.reason:
        parts.append(row.reason)
    if row.flags:
        parts.append("flags: " + ", ".join(f.value for f in row.flags))
    if row.status is not Status.MATCHED and row.currency:
        parts.append(row.currency)
    return "; ".join(parts)


def _cells(*values: str) -> str:
    return " ".join(
        f"{value:{align}{width}}" for (width, align), value in zip(COLUMNS, values, strict=True)
    ).rstrip()


def _wrap(text: str, indent: str = "") -> Sequence[str]:
    # Ids hold hyphens: wrap only at spaces, so that no id is ever cut.
    lines = textwrap.wrap(
        text,
        WIDTH,
        initial_indent=indent,
        subsequent_indent=indent or "  ",
        break_on_hyphens=False,
        break_long_words=False,
    )
    return lines or [""]


KIND_LABEL = {
    "conflict": "Conflicts",
    "failed_report": "Failed reports",
    "unlinked": "Unlinked organizations with billing",
    "below_cost": "Sold below cost",
    "margin_below_floor": "Margin under the floor",
    "term_ending": "Terms ending within 30 days",
}


def attention_lines(attention: Attention) -> list[tuple[str, str]]:
    open_items = attention.open
    if not open_items:
        lines = [("Nothing needs attention.", "green")]
    else:
        lines = [(f"{len(open_items)} items need attention", "bold")]
    for kind, label in KIND_LABEL.items():
        items = [i for i in open_items if i.kind == kind]
        if not items:
            continue
        lines += [("", ""), (f"{label} ({len(items)})", "bold")]
        for item in items:
            amount = (
                f" [{money_text(item.amount)} {item.currency}]"
                if item.amount is not None and item.currency
                else ""
            )
            lines += [(t, "") for t in _wrap(f"- {item.title}{amount}", indent="")]
            lines += [(t, "dim") for t in _wrap(item.detail, indent="    ")]
            lines.append((f"    key: {item.key}", "dim"))
    if attention.resolved:
        lines += [("", ""), (f"Resolved ({len(attention.resolved)})", "bold")]
        for item in attention.resolved:
            assert item.resolution is not None
            r = item.resolution
            text = f"- {item.title}: {r.note} ({r.resolved_by}, {r.resolved_at:%Y-%m-%d %H:%M} UTC)"
            lines += [(t, "dim") for t in _wrap(text)]
    return lines


def print_attention(console: Console, attention: Attention) -> None:
    _print_lines(console, attention_lines(attention))


def _print_lines(console: Console, lines: Sequence[tuple[str, str]]) -> None:
    styled = console.is_terminal
    for text, style in lines:
        if styled and style:
            console.print(f"[{style}]{escape(text)}[/]", highlight=False)
        else:
            console.print(text, markup=False, highlight=False)

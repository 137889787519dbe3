"""What the CLI prints for plans, exports, runs and link suggestions.

Everything is plain lines, wrapped at spaces to the console's width: no word is cut in half and
no id is shortened (an id longer than the line stays whole). Lines are styled only on a
terminal; piped output is the bare text, written in one go, so that rendering stays cheap
even for a run with thousands of writes.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style

from billbridge.domain.matching import Suggestion
from billbridge.domain.money import round_cents
from billbridge.domain.organization import Organization
from billbridge.domain.totals import Amounts
from billbridge.export.results import OperationResult, ReportResult, RunResult
from billbridge.store.runs import RunSummary

MAX_PROBLEMS = 20
"""Problems shown by default; the rest are counted, and `--verbose` or `runs N` has them."""

STATUS_ORDER = ("exported", "needs_attention", "nothing_to_do", "deferred", "skipped", "failed")
_STATUS_WORDS: dict[str, tuple[str, str]] = {
    # status: (after an export, in a plan)
    "exported": ("exported", "would export"),
    "needs_attention": ("needs attention", "would need attention"),
    "nothing_to_do": ("nothing to do", "nothing to do"),
    "skipped": ("skipped", "would be skipped"),
    "failed": ("failed", "would fail"),
    "deferred": ("deferred", "would be deferred"),
}
STATUS_STYLE = {
    "exported": "green",
    "nothing_to_do": "dim",
    "skipped": "yellow",
    "needs_attention": "yellow",
    "deferred": "yellow",
    "failed": "bold red",
    "succeeded": "green",
    "partly_failed": "bold red",
    "interrupted": "yellow",
    "running": "cyan",
    "nothing_due": "dim",
}
_CLEAN = ("exported", "nothing_to_do")
_COLOR_SYSTEMS = {
    "standard": ColorSystem.STANDARD,
    "256": ColorSystem.EIGHT_BIT,
    "truecolor": ColorSystem.TRUECOLOR,
    "windows": ColorSystem.WINDOWS,
}
_ACTION_WIDTH = 9  # "unchanged", "conflict"
_ENTITY_WIDTH = 14  # "ContractCharge"


def status_words(status: str, *, planned: bool = False) -> str:
    """A report status as a person reads it; an unknown status is shown as it is."""
    words = _STATUS_WORDS.get(status)
    if words is None:
        return status.replace("_", " ")
    return words[1] if planned else words[0]


@dataclass
class Lines:
    """Lines to print, each wrapped at spaces to `width`, with a style used on terminals."""

    width: int
    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, text: str, *, indent: int = 0, hang: int = 4, style: str = "") -> None:
        first = " " * indent
        if len(text) + indent <= self.width and "\n" not in text:
            self.items.append((first + text, style))
            return
        for part in text.split("\n"):
            wrapped = textwrap.wrap(
                part,
                self.width,
                initial_indent=first,
                subsequent_indent=" " * (indent + hang),
                break_long_words=False,
                break_on_hyphens=False,
            )
            self.items.extend((line, style) for line in wrapped or [first])

    def blank(self) -> None:
        if self.items and self.items[-1][0]:
            self.items.append(("", ""))

    def print(self, console: Console) -> None:
        """Written in one go; on a colour terminal each styled line carries its ANSI codes
        (rendered here, once per style, instead of by Rich line by line)."""
        if not self.items:
            return
        color_system = (
            _COLOR_SYSTEMS.get(console.color_system or "") if console.is_terminal else None
        )
        if color_system is None or console.no_color:
            text = "".join(f"{line}\n" for line, _ in self.items)
        else:
            styles = {style: Style.parse(style) for _, style in self.items if style}
            text = "".join(
                (styles[style].render(line, color_system=color_system) if style else line) + "\n"
                for line, style in self.items
            )
        console.file.write(text)
        console.file.flush()


def lines_for(console: Console) -> Lines:
    return Lines(max(console.width, 40))


def paragraphs(console: Console, *texts: str) -> None:
    """Each text on a terminal wrapped at spaces to its width, continued 4 columns further in
    (its leading spaces kept as its indent); elsewhere (a log, a script) one line each, whole,
    so that it can be searched."""
    if not console.is_terminal:
        console.file.write("".join(f"{text}\n" for text in texts))
        console.file.flush()
        return
    lines = lines_for(console)
    for text in texts:
        indent = len(text) - len(text.lstrip(" "))
        lines.add(text.lstrip(" "), indent=indent)
    lines.print(console)


# -- plan and export -------------------------------------------------------------------------


def run_result(
    console: Console,
    result: RunResult,
    *,
    planned: bool,
    verbose: bool = False,
    run_hint: bool = True,
    heading: str = "",
) -> None:
    """The summary and the problems; with `verbose`, every report and every write as well.
    `heading` comes first (what the plan is of, when that is not the store's reports)."""
    out = lines_for(console)
    if heading:
        out.add(heading, style="bold")
    _summary(out, result, planned=planned)
    problems = list(_problems(result, planned=planned))
    if verbose:
        out.blank()
        for report in result.reports:
            _report_writes(out, report, planned=planned)
    if problems:
        out.blank()
        out.add(f"Problems ({len(problems)}):", style="bold")
        shown = problems if verbose else problems[:MAX_PROBLEMS]
        for text, style in shown:
            out.add(text, indent=2, style=style)
        if len(shown) < len(problems):
            where = (
                f"`billbridge runs {result.run_id}`"
                if result.run_id is not None
                else "`billbridge plan --verbose`"
            )
            out.add(f"... and {len(problems) - len(shown)} more; {where} lists them all", indent=2)
    if not verbose and run_hint and any(_writes(r) for r in result.reports):
        out.blank()
        if result.run_id is None:
            out.add("`--verbose` lists every write the export would make.", style="dim")
        else:
            out.add(f"`billbridge runs {result.run_id}` lists every write.", style="dim")
    out.print(console)


def changed_records(console: Console, result: RunResult) -> None:
    """The updates of a run: what changed in records that were already in Autotask."""
    out = lines_for(console)
    for report in result.reports:
        for op in report.operations:
            if op.action == "update":
                where = f" id {op.autotask_id}" if op.autotask_id else ""
                out.add(
                    f"{report.report_id}: {op.entity} {op.key}{where}: {describe_changes(op)}",
                    indent=2,
                )
    if out.items:
        out.items[:0] = [("", ""), ("Changed in Autotask:", "bold")]
        out.print(console)


def summary_line(result: RunResult, *, planned: bool) -> str:
    """Two or three short lines: what ran, the write counts and the report statuses."""
    out = Lines(80)
    _summary(out, result, planned=planned)
    return "\n".join(line for line, _ in out.items)


def _summary(out: Lines, result: RunResult, *, planned: bool) -> None:
    s = result.summary
    count = len(result.reports)
    reports = f"{count} report{'' if count == 1 else 's'}"
    requests = f"{result.requests} Autotask request{'' if result.requests == 1 else 's'}"
    if planned:
        out.add(f"plan: {reports}, {requests}; nothing was written", style="bold")
        writes = f"would create {s.created}, would update {s.updated}"
    else:
        out.add(f"run {result.run_id}: {reports}, {requests}", style="bold")
        writes = f"created {s.created}, updated {s.updated}"
    out.add(
        f"{writes}, unchanged {s.unchanged}, conflicts {s.conflicts},"
        f" failed reports {s.failed_reports}",
        indent=2,
    )
    statuses = _status_counts(r.status for r in result.reports)
    if statuses:
        out.add(", ".join(f"{status_words(k, planned=planned)} {n}" for k, n in statuses), indent=2)
    _money_and_stop(out, result)
    for note in result.notes:
        out.add(note, indent=2)


def _money_and_stop(out: Lines, result: RunResult) -> None:
    """The run's billing per currency, what it left out, and the error that stopped it."""
    for amounts in result.money:
        out.add(f"Billing: {money_line(amounts)}", indent=2)
    for amounts in result.left_out:
        out.add(f"Left out (not exported): {amounts_text(amounts)}", indent=2)
    if result.error:
        out.add(f"stopped: {result.error}", indent=2, style="bold red")


def amount_text(amount: Decimal) -> str:
    """`5,597.80`: two decimals, thousands grouped."""
    return f"{round_cents(amount):,.2f}"


def amounts_text(amounts: Amounts) -> str:
    return f"{amount_text(amounts.price)} {amounts.currency}"


def money_line(amounts: Amounts) -> str:
    """`5,597.80 USD, cost 5,016.38, margin 581.42 (10.39%)`."""
    percent = amounts.margin_percent
    return (
        f"{amounts_text(amounts)}, cost {amount_text(amounts.cost)},"
        f" margin {amount_text(amounts.margin)}"
        + (f" ({amount_text(percent)}%)" if percent is not None else "")
    )


def _status_counts(statuses: Iterable[str]) -> list[tuple[str, int]]:
    counts = Counter(statuses)
    known = [(k, counts.pop(k)) for k in STATUS_ORDER if k in counts]
    return known + sorted(counts.items())


def _who(report: ReportResult) -> str:
    name = report.organization_name or report.organization_id
    return f"{report.report_id} ({name})"


def _problems(result: RunResult, *, planned: bool) -> Iterable[tuple[str, str]]:
    """Each thing a person has to look at: reports not exported, conflicts, failed writes."""
    for report in result.reports:
        warned = False
        if report.status not in _CLEAN:
            style = "bold red" if report.status == "failed" else "yellow"
            words = status_words(report.status, planned=planned)
            if report.reason and report.warnings:  # the reason's code, then what it means
                words += f" ({report.reason})"
            detail = "; ".join(report.warnings) or report.reason
            yield f"{_who(report)}: {words}" + (f": {detail}" if detail else ""), style
            warned = True
        for op in report.operations:
            target = f"{op.entity} {op.key}" + (f" (id {op.autotask_id})" if op.autotask_id else "")
            if op.action == "conflict":
                why = op.reason or describe_changes(op)
                yield f"{report.report_id}: conflict on {target}: {why}", "yellow"
            if op.state in ("failed", "unknown"):
                error = f": {op.error}" if op.error else ""
                yield f"{report.report_id}: {op.action} {target} {op.state}{error}", "bold red"
        if not warned:
            for warning in report.warnings:
                yield f"{report.report_id}: warning: {warning}", "yellow"


def _writes(report: ReportResult) -> list[OperationResult]:
    return [op for op in report.operations if op.action != "unchanged"]


def _report_writes(out: Lines, report: ReportResult, *, planned: bool) -> None:
    counts = Counter(op.action for op in report.operations)
    tally = ", ".join(
        f"{action} {counts[action]}"
        for action in ("create", "update", "unchanged", "conflict")
        if counts[action]
    )
    words = status_words(report.status, planned=planned)
    if report.reason:
        words += f" ({report.reason})"
    style = STATUS_STYLE.get(report.status, "")
    out.add(f"{_who(report)}: {words}" + (f"; {tally}" if tally else ""), style=style)
    for amounts in report.money:
        out.add(f"billing {money_line(amounts)}", indent=2, style="dim")
    for op in _writes(report):
        state = f" [{op.state}]" if op.state and op.state != "done" else ""
        detail = op.error or op.reason or describe_changes(op)
        out.add(
            _operation_text(op.action, op.entity, op.key, op.autotask_id, detail) + state,
            indent=2,
            hang=_ACTION_WIDTH + 2,
        )


def _operation_text(
    action: str, entity: str, key: str, autotask_id: int | None, detail: str
) -> str:
    where = f" id {autotask_id}" if autotask_id else ""
    text = f"{action:<{_ACTION_WIDTH}} {entity:<{_ENTITY_WIDTH}} {key}{where}"
    return f"{text}: {detail}" if detail else text


def describe_changes(op: OperationResult) -> str:
    """The gist of a write in one short phrase."""
    changes = op.changes
    if op.action == "create":
        if op.entity == "Contract":
            term = f"{changes.get('startDate')}..{changes.get('endDate')}"
            return f"{changes.get('contractName')}, {term}"
        if op.entity == "ContractCharge":
            return (
                f"{changes.get('unitQuantity')} x {changes.get('unitPrice')}"
                f" (cost {changes.get('unitCost')})"
            )
        if op.entity == "Product":
            prices = f"cost {changes.get('unitCost')}, price {changes.get('unitPrice')}"
            return f"{changes.get('name')}: {prices}"
    parts = []
    for name, value in changes.items():
        if name == "description":
            parts.append("description")
        elif isinstance(value, dict) and set(value) == {"from", "to"}:
            parts.append(f"{name} {_short(value['from'])} -> {_short(value['to'])}")
        else:
            parts.append(f"{name}={_short(value)}")
    return ", ".join(parts)


def _short(value: Any) -> str:
    """A value in a phrase; long free text (descriptions, names) is shortened at a space."""
    text = str(value).replace("\n", " ")
    if len(text) <= 60:
        return text
    return textwrap.shorten(text, 60, placeholder="...", break_long_words=False) or text


# -- runs --------------------------------------------------------------------------------------


def runs_table(console: Console, runs: Sequence[RunSummary]) -> None:
    """Recent runs, one line each, in aligned columns (who started each: `runs RUN`)."""
    header = ("run", "started (UTC)", "status", "reports", "created", "updated", "conflicts")
    rows = [
        (
            str(run.id),
            f"{run.started_at:%Y-%m-%d %H:%M}",
            status_words(run.status),
            str(run.report_count),
            str(run.created),
            str(run.updated),
            str(run.conflicts),
            str(run.failed_reports),
        )
        for run in runs
    ]
    titles = (*header, "failed")
    widths = [max(len(r[i]) for r in (titles, *rows)) for i in range(len(titles))]
    left = {1, 2}

    def line(cells: Sequence[str]) -> str:
        return " ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = lines_for(console)
    out.items.append((line(titles), "bold"))
    for run, row in zip(runs, rows, strict=True):
        out.items.append((line(row), STATUS_STYLE.get(run.status, "")))
    stopped = [run for run in runs if run.error]
    if stopped:
        out.blank()
        for run in stopped:
            out.add(f"run {run.id} stopped: {run.error}", style="bold red")
    out.add("`billbridge runs RUN` shows one run in full.", style="dim")
    out.print(console)


def run_detail(console: Console, result: RunResult) -> None:
    """One stored run: its outcome and money, then each report with its operations under it."""
    out = lines_for(console)
    count = len(result.reports)
    started = f", started {result.started_at:%Y-%m-%d %H:%M:%S} UTC" if result.started_at else ""
    out.add(
        f"run {result.run_id}: {status_words(result.status or 'running')}{started}"
        f" by {result.trigger}; {count} report{'' if count == 1 else 's'},"
        f" {result.requests} Autotask requests",
        style=STATUS_STYLE.get(result.status or "", "bold"),
    )
    s = result.summary
    out.add(
        f"created {s.created}, updated {s.updated}, unchanged {s.unchanged},"
        f" conflicts {s.conflicts}, failed reports {s.failed_reports}",
        indent=2,
    )
    _money_and_stop(out, result)
    for report in result.reports:
        out.blank()
        same = sum(1 for op in report.operations if op.action == "unchanged")
        reason = f": {report.reason}" if report.reason else ""
        revision = f", revision {report.revision}" if report.revision is not None else ""
        out.add(
            f"{_who(report)}{revision}: {status_words(report.status)}{reason}"
            + (f"; {same} unchanged" if same else ""),
            style=STATUS_STYLE.get(report.status, ""),
        )
        for amounts in report.money:
            out.add(f"billing {money_line(amounts)}", indent=2, style="dim")
        for warning in report.warnings:
            out.add(f"warning: {warning}", indent=2, style="yellow")
        _stored_writes(out, report.operations)
    out.print(console)


def _stored_writes(out: Lines, ops: Sequence[OperationResult]) -> None:
    for op in ops:
        if op.action == "unchanged":
            continue
        detail = op.error or op.reason or describe_changes(op)
        state = "" if op.state in (None, "done") else f" [{op.state}]"
        failed = op.state in ("failed", "unknown")
        out.add(
            _operation_text(op.action, op.entity, op.key, op.autotask_id, detail) + state,
            indent=2,
            hang=_ACTION_WIDTH + 2,
            style="bold red" if failed else ("yellow" if op.action == "conflict" else ""),
        )


# -- link suggestions --------------------------------------------------------------------------


def suggestions_table(
    console: Console, rows: Sequence[tuple[Organization, Sequence[Suggestion]]]
) -> None:
    """Each unlinked organization, then its likely companies, best first."""
    out = lines_for(console)
    for organization, suggestions in rows:
        domain = f", {organization.domain}" if organization.domain else ""
        out.add(f"{organization.organization_id}: {organization.name}{domain}", style="bold")
        if not suggestions:
            out.add("no likely company", indent=2, style="dim")
        for suggestion in suggestions:
            score = f"{suggestion.score:.2f}" + (" exact" if suggestion.exact else "")
            out.add(
                f"{suggestion.company_id:>8}  {suggestion.company_name} ({score};"
                f" {suggestion.reason})",
                indent=2,
                hang=10,
            )
    out.blank()
    out.add(
        "Link one with `billbridge map ORG_ID COMPANY_ID`; `--apply-exact` links every exact match."
    )
    out.print(console)


# -- what landed in Autotask (the demo) --------------------------------------------------------


def amounts_by_company(
    console: Console, amounts: Sequence[tuple[str, str, Decimal]], *, currency: str
) -> None:
    """Charged amounts per company (rows) and billing month (columns), with totals: what an
    export put on each customer's invoice, at a glance."""
    months = sorted({month for _, month, _ in amounts})
    totals: dict[str, dict[str, Decimal]] = {}
    for company, month, amount in amounts:
        row = totals.setdefault(company, {})
        row[month] = row.get(month, Decimal(0)) + amount
    names = sorted(totals)
    header = f"company ({currency})"
    name_width = max(len(n) for n in (*names, header, "all companies"))
    columns = [*months, "total"]
    cells = {
        name: [
            *(f"{totals[name].get(m, Decimal(0)):,.2f}" for m in months),
            f"{sum(totals[name].values(), Decimal(0)):,.2f}",
        ]
        for name in names
    }
    grand = [
        *(
            f"{sum((t.get(m, Decimal(0)) for t in totals.values()), Decimal(0)):,.2f}"
            for m in months
        ),
        f"{sum((sum(t.values(), Decimal(0)) for t in totals.values()), Decimal(0)):,.2f}",
    ]
    widths = [
        max(len(c), *(len(cells[n][i]) for n in names), len(grand[i]))
        for i, c in enumerate(columns)
    ]

    def line(first: str, values: Sequence[str]) -> str:
        return f"{first:<{name_width}}  " + "  ".join(
            v.rjust(w) for v, w in zip(values, widths, strict=True)
        )

    out = lines_for(console)
    out.items.append((line(header, columns), "bold"))
    for name in names:
        out.items.append((line(name, cells[name]), ""))
    out.items.append((line("all companies", grand), "bold"))
    out.print(console)

"""The `billbridge` command line."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from typer import _click as click  # typer's own click, whose types TyperGroup uses

from billbridge import __version__
from billbridge.cli_help import PlainCommand, PlainGroup, plain
from billbridge.sources.problems import InputError

if TYPE_CHECKING:
    # Imported where used: settings and the store bring SQLAlchemy and pydantic (a third of a
    # second), which `import partner-center` loads while polars reads the file.
    from billbridge.config import Settings, SettingsError
    from billbridge.export.reconcile import ReconcileResult
    from billbridge.export.results import RunResult
    from billbridge.preview import Unbilled
    from billbridge.store import Store

EXIT_OK = 0
EXIT_PARTLY_FAILED = 1
EXIT_BAD_INPUT = 2
MAX_PROBLEMS_SHOWN = 50
"""Input problems printed; the rest are counted (a bad file can have millions)."""

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXAMPLES = """Examples:
billbridge demo                    an export end to end, in a sandbox
billbridge import organizations organizations.csv
billbridge import price-list price-list.csv
billbridge import reports reports-2026-10.csv
billbridge map --suggest           likely Autotask companies
billbridge doctor                  settings, credentials, tenant
billbridge plan --due              what the export would write
billbridge export --due            export what is due today
billbridge runs 12                 one run, report by report
billbridge serve                   web admin and daily check
"""


class _Commands(PlainGroup):
    """billbridge's commands, with `sandbox` imported only when it is asked for.

    The sandbox is a web server (FastAPI, uvicorn): importing it costs about a third of a
    second that every other command would pay at start-up for nothing.
    """

    lazy_commands = ("sandbox",)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name != "sandbox":
            return super().get_command(ctx, cmd_name)
        from billbridge.sandbox import cli as sandbox_cli

        sandbox_cli.app.rich_markup_mode = app.rich_markup_mode  # as a nested group would
        command = plain(typer.main.get_command(sandbox_cli.app))
        command.name = "sandbox"
        return command


app = typer.Typer(
    cls=_Commands,
    name="billbridge",
    help="Export Microsoft cloud billing (CSP licences, Azure, Marketplace) into Autotask PSA.",
    epilog=EXAMPLES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
import_app = typer.Typer(
    help="Import organizations, the price list and billing reports into the state store.",
    epilog="""Examples:
billbridge import organizations organizations.csv
billbridge import price-list price-list.csv
billbridge import reports reports-2026-09.csv reports-2026-10.csv
billbridge import partner-center invoice.csv usage.csv.gz --azure-markup 10
""",
    cls=PlainGroup,
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(import_app, name="import")


@dataclass
class AppContext:
    """What the global options decided; settings and store are opened on first use."""

    config: Path | None = None
    _settings: Settings | None = None
    _stores: list[Store] = field(default_factory=list)

    def settings(self) -> Settings:
        from billbridge.config import Settings, SettingsError

        if self._settings is None:
            try:
                self._settings = Settings.load(self.config)
            except SettingsError as exc:
                fail_settings(exc)
        return self._settings

    def store(self) -> Store:
        from billbridge.config import mask_database_url
        from billbridge.store import Store
        from billbridge.store.database import StoreError

        if not self._stores:
            try:
                self._stores.append(Store(self.settings().database.url))
            except StoreError as exc:
                fail(mask_database_url(str(exc), self.settings().database.url))
        return self._stores[0]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    say(err, f"error: {message}")
    raise typer.Exit(code)


def fail_settings(exc: SettingsError) -> NoReturn:
    say(err, "error: the settings cannot be used:", *(f"  {p}" for p in exc.problems))
    raise typer.Exit(EXIT_BAD_INPUT)


def say(console: Console, *paragraphs: str) -> None:
    """Each paragraph wrapped to a terminal's width (`render.paragraphs`)."""
    from billbridge.render import paragraphs as wrapped

    wrapped(console, *paragraphs)


@contextmanager
def input_errors() -> Iterator[None]:
    """Print every input problem as FILE:LINE: column: problem, then exit 2."""
    try:
        yield
    except InputError as exc:
        shown = exc.problems[:MAX_PROBLEMS_SHOWN]
        err.file.write("".join(f"{problem}\n" for problem in shown))
        count = exc.count
        if count > len(shown):
            err.print(f"... and {count - len(shown)} more", markup=False)
        err.print(
            f"error: {count} problem{'s' if count != 1 else ''} found; nothing was imported",
            markup=False,
        )
        raise typer.Exit(EXIT_BAD_INPUT) from None


@contextmanager
def working(description: str) -> Iterator[None]:
    """A spinner on stderr while a long import reads and checks its files (terminals only)."""
    if not err.is_terminal:
        yield
        return
    with err.status(description, spinner="dots"):
        yield


def context(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, AppContext)
    return obj


def _version(value: bool) -> None:
    if value:
        out.print(f"billbridge {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Settings file (default: $BILLBRIDGE_CONFIG, else ./billbridge.toml).",
            dir_okay=False,
            metavar="FILE",
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    ctx.obj = AppContext(config=config)
    ctx.call_on_close(lambda: [s.close() for s in ctx.obj._stores])


Files = Annotated[
    list[Path],
    typer.Argument(
        help="CSV or JSON files; all are imported, or none.", show_default=False, metavar="FILE"
    ),
]


@import_app.command(
    "organizations",
    cls=PlainCommand,
    epilog="""Examples:
billbridge import organizations organizations.csv
billbridge import organizations customers-a.csv customers-b.json
""",
)
def import_organizations_command(ctx: typer.Context, files: Files) -> None:
    """Customer organizations and their Autotask company ids.

    A blank autotask_company_id leaves an existing link as it is; `billbridge map` changes links.
    """
    from billbridge.importing import import_organizations

    with input_errors(), working("reading organizations"):
        counts = import_organizations(context(ctx).store(), files)
    out.print(f"organizations: {counts}")


@import_app.command(
    "price-list",
    cls=PlainCommand,
    epilog="""Examples:
billbridge import price-list price-list.csv
""",
)
def import_price_list_command(ctx: typer.Context, files: Files) -> None:
    """The broker price list (by sku; skus not in the files are kept)."""
    from billbridge.importing import import_price_list

    with input_errors(), working("reading the price list"):
        counts = import_price_list(context(ctx).store(), files)
    out.print(f"price list: {counts}")


@import_app.command(
    "reports",
    cls=PlainCommand,
    epilog="""Examples:
billbridge import reports reports-2026-10.csv
billbridge import reports reports-2026-09.csv reports-2026-10.csv
""",
)
def import_reports_command(ctx: typer.Context, files: Files) -> None:
    """Billing reports. A report id imported again with new content is a correction."""
    from billbridge.importing import import_reports

    with input_errors(), working("reading reports"):
        counts = import_reports(context(ctx).store(), files)
    out.print(f"reports: {counts}")


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a date; write YYYY-MM-DD") from None


def _parse_percent(value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise typer.BadParameter(f"'{value}' is not a number") from None
    if not number.is_finite() or number < -100 or number > 1000:
        raise typer.BadParameter(f"'{value}' must be a percentage between -100 and 1000")
    return number


# Shared by `import partner-center` and `pull partner-center`.
LicenseMarkupOption = Annotated[
    str | None,
    typer.Option(
        "--license-markup",
        help="Sell licences not in the price list at cost + PCT%.",
        metavar="PCT",
    ),
]


@import_app.command(
    "partner-center",
    cls=PlainCommand,
    epilog="""Examples:
billbridge import partner-center invoice-recon.csv daily-usage.csv.gz
billbridge import partner-center invoice-recon.csv --generated-on 2026-11-06
billbridge import partner-center daily-usage.csv.gz --azure-markup 10
""",
)
def import_partner_center_command(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Invoice reconciliation and daily-rated usage files (CSV, JSON, .gz).",
            show_default=False,
            metavar="FILE",
        ),
    ],
    generated_on: Annotated[
        str | None,
        typer.Option(
            "--generated-on",
            help="Generated date of the reports (default: today, UTC; a report already"
            " imported with the same lines keeps its date).",
            metavar="DATE",
        ),
    ] = None,
    azure_markup: Annotated[
        str | None,
        typer.Option(
            "--azure-markup",
            help="Sell Azure at cost + PCT% instead of Microsoft's list price.",
            metavar="PCT",
        ),
    ] = None,
    license_markup: LicenseMarkupOption = None,
) -> None:
    """Microsoft Partner Center files: organizations by tenant id (links untouched) and reports."""
    from billbridge.importing import import_partner_center

    day = _parse_date(generated_on) if generated_on else None
    azure = _parse_percent(azure_markup) if azure_markup is not None else None
    licence = _parse_percent(license_markup) if license_markup is not None else None
    with input_errors(), working("reading Partner Center files"):
        result = import_partner_center(
            context(ctx).store,  # opened while the files are read
            files,
            generated_on=day,
            today=datetime.now(UTC).date(),
            azure_markup=azure,
            license_markup=licence,
        )
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False)
    out.print(f"organizations: {result.organizations}")
    out.print(f"reports: {result.reports}")


def main() -> NoReturn:
    """Run one command, then leave without tearing the interpreter down: freeing every
    object of a large run costs a fifth of a second, after everything has been written.
    A thread still working (one `serve` started) is waited for, as at a normal exit."""
    try:
        app()
        status: str | int | None = 0
    except SystemExit as stop:
        status = stop.code
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.exit(status)
    if isinstance(status, str):  # sys.exit("message") prints it and exits with 1
        print(status, file=sys.stderr)
        status = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe or stream has nothing to flush
            stream.flush()
    os._exit(status or 0)


# -- plan, export, runs --------------------------------------------------------------------------

ReportIds = Annotated[
    list[str] | None,
    typer.Argument(
        help="Reports to export (default with --due: every due report).",
        show_default=False,
        metavar="REPORT_ID",
    ),
]
DueOption = Annotated[bool, typer.Option("--due", help="Add every report due on --today.")]
TodayOption = Annotated[
    str | None,
    typer.Option(
        "--today", help="The day --due is computed for (default: today, UTC).", metavar="DATE"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="List every report and every write.")
]


def _unbilled_period(value: str | None) -> str | None:
    """`--unbilled`: Graph's unbilled usage export is asked for the current period only."""
    if value is not None and value != "current":
        raise typer.BadParameter("only 'current' is supported")
    return value


def _unbilled_alone(given: bool, does: str, leave_out: str) -> None:
    """Refuse, with `--unbilled`, an option that names what the month to date replaces."""
    if given:
        raise typer.BadParameter(f"{does}: leave out {leave_out}", param_hint="'--unbilled'")


def _unbilled_option(help_text: str) -> Any:
    return typer.Option("--unbilled", help=help_text, metavar="PERIOD", callback=_unbilled_period)


UnbilledOption = Annotated[
    str | None,
    _unbilled_option("'current': the month to date, a preview that is never exported."),
]


def _fetch_unbilled(settings: Settings, store: Store) -> Unbilled:
    """The month to date from Microsoft, priced with the store's price list as an import
    prices it; nothing is stored."""
    from billbridge.preview import fetch_unbilled
    from billbridge.pull_output import microsoft_errors

    with store.transaction() as uow:
        price_list = {item.sku: item for item in uow.price_list.all()}
    with microsoft_errors(fail, "the month to date could not be read"):
        return fetch_unbilled(settings, price_list=price_list)


def _month_to_date(period: str) -> str:
    """The line that marks what is shown as the month to date."""
    return (
        f"The month to date ({period}), from Microsoft's unbilled usage: a preview; it is"
        " never exported."
    )


@contextmanager
def export_errors() -> Iterator[None]:
    """Map what stops a plan, an export or a link to a message and an exit status."""
    from billbridge.autotask import AutotaskError
    from billbridge.config import SettingsError
    from billbridge.export.errors import EXIT_PARTLY_FAILED, EXPECTED_ERRORS, explain

    try:
        yield
    except SettingsError as exc:
        fail_settings(exc)
    except AutotaskError as exc:
        # A transient outage after the client's safe retries: the command stopped before any
        # write (the engine handles failures of writes itself), so running it again is safe.
        if exc.kind == "retriable":
            fail(
                f"Autotask did not answer: {exc.reason}; nothing was written, try again",
                EXIT_PARTLY_FAILED,
            )
        message, code = explain(exc)
        fail(message, code)
    except EXPECTED_ERRORS as exc:
        message, code = explain(exc)
        fail(message, code)


@app.command(
    "plan",
    cls=PlainCommand,
    epilog="""Examples:
billbridge plan --due                      what today's export would write
billbridge plan --due --today 2026-11-10   as the check of that day would
billbridge plan bb-2026-10-contoso -v      one report, every write listed
billbridge plan --unbilled current         the month to date, never exported
""",
)
def plan_command(
    ctx: typer.Context,
    report_ids: ReportIds = None,
    due: DueOption = False,
    today: TodayOption = None,
    unbilled: UnbilledOption = None,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
) -> None:
    """Show what an export would write; writes nothing in Autotask or the store."""
    if unbilled is not None:
        _unbilled_alone(
            bool(report_ids) or due or today is not None,
            "plans the month to date, not imported reports",
            "REPORT_ID, --due and --today",
        )
        result, periods = _plan_unbilled(ctx)
        _show_unbilled_plan(result, periods, as_json=as_json, verbose=verbose)
        return
    result = _run_engine(ctx, report_ids, due, today, write=False)
    _show_result(result, as_json=as_json, planned=True, verbose=verbose)


def _plan_unbilled(ctx: typer.Context) -> tuple[RunResult, str]:
    """The plan an export of the month to date would make, and the months it covers."""
    from billbridge.export.connection import client_from_settings
    from billbridge.export.engine import ExportEngine
    from billbridge.export.results import RunResult
    from billbridge.preview import NO_UNBILLED_USAGE

    app_context = context(ctx)
    with export_errors():
        settings = app_context.settings()
        store = app_context.store()
        to_date = _fetch_unbilled(settings, store)
        if not to_date.reports:
            return RunResult(None, (), notes=(f"{NO_UNBILLED_USAGE}: nothing to plan",)), ""
        with client_from_settings(settings) as client:
            engine = ExportEngine(store, settings, client)
            result = engine.plan_unstored(to_date.reports, names=to_date.names)
    periods = sorted({f"{report.period_start:%Y-%m}" for report in to_date.reports})
    return result, ", ".join(periods)


def _show_unbilled_plan(result: RunResult, periods: str, *, as_json: bool, verbose: bool) -> None:
    from billbridge.render import run_result

    if as_json:
        out.print_json(json.dumps({"unbilled": "current", **result.to_json()}))
    elif not result.reports:
        say(out, *result.notes)
    else:
        heading = _month_to_date(periods)
        run_result(out, result, planned=True, verbose=verbose, heading=heading)


@app.command(
    "export",
    cls=PlainCommand,
    epilog="""Examples:
billbridge export --due                  every report due today (UTC)
billbridge export bb-2026-10-contoso     one report, due or not
billbridge export --due --json           for scripts

Exit status: 0 done, 1 a report failed or a conflict needs you, 2 bad
settings or input (nothing was written).
""",
)
def export_command(
    ctx: typer.Context,
    report_ids: ReportIds = None,
    due: DueOption = False,
    today: TodayOption = None,
    verbose: VerboseOption = False,
    as_json: JsonOption = False,
) -> None:
    """Export reports into Autotask; prints a summary and what needs you."""
    result = _run_engine(ctx, report_ids, due, today, write=True)
    _show_result(result, as_json=as_json, planned=False, verbose=verbose)
    raise typer.Exit(result.exit_code)


def _run_engine(
    ctx: typer.Context, report_ids: list[str] | None, due: bool, today: str | None, *, write: bool
) -> RunResult:
    """Plan or export the selected reports, mapping what stops them to an exit status."""
    from billbridge.export.connection import client_from_settings

    app_context = context(ctx)
    day = _parse_date(today) if today else datetime.now(UTC).date()
    with export_errors():
        settings = app_context.settings()
        with client_from_settings(settings) as client:
            client.look_up_zone_early()  # beside the imports, the store and the selection
            from billbridge.export.engine import ExportEngine, Selection
            from billbridge.export.errors import ExportStoppedError

            selection = Selection(tuple(report_ids or ()), due, day)
            engine = ExportEngine(app_context.store(), settings, client)
            if not write:
                return engine.plan(selection)
            with progress_bar("exporting") as progress:
                try:
                    return engine.export(selection, trigger="cli", on_progress=progress)
                except ExportStoppedError as exc:
                    if exc.result is None:
                        raise
                    # The run is shown as it stopped; its error and exit status say why.
                    return exc.result


def _show_result(result: RunResult, *, as_json: bool, planned: bool, verbose: bool) -> None:
    from billbridge.render import run_result

    if as_json:
        out.print_json(json.dumps(result.to_json()))
    elif not result.reports and result.error is None:
        out.print("nothing is due")
    else:
        run_result(out, result, planned=planned, verbose=verbose)


@app.command(
    "runs",
    cls=PlainCommand,
    epilog="""Examples:
billbridge runs              the last 20 runs
billbridge runs 12           run 12, report by report, every write
billbridge runs 12 --json    the same for scripts
""",
)
def runs_command(
    ctx: typer.Context,
    run_id: Annotated[
        int | None,
        typer.Argument(help="Show this run in full.", show_default=False, metavar="RUN"),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", help="How many recent runs to list.", metavar="N")
    ] = 20,
    as_json: JsonOption = False,
) -> None:
    """Export history, and one run with its writes grouped by report."""
    from billbridge.export.run_views import run_summary_json, stored_run
    from billbridge.render import run_detail, runs_table

    store = context(ctx).store()
    with store.transaction() as uow:
        if run_id is None:
            runs = uow.runs.recent(limit)
            if as_json:
                out.print_json(json.dumps({"runs": [run_summary_json(r) for r in runs]}))
            elif runs:
                runs_table(out, runs)
            else:
                out.print("no exports yet")
            return
        detail = stored_run(uow, run_id)
    if detail is None:
        fail(f"there is no run {run_id}")
    if as_json:
        out.print_json(json.dumps(detail.to_json()))
    else:
        run_detail(out, detail)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None] | None]:
    """A Rich progress bar on stderr when it is a terminal; nothing otherwise."""
    if not err.is_terminal:
        yield None
        return
    with _terminal_progress(description, description_last=False) as (_, counted):
        yield counted


@contextmanager
def _terminal_progress(
    description: str, *, description_last: bool
) -> Iterator[tuple[Callable[[str], None], Callable[[int, int], None]]]:
    """One transient Rich line on stderr: a bar, done of total, the time, and `description`
    (first, or last where it changes and is cut to the room left); what updates each."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TimeElapsedColumn,
    )

    text = "[progress.description]{task.description}"
    bar = BarColumn(bar_width=10 if description_last else None)
    counters: list[str | ProgressColumn] = [bar, MofNCompleteColumn(), TimeElapsedColumn()]
    columns = [*counters, text] if description_last else [text, *counters]
    room = max(err.width - 30, 20)  # what the bar, the count and the time leave
    with Progress(*columns, console=err, transient=True, refresh_per_second=4) as progress:
        task = progress.add_task(description, total=None)

        def step(message: str) -> None:
            short = message if len(message) <= room else message[: room - 3] + "..."
            progress.update(task, description=short)

        def counted(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield step, counted


@app.command(
    "demo",
    cls=PlainCommand,
    epilog="""Examples:
billbridge demo                  in a temporary folder
billbridge demo --keep demo/     keep the state and the sandbox tenant
""",
)
def demo_command(
    keep: Annotated[
        Path | None,
        typer.Option(
            "--keep",
            help="Keep the demo's state store and sandbox tenant in this folder.",
            file_okay=False,
            metavar="FOLDER",
        ),
    ] = None,
) -> None:
    """Start the sandbox in-process, import the bundled sample data, export it, show what landed."""
    from billbridge.demo import run_demo

    raise typer.Exit(run_demo(out, keep))


# -- doctor and company links ---------------------------------------------------------------------


@app.command(
    "doctor",
    cls=PlainCommand,
    epilog="""Examples:
billbridge doctor                      settings, credentials, zone, links
billbridge doctor --tenant             also what the tenant requires
billbridge doctor --canary 29683502    write a test contract and charge
billbridge doctor --json               for scripts
""",
)
def doctor_command(
    ctx: typer.Context,
    tenant: Annotated[
        bool,
        typer.Option(
            "--tenant",
            help="Also probe the tenant read-only: required fields, picklists, the UDF,"
            " costs, duplicates.",
        ),
    ] = False,
    canary: Annotated[
        int | None,
        typer.Option(
            "--canary",
            metavar="COMPANY_ID",
            help="Write one contract and one charge on this test company and report what"
            " the tenant kept.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check settings, credentials, zone, billing code, the contract UDF and company links.

    Before a first export on a real tenant: `billbridge doctor --tenant`, then
    `billbridge doctor --canary COMPANY_ID` with a test company.
    """
    from billbridge.export.doctor import exit_status, run_doctor

    app_context = context(ctx)
    today = datetime.now(UTC).date()
    canary_result = None
    with export_errors():
        settings, store = app_context.settings(), app_context.store()
        if tenant:
            from billbridge.export.doctor_tenant import run_tenant_doctor

            checks = run_tenant_doctor(settings, store, today=today)
        else:
            checks = run_doctor(settings, store, today=today)
        # A write, so only when the tenant can be reached and fits the settings.
        blocking = {"credentials settings", "zone", "credentials", "tenant settings"}
        if canary is not None and not any(
            c.status == "fail" and c.name in blocking for c in checks
        ):
            canary_result = _run_canary(settings, canary)
    every = checks + (canary_result.checks if canary_result else [])
    if as_json:
        body: dict[str, Any] = {"checks": [_check_json(c) for c in checks]}
        if canary_result is not None:
            body["canary"] = {
                "company_id": canary_result.company_id,
                "contract_id": canary_result.contract_id,
                "charge_id": canary_result.charge_id,
                "checks": [_check_json(c) for c in canary_result.checks],
            }
        out.print_json(json.dumps(body))
    else:
        for check in every:
            _print_check(check)
        if canary is not None and canary_result is None:
            out.print(
                "the canary was not written: fix the credentials or settings above first",
                highlight=False,
            )
    raise typer.Exit(exit_status(every) if canary is None or canary_result else 1)


if TYPE_CHECKING:
    from billbridge.export.doctor_canary import CanaryResult


def _run_canary(settings: Settings, company_id: int) -> CanaryResult:
    from billbridge.export.connection import client_from_settings
    from billbridge.export.doctor_canary import run_canary

    with client_from_settings(settings) as client:
        return run_canary(client, settings, company_id, now=datetime.now(UTC))


_CHECK_STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def _print_check(check: Any) -> None:
    """One check in 80 columns: the status, then the text wrapped under itself, words whole."""
    import textwrap

    mark = f"{check.status:<4} "
    lines = textwrap.wrap(
        f"{check.name}: {check.detail}", 80 - len(mark), break_long_words=False
    ) or [""]
    out.print(f"[{_CHECK_STYLES[check.status]}]{mark}[/]", end="")
    out.print(lines[0], markup=False)
    for line in lines[1:]:
        out.print(" " * len(mark) + line, markup=False)
    if check.fix:
        wrapped = textwrap.wrap(
            check.fix,
            80,
            initial_indent="  -> ",
            subsequent_indent="     ",
            break_long_words=False,
        )
        for line in wrapped:
            out.print(line, style="dim", markup=False)


def _check_json(check: Any) -> dict[str, Any]:
    return {"name": check.name, "status": check.status, "detail": check.detail, "fix": check.fix}


@app.command(
    "map",
    cls=PlainCommand,
    epilog="""Examples:
billbridge map --suggest           likely companies of unlinked organizations
billbridge map --apply-exact       link every exact name or domain match
billbridge map org-7 29683502      link one organization
billbridge map org-7 none          unlink it
""",
)
def map_command(
    ctx: typer.Context,
    organization_id: Annotated[
        str | None,
        typer.Argument(help="Organization to link.", show_default=False, metavar="ORG_ID"),
    ] = None,
    company_id: Annotated[
        str | None,
        typer.Argument(
            help="Autotask company id, or 'none' to unlink.",
            show_default=False,
            metavar="COMPANY_ID",
        ),
    ] = None,
    suggest_links: Annotated[
        bool, typer.Option("--suggest", help="Rank likely companies for unlinked organizations.")
    ] = False,
    apply_exact: Annotated[
        bool,
        typer.Option(
            "--apply-exact",
            help="Link every unlinked organization with exactly one exact name or domain match.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Link organizations to Autotask companies: one by id, or from ranked suggestions."""
    from billbridge.export.linking import apply_exact_links, link_one, suggestions_for_unlinked
    from billbridge.render import suggestions_table

    app_context = context(ctx)
    chosen = sum((organization_id is not None, suggest_links, apply_exact))
    if chosen != 1:
        fail("give ORG_ID COMPANY_ID, or --suggest, or --apply-exact")
    with export_errors():
        settings = app_context.settings()
        store = app_context.store()
        if organization_id is not None:
            if company_id is None:
                fail("give the company id to link to (or 'none' to unlink)")
            target = None if company_id.lower() == "none" else _company_id(company_id)
            message = link_one(store, settings, organization_id, target)
            out.print(message)
            return
        if suggest_links:
            rows = suggestions_for_unlinked(store, settings)
            if as_json:
                out.print_json(
                    json.dumps({"suggestions": [_suggestion_json(o, s) for o, s in rows]})
                )
            elif rows:
                suggestions_table(out, rows)
            else:
                out.print("every active organization is linked")
            return
        linked = apply_exact_links(store, settings)
        if as_json:
            out.print_json(
                json.dumps(
                    {
                        "linked": [
                            {"organization_id": o.organization_id, "company_id": c.id}
                            for o, c in linked
                        ]
                    }
                )
            )
        else:
            for organization, company in linked:
                who = f"{organization.name} ({organization.organization_id})"
                out.print(f"linked {who} to {company.name} ({company.id})")
            out.print(f"{len(linked)} organization(s) linked by an exact name or domain match")


def _company_id(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise typer.BadParameter(f"'{text}' is not a company id")
    return int(text)


def _suggestion_json(organization: Any, suggestions: Any) -> dict[str, Any]:
    return {
        "organization_id": organization.organization_id,
        "name": organization.name,
        "domain": organization.domain,
        "candidates": [
            {
                "company_id": s.company_id,
                "company_name": s.company_name,
                "score": s.score,
                "exact": s.exact,
                "reason": s.reason,
            }
            for s in suggestions
        ],
    }


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise typer.BadParameter(f"{value} is not a port (1 to 65535)")
    return value


@app.command(
    "serve",
    cls=PlainCommand,
    epilog="""Examples:
billbridge serve                        http://127.0.0.1:8080/
billbridge serve --port 8081            http://127.0.0.1:8081/

serve speaks plain HTTP: to reach it from other machines, keep it on
127.0.0.1 behind a reverse proxy with TLS (nginx, Caddy) and name the proxy
in web.trusted_proxies. Set web.admin_password (or
BILLBRIDGE_WEB_ADMIN_PASSWORD) first.
""",
)
def serve_command(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address of the web admin.", metavar="ADDRESS")
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option("--port", help="Port of the web admin.", metavar="PORT", callback=_port),
    ] = 8080,
) -> None:
    """The web admin and the daily check (at export.check_time, UTC) in one process."""
    from billbridge.config import SettingsError
    from billbridge.web.server import serve

    app_context = context(ctx)
    settings = app_context.settings()
    if problems := settings.missing("web.admin_password"):
        fail_settings(SettingsError(problems))
    with export_errors():
        serve(settings, app_context.store(), host=host, port=port, console=err)


# --- money commands (reconcile, attention) ---

PeriodOption = Annotated[
    str | None,
    typer.Option(
        "--period", help="The month to reconcile (or --unbilled current).", metavar="YYYY-MM"
    ),
]
FileOption = Annotated[Path | None, typer.Option(dir_okay=False, metavar="FILE")]
AttentionDayOption = Annotated[
    str | None,
    typer.Option(
        "--today",
        help="The day terms ending within 30 days are counted from (default: today, UTC).",
        metavar="DATE",
    ),
]


@app.command(
    "reconcile",
    epilog="""Examples:
billbridge reconcile --period 2026-10
billbridge reconcile --period 2026-10 --xlsx october.xlsx --csv october.csv
billbridge reconcile --period 2026-10 --json
billbridge reconcile --unbilled current    the month to date, from Microsoft

Exit status: 0 every row matches, 1 a row does not, 2 bad usage or settings.
""",
)
def reconcile_command(
    ctx: typer.Context,
    period: PeriodOption = None,
    unbilled: UnbilledOption = None,
    as_json: JsonOption = False,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", dir_okay=False, metavar="FILE", help="Write the rows as CSV."),
    ] = None,
    xlsx_file: Annotated[
        Path | None,
        typer.Option(
            "--xlsx", dir_okay=False, metavar="FILE", help="Write a spreadsheet, a sheet per view."
        ),
    ] = None,
) -> None:
    """Compare a month's imported billing with Autotask's charges now; exit 1 unless all match."""
    from billbridge.export.connection import client_from_settings
    from billbridge.export.reconcile import (
        PeriodError,
        parse_period,
        reconcile_period,
        reconcile_unbilled,
    )

    app_context = context(ctx)
    if unbilled is not None:
        _unbilled_alone(
            period is not None,
            "reconciles the month to date, whose period Microsoft sets",
            "--period",
        )
    elif period is None:
        fail("give --period YYYY-MM, or --unbilled current for the month to date")
    else:
        try:
            parse_period(period)
        except PeriodError as exc:
            fail(str(exc))
    with export_errors():
        settings = app_context.settings()
        store = app_context.store()
        with client_from_settings(settings) as client:
            if period is None:
                to_date = _fetch_unbilled(settings, store)
                result = reconcile_unbilled(store, settings, client, to_date.reports, to_date.names)
            else:
                result = reconcile_period(store, settings, client, period)
    _write_reconciliation(result, csv_file, xlsx_file)
    _show_reconciliation(result, as_json=as_json)
    raise typer.Exit(result.exit_code)


def _write_reconciliation(
    result: ReconcileResult, csv_file: Path | None, xlsx_file: Path | None
) -> None:
    from billbridge.export.reconcile import reconcile_sheets, rows_sheet
    from billbridge.export.sheets import write_csv, write_xlsx

    try:
        if csv_file is not None:
            write_csv(csv_file, rows_sheet(result.reconciliation, result.unbilled))
        if xlsx_file is not None:
            write_xlsx(xlsx_file, reconcile_sheets(result.reconciliation, result.unbilled))
    except OSError as exc:
        fail(f"cannot write {exc.filename}: {exc.strerror or exc}")


def _show_reconciliation(result: ReconcileResult, *, as_json: bool) -> None:
    from billbridge.money_render import print_reconciliation
    from billbridge.preview import NO_UNBILLED_USAGE

    reconciliation = result.reconciliation
    if as_json:
        out.print_json(json.dumps(result.to_json()))
    elif result.unbilled and not reconciliation.rows:
        say(out, f"{NO_UNBILLED_USAGE}: nothing to reconcile.")
    else:
        heading = _month_to_date(reconciliation.period) if result.unbilled else ""
        print_reconciliation(out, reconciliation, result.requests, heading)


attention_app = typer.Typer(
    help="What needs a person: conflicts, failed reports, unlinked billing, margins, terms.",
    epilog="""Examples:
billbridge attention                       what is open now
billbridge attention --today 2026-12-01    terms ending within 30 days of it
billbridge attention --json                for scripts
billbridge attention resolve unlinked:6a1f2c3e-0011-4c1e-9a7e-bbbbbbbbbbbb \\
    --note "billed by hand on INV-1042"
""",
    invoke_without_command=True,
)
app.add_typer(attention_app, name="attention")


@attention_app.callback()
def attention_command(
    ctx: typer.Context,
    as_json: JsonOption = False,
    today: AttentionDayOption = None,
) -> None:
    """List what needs a person (exit 1 when anything is open)."""
    if ctx.invoked_subcommand is not None:
        return
    from billbridge.export.attention import needs_attention
    from billbridge.money_render import print_attention

    app_context = context(ctx)
    day = _parse_date(today) if today else datetime.now(UTC).date()
    with export_errors():
        attention = needs_attention(app_context.store(), app_context.settings(), day)
    if as_json:
        out.print_json(json.dumps(attention.to_json()))
    else:
        print_attention(out, attention)
    raise typer.Exit(1 if attention.open else 0)


@attention_app.command(
    "resolve",
    epilog="""Examples:
billbridge attention resolve unlinked:6a1f2c3e-0011-4c1e-9a7e-bbbbbbbbbbbb \\
    --note "billed by hand on INV-1042"
billbridge attention resolve unlinked:6a1f2c3e-0011-4c1e-9a7e-bbbbbbbbbbbb \\
    --note "billed by hand on INV-1042" --by jane
""",
)
def attention_resolve_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The item's key, as `attention` lists it.")],
    note: Annotated[str, typer.Option("--note", help="What was done about it.", metavar="TEXT")],
    by: Annotated[
        str | None,
        typer.Option("--by", help="Who resolved it (default: your login name).", metavar="NAME"),
    ] = None,
    today: AttentionDayOption = None,
) -> None:
    """Mark one item resolved, with a note; kept with who and when."""
    import getpass

    from billbridge.export.attention import UnknownItemError, resolve_item

    if not note.strip():
        fail("--note: say what was done about it")
    app_context = context(ctx)
    day = _parse_date(today) if today else datetime.now(UTC).date()
    who = by or getpass.getuser()
    with export_errors():
        try:
            item = resolve_item(
                app_context.store(),
                app_context.settings(),
                day,
                key,
                note,
                who,
                datetime.now(UTC),
            )
        except UnknownItemError as exc:
            fail(str(exc))
    out.print(f"resolved: {item.title} (by {who})", markup=False)


# --- end money commands ---


# --- pull commands (P) ---------------------------------------------------------------------------

pull_app = typer.Typer(
    help="Pull billing straight from Microsoft (Partner Center and Graph billing exports).",
    epilog="""Examples:
billbridge pull partner-center                        every invoice not pulled
billbridge pull partner-center --invoice G019283746   one invoice, any age
""",
    no_args_is_help=True,
)
app.add_typer(pull_app, name="pull")


@pull_app.command(
    "partner-center",
    epilog="""Examples:
billbridge pull partner-center                        every invoice not pulled
billbridge pull partner-center --invoice G019283746   one invoice, any age
billbridge pull partner-center --azure-markup 10      Azure at cost + 10%
billbridge pull partner-center --unbilled current     month to date, a preview
billbridge pull partner-center --json                 for scripts
""",
)
def pull_partner_center_command(
    ctx: typer.Context,
    invoice: Annotated[
        list[str] | None,
        typer.Option(
            "--invoice",
            help="Pull this invoice (repeatable; default: every invoice not yet pulled).",
            metavar="ID",
        ),
    ] = None,
    azure_markup: Annotated[
        str | None,
        typer.Option(
            "--azure-markup",
            help="Sell Azure at cost + PCT% (default: partner_center.azure_markup).",
            metavar="PCT",
        ),
    ] = None,
    license_markup: LicenseMarkupOption = None,
    unbilled: Annotated[
        str | None,
        _unbilled_option("'current': preview the month to date (never imported or exported)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Every new invoice's billed reconciliation and usage, imported dated by the invoice."""
    from billbridge.pull_output import pull_errors, show_preview, show_pull

    azure = _parse_percent(azure_markup) if azure_markup is not None else None
    licence = _parse_percent(license_markup) if license_markup is not None else None
    app_context = context(ctx)
    settings = app_context.settings()
    with pull_errors(fail, lambda result: show_pull(result, out, err, as_json=as_json)):
        if unbilled is not None:
            _unbilled_alone(
                bool(invoice), "previews the month to date, not an invoice", "--invoice"
            )
            from billbridge.preview import preview_unbilled

            show_preview(preview_unbilled(settings), out, as_json=as_json)
            return
        from billbridge.pulling import pull_partner_center

        with pull_progress(shown=not as_json) as (step, counted):
            result = pull_partner_center(
                app_context.store(),
                settings,
                invoice_ids=invoice or (),
                azure_markup=azure,
                license_markup=licence,
                progress=step,
                counted=counted,
            )
    show_pull(result, out, err, as_json=as_json)
    raise typer.Exit(result.exit_code)


@contextmanager
def pull_progress(
    *, shown: bool
) -> Iterator[tuple[Callable[[str], None] | None, Callable[[int, int], None] | None]]:
    """On a terminal, one line that the pull keeps up to date: the invoices done of those to
    pull, the time, and what it is doing (exporting, Microsoft's operation running, the blobs
    downloading, importing), as the minutes of a big month go by; nothing otherwise."""
    if not shown or not err.is_terminal:
        yield None, None
        return
    with _terminal_progress("listing the invoices", description_last=True) as (step, counted):
        yield step, counted


# --- end pull commands ---

"""The `billbridge` command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from billbridge import __version__
from billbridge.config import Settings, SettingsError
from billbridge.sources.problems import InputError
from billbridge.store import Store
from billbridge.store.database import StoreError

EXIT_OK = 0
EXIT_PARTLY_FAILED = 1
EXIT_BAD_INPUT = 2

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

app = typer.Typer(
    name="billbridge",
    help="Export Microsoft cloud billing (CSP licences, Azure, Marketplace) into Autotask PSA.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
import_app = typer.Typer(
    help="Import organizations, the price list and billing reports into the state store.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")


@dataclass
class AppContext:
    """What the global options decided; settings and store are opened on first use."""

    config: Path | None = None
    _settings: Settings | None = None
    _stores: list[Store] = field(default_factory=list)

    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.load(self.config)
            except SettingsError as exc:
                fail_settings(exc)
        return self._settings

    def store(self) -> Store:
        if not self._stores:
            try:
                self._stores.append(Store(self.settings().database.url))
            except StoreError as exc:
                fail(str(exc))
        return self._stores[0]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def fail_settings(exc: SettingsError) -> NoReturn:
    err.print("error: the settings cannot be used:", markup=False)
    for problem in exc.problems:
        err.print(f"  {problem}", markup=False)
    raise typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def input_errors() -> Iterator[None]:
    """Print every input problem as FILE:LINE: column: problem, then exit 2."""
    try:
        yield
    except InputError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        count = len(exc.problems)
        err.print(
            f"error: {count} problem{'s' if count != 1 else ''} found; nothing was imported",
            markup=False,
        )
        raise typer.Exit(EXIT_BAD_INPUT) from None


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
        help="CSV or JSON files; all are imported, or none.", show_default=False, metavar="FILE..."
    ),
]


@import_app.command("organizations")
def import_organizations_command(ctx: typer.Context, files: Files) -> None:
    """Customer organizations and their Autotask company ids.

    A blank autotask_company_id leaves an existing link as it is; `billbridge map` changes links.
    """
    from billbridge.importing import import_organizations

    with input_errors():
        counts = import_organizations(context(ctx).store(), files)
    out.print(f"organizations: {counts}")


@import_app.command("price-list")
def import_price_list_command(ctx: typer.Context, files: Files) -> None:
    """The broker price list (by sku; skus not in the files are kept)."""
    from billbridge.importing import import_price_list

    with input_errors():
        counts = import_price_list(context(ctx).store(), files)
    out.print(f"price list: {counts}")


@import_app.command("reports")
def import_reports_command(ctx: typer.Context, files: Files) -> None:
    """Billing reports. A report id imported again with new content is a correction."""
    from billbridge.importing import import_reports

    with input_errors():
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


@import_app.command("partner-center")
def import_partner_center_command(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Invoice reconciliation and daily-rated usage files (CSV, JSON, .gz).",
            show_default=False,
            metavar="FILE...",
        ),
    ],
    generated_on: Annotated[
        str | None,
        typer.Option(
            "--generated-on",
            help="Generated date of the reports (default: today, UTC).",
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
    license_markup: Annotated[
        str | None,
        typer.Option(
            "--license-markup",
            help="Sell licences not in the price list at cost + PCT%.",
            metavar="PCT",
        ),
    ] = None,
) -> None:
    """Microsoft Partner Center files: organizations by tenant id (links untouched) and reports."""
    from billbridge.importing import import_partner_center

    day = _parse_date(generated_on) if generated_on else datetime.now(UTC).date()
    azure = _parse_percent(azure_markup) if azure_markup is not None else None
    licence = _parse_percent(license_markup) if license_markup is not None else None
    with input_errors():
        result = import_partner_center(
            context(ctx).store(),
            files,
            generated_on=day,
            azure_markup=azure,
            license_markup=licence,
        )
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False)
    out.print(f"organizations: {result.organizations}")
    out.print(f"reports: {result.reports}")


def main() -> None:
    app()

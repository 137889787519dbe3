"""`billbridge sandbox`: run the Autotask-compatible sandbox, or Approve & Post its charges.

The lead registers this Typer app with `app.add_typer(sandbox_cli.app, name="sandbox")`.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import typer
import uvicorn

from billbridge.sandbox.faults import FaultSpec
from billbridge.sandbox.microsoft import (
    CLIENT_ID,
    CLIENT_SECRET,
    TENANT_ID,
    BillingFileError,
    MicrosoftEmulator,
    MicrosoftFaults,
)
from billbridge.sandbox.microsoft import PREFIX as MICROSOFT_PREFIX
from billbridge.sandbox.options import SandboxOptions
from billbridge.sandbox.seed import INTEGRATION_CODE, SECRET, USERNAME
from billbridge.sandbox.server import approve_and_post, microsoft_urls, uvicorn_config
from billbridge.sandbox.store import StoreError

app = typer.Typer(
    help="The Autotask-compatible sandbox tenant (see docs/sandbox.md).",
    add_completion=False,
)

SANDBOX_EXAMPLES = """Examples:
billbridge sandbox                             in memory, on port 8765
billbridge sandbox --data demo/sandbox.db      the tenant kept in a file
billbridge sandbox --port 0 --faults error500=0.05,lost=0.02,seed=7
billbridge sandbox --partner-center invoice-recon.csv \\
    --partner-center daily-usage.csv.gz
billbridge sandbox approve-and-post --data demo/sandbox.db
"""
APPROVE_AND_POST_EXAMPLES = """Examples:
billbridge sandbox approve-and-post --data demo/sandbox.db
billbridge sandbox approve-and-post --data demo/sandbox.db \\
    --through 2026-10-31
billbridge sandbox approve-and-post --data demo/sandbox.db \\
    --edit-description "Microsoft 365 Business Premium, October"
"""


def _faults(value: str | None) -> FaultSpec | None:
    if value is None:
        return None
    try:
        return FaultSpec.parse(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--faults'") from None


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


class _ForegroundServer(uvicorn.Server):
    """uvicorn, except that SIGINT/SIGTERM end the command cleanly (exit status 0) instead of
    being re-raised after the graceful shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket. Its protocol must be IPPROTO_TCP: accepted sockets inherit it,
    and asyncio sets TCP_NODELAY only on sockets whose protocol says TCP; without it every
    answer whose body uvicorn writes separately waits ~40 ms for the client's delayed ACK."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


# --- microsoft emulator (P) ---
def _microsoft_faults(value: str | None) -> MicrosoftFaults | None:
    if value is None:
        return None
    try:
        return MicrosoftFaults.parse(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--microsoft-faults'") from None


def _echo_microsoft(emulator: MicrosoftEmulator, origin: str) -> None:
    urls = microsoft_urls(origin)
    invoices = emulator.data.invoices
    typer.echo(f"Microsoft emulator at {origin}{MICROSOFT_PREFIX}/ ([partner_center] settings)")
    typer.echo(f"  tenant_id        = {TENANT_ID}")
    typer.echo(f"  client_id        = {CLIENT_ID}")
    typer.echo(f"  client_secret    = {CLIENT_SECRET}")
    for key, url in urls.items():
        typer.echo(f"  {key:<16} = {url}")
    typer.echo(f"  invoices         = {', '.join(sorted(invoices)) or 'none (--partner-center)'}")
    if emulator.unbilled_invoice_id is not None:
        typer.echo(f"  unbilled         = the usage of {emulator.unbilled_invoice_id}")
    if str(emulator.faults) != "none":
        typer.echo(f"  faults           {emulator.faults}")


# --- end microsoft emulator ---


@app.callback(invoke_without_command=True, epilog=SANDBOX_EXAMPLES)
def sandbox(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8765, "--port", min=0, max=65535, help="Port (0: any free one)."),
    data: Path | None = typer.Option(
        None,
        "--data",
        help="SQLite file keeping the tenant across restarts (default: memory).",
        metavar="FILE",
    ),
    latency_ms: int = typer.Option(
        0,
        "--latency-ms",
        min=0,
        help="Each answer leaves MS after its request arrived.",
        metavar="MS",
    ),
    faults: str | None = typer.Option(
        None,
        "--faults",
        metavar="SPEC",
        help="e.g. error500=0.05,lost=0.02,throttle=0.02,seed=7; also opaque500=P, slow=P, "
        "slow_ms=N, retry_after=SECONDS.",
    ),
    timezone: str = typer.Option(
        "America/New_York",
        "--timezone",
        help="The tenant's time zone (IANA name).",
        metavar="ZONE",
    ),
    date_reading: str = typer.Option(
        "convert",
        "--date-reading",
        metavar="convert|keep",
        help="How date-only fields keep an instant: convert (its day in --timezone) or "
        "keep (its day in UTC).",
    ),
    require: list[str] = typer.Option(
        [],
        "--require",
        metavar="ENTITY.FIELD",
        help="A field the tenant requires, ENTITY.FIELD (a field or UDF name); repeatable.",
    ),
    keep_empty_udfs: bool = typer.Option(
        False, "--keep-empty-udfs", help="Send userDefinedFields even when no UDF has a value."
    ),
    procurement: bool = typer.Option(False, "--procurement", help="The Procurement module is on."),
    no_cost_permission: bool = typer.Option(
        False, "--no-cost-permission", help="The API user may not see costs."
    ),
    precision: int = typer.Option(
        4,
        "--precision",
        min=0,
        max=10,
        help="Decimals kept of unit prices and quantities.",
        metavar="N",
    ),
    # --- microsoft emulator (P) ---
    partner_center: list[Path] = typer.Option(
        [],
        "--partner-center",
        help="Partner Center billing file the Microsoft emulator serves (repeatable).",
        metavar="FILE",
    ),
    microsoft_faults: str | None = typer.Option(
        None,
        "--microsoft-faults",
        metavar="SPEC",
        help="Faults of the Microsoft emulator, comma-separated, e.g. throttle=3,"
        " retry_after=1, slow=5, no_data, sas_ttl=60, inline, schema=1,"
        " format=compressedJSON, deny, page=2, completed, notes (written without"
        " spaces; docs/sandbox.md lists them all).",
    ),
    blob_rows: int = typer.Option(
        250_000,
        "--blob-rows",
        min=1,
        metavar="N",
        help="Rows per blob of the Microsoft emulator's exports.",
    ),
    unbilled_invoice: str | None = typer.Option(
        None,
        "--unbilled-invoice",
        metavar="ID",
        help="Serve this invoice's usage as the current period's unbilled usage (for"
        " --unbilled current); without it, that export has no data.",
    ),
    # --- end microsoft emulator ---
) -> None:
    """Serve the sandbox in the foreground until Ctrl-C or SIGTERM."""
    if ctx.invoked_subcommand is not None:
        return
    if date_reading not in ("convert", "keep"):
        raise typer.BadParameter("use convert or keep", param_hint="'--date-reading'")
    try:
        options = SandboxOptions(
            host=host,
            port=port,
            data=data,
            latency_ms=latency_ms,
            faults=_faults(faults),
            timezone=timezone,
            date_reading="keep" if date_reading == "keep" else "convert",
            required_fields=tuple(require),
            keep_empty_udfs=keep_empty_udfs,
            procurement=procurement,
            cost_permission=not no_cost_permission,
            precision=precision,
            partner_center=tuple(partner_center),  # --- microsoft emulator (P) ---
            microsoft_faults=_microsoft_faults(microsoft_faults),
            blob_rows=blob_rows,
            unbilled_invoice=unbilled_invoice,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    try:
        config = uvicorn_config(options)
    except (StoreError, BillingFileError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        sock = _bind(host, port)
    except OSError as exc:
        typer.echo(f"error: cannot listen on {host}:{port}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    actual = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{actual}/atservicesrest"
    typer.echo(f"Autotask sandbox at {base}/v1.0/")
    typer.echo(f"  zone_lookup_url  = {base}")
    typer.echo(f"  username         = {USERNAME}")
    typer.echo(f"  secret           = {SECRET}")
    typer.echo(f"  integration_code = {INTEGRATION_CODE}")
    typer.echo(f"  data             = {data if data else 'memory (lost on exit)'}")
    typer.echo(f"  tenant           = {_describe(options)}")
    if latency_ms or options.faults:
        typer.echo(f"  latency {latency_ms} ms, faults {options.faults or 'none'}")
    _echo_microsoft(config.app.state.runtime.microsoft, f"http://{shown}:{actual}")  # type: ignore[union-attr]
    typer.echo("Stop with Ctrl-C.")
    _ForegroundServer(config).run(sockets=[sock])
    config.app.state.runtime.close()  # type: ignore[union-attr]
    typer.echo("Sandbox stopped.")


def _describe(options: SandboxOptions) -> str:
    parts = [options.timezone, f"dates {options.date_reading}", f"precision {options.precision}"]
    if options.procurement:
        parts.append("procurement")
    if not options.cost_permission:
        parts.append("no cost permission")
    if options.keep_empty_udfs:
        parts.append("empty UDFs kept")
    parts += [f"requires {spec}" for spec in options.required_fields]
    return ", ".join(parts)


@app.command("approve-and-post", epilog=APPROVE_AND_POST_EXAMPLES)
def approve_and_post_command(
    data: Path = typer.Option(
        ..., "--data", help="The sandbox's SQLite data file.", metavar="FILE"
    ),
    through: str | None = typer.Option(
        None,
        "--through",
        help="Only charges purchased on or before this date.",
        metavar="YYYY-MM-DD",
    ),
    edit_description: str | None = typer.Option(
        None,
        "--edit-description",
        metavar="DESCRIPTION",
        help="Change each posted charge's description to DESCRIPTION, as a person may while"
        " posting.",
    ),
) -> None:
    """Mark the sandbox's unbilled charges billed (isBilled), as Autotask's Approve & Post."""
    cutoff = _date(through)
    try:
        count = approve_and_post(data, cutoff, edit_description=edit_description)
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    scope = f" purchased on or before {cutoff.isoformat()}" if cutoff else ""
    typer.echo(f"{count} charge(s){scope} marked billed.")

"""`billbridge serve`: the web admin and the daily check in one process.

uvicorn serves the admin in the main thread and stops gracefully on SIGINT or SIGTERM; the
daily check runs in a daemon thread beside it. An export the check is writing when the process
is told to stop gets a little time to finish; one that does not is cut short, which the export
journal is made for: the next export resolves its unfinished writes by key.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import uvicorn
from rich.console import Console

from billbridge.config import Settings, mask_database_url
from billbridge.export.connection import client_from_settings
from billbridge.export.daily import DailyCheck
from billbridge.export.engine import ExportEngine, Selection
from billbridge.export.errors import EXPECTED_ERRORS, explain
from billbridge.export.results import RunResult
from billbridge.pulling import daily_pull
from billbridge.store import Store
from billbridge.store.database import StoreBusyError
from billbridge.web.app import create_web_app
from billbridge.web.jobs import ClientFactory

logger = logging.getLogger(__name__)

RETRY_AFTER_FAILURE_S = 300.0
STOP_GRACE_S = 30.0


def daily_check(
    settings: Settings,
    store: Store,
    *,
    client_factory: ClientFactory = client_from_settings,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    retry_after_failure_s: float = RETRY_AFTER_FAILURE_S,
) -> DailyCheck:
    """The daily check of `serve`: every report due on the day, exported with trigger `daily`."""

    def has_run(day: date) -> bool:
        with store.transaction() as uow:
            return uow.runs.has_run("daily", day)

    def export(day: date) -> RunResult:
        with client_factory(settings) as client:
            engine = ExportEngine(store, settings, client)
            result = engine.export(Selection(due=True, today=day), trigger="daily")
        s = result.summary
        logger.info(
            "daily check of %s: run %s, %d reports; created %d, updated %d, unchanged %d,"
            " conflicts %d, failed reports %d",
            day,
            result.run_id,
            len(result.reports),
            s.created,
            s.updated,
            s.unchanged,
            s.conflicts,
            s.failed_reports,
        )
        return result

    return DailyCheck(
        settings.export.check_time,
        export=export,
        has_run=has_run,
        clock=clock,
        retry_after_failure_s=retry_after_failure_s,
        pull=daily_pull(settings, store),  # P: pull before export
    )


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for forwarded headers: believed only from `web.trusted_proxies`.

    uvicorn believes X-Forwarded-For from 127.0.0.1 by default, which lets anyone who can
    reach a local port pick the address the login throttle counts."""
    trusted = list(settings.web.trusted_proxies)
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


class OneLineErrors(logging.Filter):
    """A check stopped for a reason a person can act on (a setting, Autotask, another export
    holding the lock) is logged as one line saying so, not as a traceback; bugs keep theirs."""

    def __init__(self, database_url: str, retry_after_s: float) -> None:
        super().__init__()
        self._url = database_url
        self._retry_after_s = retry_after_s

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, EXPECTED_ERRORS):
            message, _ = explain(error)
            if isinstance(error, StoreBusyError):
                message = f"another export is running ({error})"
            retry = f"; it tries again in {self._retry_after_s / 60:.0f} min"
            record.msg = mask_database_url(f"{record.getMessage()}: {message}{retry}", self._url)
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def serve(settings: Settings, store: Store, *, host: str, port: int, console: Console) -> None:
    """Serve until SIGINT or SIGTERM; the caller has checked that `web.admin_password` is set."""
    _log_to_stderr()
    one_line = OneLineErrors(settings.database.url, RETRY_AFTER_FAILURE_S)
    for name in ("billbridge.export.daily", __name__):
        logging.getLogger(name).addFilter(one_line)
    stop = threading.Event()
    daily = daily_check(settings, store)
    app = create_web_app(settings, store, daily=daily)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        server_header=False,
        timeout_graceful_shutdown=5,
        **proxy_options(settings),
    )
    try:
        sock = _bind(host, port)
    except OSError as exc:
        console.print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", markup=False)
        raise SystemExit(2) from None
    server = _ForegroundServer(config)
    checker = threading.Thread(target=daily.run_forever, args=(stop,), name="daily-check")
    checker.daemon = True
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"billbridge web admin at http://{shown}:{sock.getsockname()[1]}/ (Ctrl-C stops it)",
        markup=False,
    )
    console.print(check_message(daily, settings), markup=False)
    checker.start()
    try:
        server.run(sockets=[sock])
    finally:
        stop.set()
        checker.join(timeout=STOP_GRACE_S)
        if checker.is_alive():
            console.print("the daily check's export was cut short; the next export resolves it")
        console.print("billbridge serve stopped")


def check_message(daily: DailyCheck, settings: Settings) -> str:
    """When the daily check runs next; says so first when a missed one is caught up now."""
    at = f"{settings.export.check_time:%H:%M} UTC"
    if daily.overdue_now():
        return (
            f"daily check at {at}; today's ({daily.next_at():%Y-%m-%d}) was missed while"
            " serve was not running, so it runs now"
        )
    return f"daily check at {at}; next {daily.next_at():%Y-%m-%d %H:%M} UTC"


class _ForegroundServer(uvicorn.Server):
    """uvicorn, except that SIGINT and SIGTERM end `serve` cleanly (exit status 0) instead of
    being raised again after the graceful shutdown."""

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
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _log_to_stderr() -> None:
    """billbridge's own messages (the daily check's outcome) on stderr, when nobody else set
    up logging."""
    package = logging.getLogger("billbridge")
    if package.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package.addHandler(handler)
    package.setLevel(logging.INFO)

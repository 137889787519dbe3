"""`create_web_app`: the web admin as an ASGI application (served by `billbridge serve`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billbridge.config import Settings
from billbridge.domain.matching import CompanyCandidate
from billbridge.export.companies import list_companies
from billbridge.export.connection import client_from_settings
from billbridge.export.daily import DailyCheck
from billbridge.store import Store
from billbridge.web.directory import CompanyDirectory
from billbridge.web.handlers import Admin, admin_of, current_session
from billbridge.web.jobs import ClientFactory, WebExports
from billbridge.web.rendering import environment
from billbridge.web.security import LoginThrottle, SessionStore
from billbridge.web.views import auth, dashboard, organizations, pulls, reports, runs, system
from billbridge.web.views import money as money_views

STATIC = Path(__file__).with_name("static")
MAX_BODY_BYTES = 256 * 1024

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def create_web_app(
    settings: Settings,
    store: Store,
    *,
    client_factory: ClientFactory = client_from_settings,
    daily: DailyCheck | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    throttle: LoginThrottle | None = None,
    company_ttl_s: float = 120.0,
    export_wait_s: float = 10.0,
) -> Starlette:
    """The web admin of one installation.

    `daily` is the daily check running beside it (the dashboard shows when it runs next);
    `clock` decides what "today" is for due reports; `export_wait_s` is how long an "export
    now" waits for the export before showing its run as it goes on.
    """
    secret = settings.web.session_secret
    key = secret.get_secret_value().encode() if secret else secrets.token_bytes(32)

    def fetch_companies() -> list[CompanyCandidate]:
        with client_factory(settings) as client:
            return list_companies(client)

    admin = Admin(
        settings=settings,
        store=store,
        client_factory=client_factory,
        daily=daily,
        clock=clock,
        sessions=SessionStore(key),
        throttle=throttle or LoginThrottle(),
        directory=CompanyDirectory(fetch_companies, ttl_s=company_ttl_s),
        exports=WebExports(store, settings, client_factory),
        templates=environment(),
        export_wait_s=export_wait_s,
    )
    app = Starlette(
        routes=routes(),
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.admin = admin
    return app


def routes() -> list[BaseRoute]:
    return [
        *auth.routes,
        *dashboard.routes,
        *organizations.routes,
        *reports.routes,
        *runs.routes,
        *pulls.routes,  # P: what was pulled from Microsoft
        *system.routes,
        *money_views.routes,
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every answer that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code not in (404, 405):
        return PlainTextResponse(exc.detail, status_code=exc.status_code)
    admin = admin_of(request)
    logged_in = current_session(request) is not None
    title = "Not found" if exc.status_code == 404 else "Not allowed"
    message = (
        "There is no such page." if exc.status_code == 404 else "That cannot be done this way."
    )
    return admin.render(
        "error.html",
        {"title": title, "message": message, "logged_in": False, "login_link": not logged_in},
        status=exc.status_code,
    )


async def _server_error(request: Request, exc: Exception) -> Response:
    # The server logs the exception with its traceback; the page only says that it happened.
    return admin_of(request).render(
        "error.html",
        {
            "title": "Something went wrong",
            "message": f"billbridge could not show this page ({type(exc).__name__});"
            " the server log has the details.",
            "logged_in": False,
        },
        status=500,
    )

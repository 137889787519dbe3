"""The plumbing every page shares: the admin's state, sessions on requests, CSRF, rendering.

Views are plain (synchronous) functions of a `Ctx`; `page` and `action` turn them into
endpoints that check the session (and for POSTs the CSRF token) first, and run the view in a
worker thread, because the store and the Autotask client block.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from billbridge.config import Settings
from billbridge.export.daily import DailyCheck
from billbridge.store import Store
from billbridge.web.directory import CompanyDirectory
from billbridge.web.jobs import ClientFactory, WebExports
from billbridge.web.security import (
    CSRF_FIELD,
    SESSION_COOKIE,
    LoginThrottle,
    Session,
    SessionStore,
    tokens_match,
)

MAX_FORM_FIELDS = 2000
MAX_ID = 2**63 - 1
"""The largest id a database column holds; a bigger number names nothing."""
MAX_ID_LENGTH = 500
_NUMBER = re.compile(r"[0-9]{1,19}")
"""Enough for "export selected" over a long page of reports; more is refused."""


@dataclass
class Admin:
    """Everything the pages work with, created once by `create_web_app`."""

    settings: Settings
    store: Store
    client_factory: ClientFactory
    daily: DailyCheck | None
    clock: Callable[[], datetime]
    sessions: SessionStore
    throttle: LoginThrottle
    directory: CompanyDirectory
    exports: WebExports
    templates: Environment
    export_wait_s: float

    def today(self) -> date:
        return self.clock().date()

    def render(
        self,
        name: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        html = self.templates.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status, headers=dict(headers or {}))


def admin_of(request: Request) -> Admin:
    admin = request.app.state.admin
    assert isinstance(admin, Admin)
    return admin


@dataclass
class Ctx:
    """One request as a view sees it."""

    request: Request
    admin: Admin
    session: Session
    form: FormData | None = None

    @property
    def settings(self) -> Settings:
        return self.admin.settings

    @property
    def store(self) -> Store:
        return self.admin.store

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default).strip()

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else default

    def fields(self, name: str) -> list[str]:
        if self.form is None:
            return []
        return [v.strip() for v in self.form.getlist(name) if isinstance(v, str) and v.strip()]

    def path_param(self, name: str) -> str:
        """A path segment (an id the store looks up); one no record could have is a 404."""
        value = str(self.request.path_params[name])
        if not plausible_id(value):
            raise HTTPException(404)
        return value

    def number_param(self, name: str) -> int:
        """A path segment that must be a record number (a run id): anything else is a 404."""
        value = str(self.request.path_params[name])
        if not _NUMBER.fullmatch(value) or not 0 < int(value) <= MAX_ID:
            raise HTTPException(404)
        return int(value)

    def flash(self, kind: str, text: str) -> None:
        self.session.flash(kind, text)

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return self.admin.render(name, self.base_context() | context, status=status)

    def base_context(self) -> dict[str, Any]:
        return {
            "csrf_token": self.session.csrf_token,
            "csrf_field": CSRF_FIELD,
            "flashes": self.session.take_flashes(),
            "path": self.request.url.path,
            "full_path": local_path(self.request),
            "now": self.admin.clock(),
            "logged_in": True,
        }

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(path, status_code=303)

    def back(self, default: str) -> RedirectResponse:
        """Back to the page named by the form's `return_to` (a local path), else `default`."""
        return self.redirect(safe_local_path(self.field("return_to"), default))

    def not_found(self, what: str) -> HTMLResponse:
        return self.render("error.html", status=404, title="Not found", message=what)


View = Callable[[Ctx], Response]


def plausible_id(value: str) -> bool:
    """Text that could be an id: not empty, not too long, no control characters (a NUL byte
    is refused by PostgreSQL with an error, not a miss)."""
    return 0 < len(value) <= MAX_ID_LENGTH and value.isprintable()


def local_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_local_path(candidate: str | None, default: str = "/") -> str:
    """`candidate` if it is a path on this site (never another host), else `default`."""
    if not candidate or not candidate.startswith("/") or candidate.startswith("//"):
        return default
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or "\\" in candidate:
        return default
    return candidate


def current_session(request: Request) -> Session | None:
    return admin_of(request).sessions.get(request.cookies.get(SESSION_COOKIE))


def page(view: View) -> Callable[[Request], Any]:
    """A GET page: without a session, a redirect to the login form (coming back afterwards)."""

    async def endpoint(request: Request) -> Response:
        session = current_session(request)
        if session is None:
            return RedirectResponse(f"/login?next={quote(local_path(request))}", status_code=303)
        return await run_in_threadpool(view, Ctx(request, admin_of(request), session))

    endpoint.__name__ = view.__name__
    return endpoint


def action(view: View) -> Callable[[Request], Any]:
    """A POST: 401 without a session, 403 without the session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        admin = admin_of(request)
        session = current_session(request)
        if session is None:
            return admin.render(
                "error.html",
                {
                    "title": "Not logged in",
                    "message": "Your session has ended. Log in again, then repeat what you did.",
                    "login_link": True,
                    "logged_in": False,
                },
                status=401,
            )
        async with request.form(max_files=0, max_fields=MAX_FORM_FIELDS) as form:
            if not tokens_match(form.get(CSRF_FIELD), session.csrf_token):
                return forbidden(admin)
            return await run_in_threadpool(view, Ctx(request, admin, session, form))

    endpoint.__name__ = view.__name__
    return endpoint


def forbidden(admin: Admin) -> HTMLResponse:
    return admin.render(
        "error.html",
        {
            "title": "Refused",
            "message": "This form is out of date or did not come from billbridge (its CSRF token"
            " is missing or wrong). Go back, reload the page and try again.",
            "logged_in": False,
        },
        status=403,
    )

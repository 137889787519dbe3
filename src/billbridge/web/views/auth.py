"""Logging in and out."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from billbridge.web.handlers import (
    Admin,
    Ctx,
    action,
    admin_of,
    current_session,
    forbidden,
    safe_local_path,
)
from billbridge.web.security import (
    CSRF_FIELD,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    password_matches,
)

LOGIN_FORM_MAX_AGE_S = 3600


async def login_form(request: Request) -> Response:
    admin = admin_of(request)
    next_path = safe_local_path(request.query_params.get("next"))
    if current_session(request) is not None:
        return RedirectResponse(next_path, status_code=303)
    notice = "You are logged out." if request.query_params.get("out") else None
    return _form(admin, request, next_path, notice=notice)


async def login(request: Request) -> Response:
    admin = admin_of(request)
    async with request.form(max_files=0, max_fields=10) as form:
        given = form.get("password")
        token = form.get(CSRF_FIELD)
        next_path = safe_local_path(str(form.get("next") or "/"))
    if not admin.sessions.login_token_valid(
        request.cookies.get(LOGIN_COOKIE), token, max_age_s=LOGIN_FORM_MAX_AGE_S
    ):
        return forbidden(admin)
    client = request.client.host if request.client else "unknown"
    wait_s = admin.throttle.retry_after(client)
    if wait_s:
        minutes = (wait_s + 59) // 60
        return _form(
            admin,
            request,
            next_path,
            error=f"Too many wrong passwords. Try again in {minutes} min.",
            status=429,
            headers={"Retry-After": str(wait_s)},
        )
    expected = admin.settings.web.admin_password
    if (
        expected is None
        or not expected.get_secret_value().strip()  # `serve` refuses it; so does the form
        or not isinstance(given, str)
        or not password_matches(given, expected.get_secret_value())
    ):
        await asyncio.sleep(admin.throttle.failed(client))
        return _form(admin, request, next_path, error="Wrong password.", status=401)
    admin.throttle.succeeded(client)
    _, cookie = admin.sessions.create()
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


def logout(ctx: Ctx) -> Response:
    ctx.admin.sessions.end(ctx.session)
    response = ctx.redirect("/login?out=1")
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, secure=ctx.request.url.scheme == "https"
    )
    return response


def _form(
    admin: Admin,
    request: Request,
    next_path: str,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    token, cookie = admin.sessions.login_token()
    response = admin.render(
        "login.html",
        {
            "title": "Log in",
            "csrf_field": CSRF_FIELD,
            "csrf_token": token,
            "next": next_path,
            "error": error,
            "notice": notice,
            "logged_in": False,
            "flashes": [],
            "path": "/login",
        },
        status=status,
        headers=headers,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        max_age=LOGIN_FORM_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/login",
    )
    return response


routes = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", action(logout), methods=["POST"]),
]

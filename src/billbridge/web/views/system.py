"""Settings (read-only, secrets masked) and the doctor's checks."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from billbridge.export.doctor import Check, run_doctor
from billbridge.web.handlers import Ctx, page
from billbridge.web.jobs import EXPECTED_ERRORS, explain_error

SECTION_HELP = {
    "database": "The state store.",
    "autotask": "The Autotask tenant and API user.",
    "export": "What is exported, and when.",
    "web": "This web admin.",
}

# Where in the web admin each doctor check can be acted on.
CHECK_LINKS = {
    "organizations without a company": ("/organizations?show=unlinked", "Link organizations"),
    "company link": ("/organizations?show=linked", "Organizations"),
    "last export": ("/runs", "Runs"),
}


def settings_page(ctx: Ctx) -> Response:
    source = ctx.settings.source
    return ctx.render(
        "settings.html",
        title="Settings",
        sections=ctx.settings.masked(),
        section_help=SECTION_HELP,
        source=str(source) if source else None,
    )


def doctor(ctx: Ctx) -> Response:
    try:
        checks = run_doctor(
            ctx.settings,
            ctx.store,
            today=ctx.admin.today(),
            client_factory=ctx.admin.client_factory,
        )
    except EXPECTED_ERRORS as exc:
        checks = [Check("doctor", "fail", explain_error(exc), "fix what is named, then run again")]
    failing = sum(1 for c in checks if c.status == "fail")
    warnings = sum(1 for c in checks if c.status == "warn")
    return ctx.render(
        "doctor.html",
        title="Doctor",
        checks=checks,
        failing=failing,
        warnings=warnings,
        links=CHECK_LINKS,
    )


routes = [
    Route("/settings", page(settings_page), methods=["GET"]),
    Route("/doctor", page(doctor), methods=["GET"]),
]

"""What was pulled from Microsoft: each invoice, when, with what outcome, and its reports."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from billbridge.web.handlers import Ctx, page


def pulls(ctx: Ctx) -> Response:
    with ctx.store.transaction() as uow:
        invoices = uow.pulls.invoices()
    section = ctx.settings.partner_center
    daily = ctx.admin.daily
    return ctx.render(
        "pulls.html",
        title="Pulled from Microsoft",
        invoices=invoices,
        configured=section.configured,
        pull_day=section.pull_day,
        last_error=daily.last_pull_error if daily is not None else None,
    )


routes = [Route("/pulls", page(pulls), methods=["GET"])]

"""Organizations and their Autotask companies: search, link (from ranked suggestions), unlink."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from starlette.responses import Response
from starlette.routing import Route

from billbridge.domain.matching import CompanyCandidate, Suggestion, suggest
from billbridge.domain.organization import Organization
from billbridge.export.errors import LinkError
from billbridge.export.linking import apply_exact_links, link_one
from billbridge.web.directory import CompanyList
from billbridge.web.handlers import Ctx, action, page
from billbridge.web.jobs import EXPECTED_ERRORS, explain_error
from billbridge.web.paging import Pager
from billbridge.web.views import money as money_views

PAGE_SIZE = 50
SHOWS = ("all", "unlinked", "linked", "inactive")


@dataclass(frozen=True, slots=True)
class Row:
    organization: Organization
    report_count: int
    company: CompanyCandidate | None
    """The linked company as Autotask has it (None: not linked, or unknown to Autotask)."""
    suggestion: Suggestion | None


def organizations(ctx: Ctx) -> Response:
    search = ctx.query("q")
    show = ctx.query("show", "all")
    show = show if show in SHOWS else "all"
    with ctx.store.transaction() as uow:
        everyone = uow.organizations.all()
        counts = Counter(s.organization_id for s in uow.reports.summaries())
    matching = [o for o in everyone if _matches(o, search) and _shown(o, show)]
    # Unlinked organizations that have reports come first: they are what blocks an export.
    if show in ("all", "unlinked"):
        matching.sort(
            key=lambda o: (
                not (o.active and not o.is_linked and counts[o.organization_id] > 0),
                o.name.casefold(),
            )
        )
    pager = Pager.of(ctx, len(matching), PAGE_SIZE)
    shown = matching[pager.start : pager.stop]
    companies, company_error = _companies(ctx)
    by_id = companies.by_id() if companies else {}
    rows = []
    for organization in shown:
        suggestion = None
        if companies and organization.active and not organization.is_linked:
            best = suggest(organization, companies.companies, limit=1)
            suggestion = best[0] if best else None
        company = by_id.get(organization.autotask_company_id or 0)
        rows.append(Row(organization, counts[organization.organization_id], company, suggestion))
    return ctx.render(
        "organizations.html",
        title="Organizations",
        rows=rows,
        search=search,
        show=show,
        shows=SHOWS,
        pager=pager,
        total=len(everyone),
        unlinked_count=sum(1 for o in everyone if o.active and not o.is_linked),
        companies=companies,
        company_error=company_error,
    )


def organization(ctx: Ctx) -> Response:
    organization_id = ctx.path_param("organization_id")
    with ctx.store.transaction() as uow:
        found = uow.organizations.get(organization_id)
        reports = uow.reports.summaries(organization_id=organization_id)
    if found is None:
        return ctx.not_found(f"There is no organization {organization_id!r}.")
    companies, company_error = _companies(ctx)
    suggestions: list[Suggestion] = []
    company = None
    if companies:
        suggestions = suggest(found, companies.companies, limit=5)
        company = companies.by_id().get(found.autotask_company_id or 0)
    return ctx.render(
        "organization.html",
        title=found.name,
        organization=found,
        reports=reports,
        suggestions=suggestions,
        company=company,
        companies=companies,
        company_error=company_error,
        **money_views.organization_money(ctx, organization_id),
    )


def link(ctx: Ctx) -> Response:
    organization_id = ctx.path_param("organization_id")
    if (missing := _missing(ctx, organization_id)) is not None:
        return missing
    back = ctx.back(f"/organizations/{organization_id}")
    text = ctx.field("company_id")
    if not text.isdigit() or int(text) <= 0:
        ctx.flash("error", f"'{text}' is not an Autotask company id (a whole number).")
        return back
    try:
        message = link_one(
            ctx.store,
            ctx.settings,
            organization_id,
            int(text),
            client_factory=ctx.admin.client_factory,
        )
    except LinkError as exc:
        ctx.flash("error", f"Not linked: {exc}.")
    except EXPECTED_ERRORS as exc:  # Autotask or settings: say what stopped it
        ctx.flash("error", f"Not linked: {explain_error(exc)}")
    else:
        ctx.flash("ok", _sentence(message))
    return back


def unlink(ctx: Ctx) -> Response:
    organization_id = ctx.path_param("organization_id")
    if (missing := _missing(ctx, organization_id)) is not None:
        return missing
    try:
        message = link_one(ctx.store, ctx.settings, organization_id, None)
    except LinkError as exc:
        ctx.flash("error", f"Not unlinked: {exc}.")
    else:
        ctx.flash("ok", _sentence(message) + " Its reports are skipped until it is linked again.")
    return ctx.back(f"/organizations/{organization_id}")


def link_exact(ctx: Ctx) -> Response:
    try:
        linked = apply_exact_links(ctx.store, ctx.settings, client_factory=ctx.admin.client_factory)
    except EXPECTED_ERRORS as exc:  # Autotask or settings
        ctx.flash("error", f"Nothing was linked: {explain_error(exc)}")
        return ctx.back("/organizations")
    if not linked:
        ctx.flash("warn", "No unlinked organization has exactly one exact name or domain match.")
    else:
        names = ", ".join(f"{o.name} to {c.name} ({c.id})" for o, c in linked[:10])
        more = f" and {len(linked) - 10} more" if len(linked) > 10 else ""
        ctx.flash("ok", f"Linked {len(linked)} by exact name or domain: {names}{more}.")
    return ctx.back("/organizations")


def _missing(ctx: Ctx, organization_id: str) -> Response | None:
    with ctx.store.transaction() as uow:
        found = uow.organizations.get(organization_id)
    if found is not None:
        return None
    ctx.flash("error", f"There is no organization {organization_id!r}.")
    return ctx.redirect("/organizations")


def _companies(ctx: Ctx) -> tuple[CompanyList | None, str | None]:
    try:
        return ctx.admin.directory.get(refresh=ctx.query("refresh") == "1"), None
    except EXPECTED_ERRORS as exc:  # the page still works without suggestions
        return None, explain_error(exc)


def _matches(organization: Organization, search: str) -> bool:
    if not search:
        return True
    needle = search.casefold()
    return any(
        needle in (text or "").casefold()
        for text in (
            organization.name,
            organization.domain,
            organization.organization_id,
            str(organization.autotask_company_id or ""),
        )
    )


def _shown(organization: Organization, show: str) -> bool:
    if show == "unlinked":
        return organization.active and not organization.is_linked
    if show == "linked":
        return organization.is_linked
    if show == "inactive":
        return not organization.active
    return True


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + "."


routes = [
    Route("/organizations", page(organizations), methods=["GET"]),
    Route("/organizations/link-exact", action(link_exact), methods=["POST"]),
    Route("/organizations/{organization_id}", page(organization), methods=["GET"]),
    Route("/organizations/{organization_id}/link", action(link), methods=["POST"]),
    Route("/organizations/{organization_id}/unlink", action(unlink), methods=["POST"]),
]

"""Linking organizations to Autotask companies: by hand, by suggestion, by exact match.

billbridge never creates or edits companies; it only records which one an organization is
billed to. A link is checked against Autotask (the company exists and is active) before it is
stored.
"""

from __future__ import annotations

from billbridge.config import Settings
from billbridge.domain.matching import CompanyCandidate, Suggestion, exact_match, suggest
from billbridge.domain.organization import Organization
from billbridge.export.companies import companies_by_id, list_companies
from billbridge.export.connection import ClientFactory, client_from_settings
from billbridge.export.errors import LinkError
from billbridge.store import Store


def link_one(
    store: Store,
    settings: Settings,
    organization_id: str,
    company_id: int | None,
    *,
    client_factory: ClientFactory = client_from_settings,
) -> str:
    """Link (or with None, unlink) one organization; returns what was done, for people."""
    with store.transaction() as uow:
        organization = uow.organizations.get(organization_id)
    if organization is None:
        raise LinkError(f"there is no organization {organization_id!r}")
    if company_id is None:
        with store.transaction() as uow:
            uow.organizations.link(organization_id, None)
        return f"unlinked {organization.name} ({organization_id})"
    with client_factory(settings) as client:
        company = companies_by_id(client, [company_id]).get(company_id)
    if company is None:
        raise LinkError(f"Autotask has no company {company_id}")
    if not company.is_active:
        raise LinkError(f"company {company_id} ({company.name}) is inactive in Autotask")
    with store.transaction() as uow:
        uow.organizations.link(organization_id, company_id)
    return f"linked {organization.name} ({organization_id}) to {company.name} ({company_id})"


def suggestions_for_unlinked(
    store: Store,
    settings: Settings,
    *,
    limit: int = 3,
    client_factory: ClientFactory = client_from_settings,
) -> list[tuple[Organization, list[Suggestion]]]:
    """Ranked candidates for every active organization without a link."""
    unlinked = _unlinked(store)
    if not unlinked:
        return []
    with client_factory(settings) as client:
        companies = list_companies(client)
    return [(o, suggest(o, companies, limit=limit)) for o in unlinked]


def apply_exact_links(
    store: Store, settings: Settings, *, client_factory: ClientFactory = client_from_settings
) -> list[tuple[Organization, CompanyCandidate]]:
    """Link each unlinked organization that has exactly one exact name or domain match."""
    unlinked = _unlinked(store)
    if not unlinked:
        return []
    with client_factory(settings) as client:
        companies = list_companies(client)
    linked = []
    with store.transaction() as uow:
        for organization in unlinked:
            company = exact_match(organization, companies)
            if company is not None:
                uow.organizations.link(organization.organization_id, company.id)
                linked.append((organization, company))
    return linked


def _unlinked(store: Store) -> list[Organization]:
    with store.transaction() as uow:
        return [o for o in uow.organizations.all() if o.active and not o.is_linked]

"""A provider's customer organization and its link to an Autotask company."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Organization:
    organization_id: str
    name: str
    domain: str | None = None
    autotask_company_id: int | None = None
    """The Autotask company this organization is billed to; None while it is not linked."""
    active: bool = True

    @property
    def is_linked(self) -> bool:
        return self.autotask_company_id is not None

    def linked_to(self, company_id: int | None) -> Organization:
        return replace(self, autotask_company_id=company_id)

    @property
    def is_exportable(self) -> bool:
        """Whether its reports are exported (see `organization_exportable`)."""
        return organization_exportable(self) is None


def organization_exportable(organization: Organization) -> tuple[str, str] | None:
    """The one rule of whether an organization's reports are exported: None when they are,
    else why not, as (reason, detail): `inactive`, or `unmapped` (no Autotask company)."""
    if not organization.active:
        return "inactive", f"organization {organization.organization_id} is inactive"
    if organization.autotask_company_id is None:
        return (
            "unmapped",
            f"organization {organization.organization_id} ({organization.name}) is not linked"
            " to an Autotask company; link it with `billbridge map`",
        )
    return None

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

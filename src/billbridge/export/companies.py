"""The tenant's companies, for linking organizations and for `doctor`."""

from __future__ import annotations

from collections.abc import Iterable

from billbridge.autotask import AutotaskClient, F
from billbridge.domain.matching import CompanyCandidate
from billbridge.export.entities import COMPANIES

FIELDS = ("id", "companyName", "webAddress", "isActive")


def list_companies(client: AutotaskClient) -> list[CompanyCandidate]:
    """Every company of the tenant (paged; a few requests for thousands of companies)."""
    return [
        _candidate(r)
        for r in client.query(COMPANIES.route, [F.gte("id", 0)], include_fields=FIELDS)
    ]


def companies_by_id(client: AutotaskClient, ids: Iterable[int]) -> dict[int, CompanyCandidate]:
    found = client.query_in(COMPANIES.route, "id", sorted(set(ids)))
    return {c.id: c for c in (_candidate(r) for r in found)}


def _candidate(record: dict[str, object]) -> CompanyCandidate:
    web = record.get("webAddress")
    return CompanyCandidate(
        id=int(str(record["id"])),
        name=str(record.get("companyName") or ""),
        web_address=str(web) if web else None,
        is_active=bool(record.get("isActive")),
    )

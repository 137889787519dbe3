"""Suggesting the Autotask company of an organization, by name and domain similarity.

Names of the same customer differ in the ways people write them ("Fabrikam, Inc." and
"Fabrikam Inc"; "Contoso Ltd" and "Contoso Limited"), so names are compared by their
distinctive words, with legal suffixes and punctuation removed; a matching web domain is the
strongest sign of all.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from billbridge.domain.organization import Organization

_LEGAL = {
    "inc", "incorporated", "ltd", "limited", "llc", "llp", "lp", "plc", "corp", "corporation",
    "co", "company", "gmbh", "ag", "sa", "sas", "srl", "bv", "nv", "ab", "as", "oy", "pty",
    "pte", "kg", "the", "and", "group", "holdings",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class CompanyCandidate:
    """An Autotask company as far as matching cares."""

    id: int
    name: str
    web_address: str | None = None
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class Suggestion:
    organization_id: str
    company_id: int
    company_name: str
    score: float
    """0..1; 1 is certain."""
    exact: bool
    """Same normalized name or same domain: safe to link without a person looking."""
    reason: str


def suggest(
    organization: Organization, companies: Sequence[CompanyCandidate], *, limit: int = 5
) -> list[Suggestion]:
    """The best company matches of `organization`, best first; inactive companies never."""
    scored = []
    for company in companies:
        if not company.is_active:
            continue
        suggestion = _score(organization, company)
        if suggestion.score >= 0.5:
            scored.append(suggestion)
    scored.sort(key=lambda s: (-s.score, s.company_name.casefold(), s.company_id))
    return scored[:limit]


def exact_match(
    organization: Organization, companies: Sequence[CompanyCandidate]
) -> CompanyCandidate | None:
    """The one active company that exactly matches, or None (also when several do)."""
    exact = [s for s in suggest(organization, companies, limit=50) if s.exact]
    if len({s.company_id for s in exact}) != 1:
        return None
    return next(c for c in companies if c.id == exact[0].company_id)


def normalize_name(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    text = text.replace("&", " and ")
    words = [w for w in re.split(r"[^a-z0-9]+", text) if w and w not in _LEGAL]
    return " ".join(words)


def domain_of(value: str | None) -> str | None:
    """`https://www.Contoso.com/about` -> `contoso.com`."""
    if not value:
        return None
    text = value.strip().casefold()
    text = re.sub(r"^[a-z]+://", "", text).split("/")[0].split(":")[0]
    text = text.removeprefix("www.")
    return text or None


def _score(organization: Organization, company: CompanyCandidate) -> Suggestion:
    org_domain = domain_of(organization.domain)
    company_domain = domain_of(company.web_address)
    if org_domain and company_domain and org_domain == company_domain:
        return _suggestion(organization, company, 1.0, True, f"same domain {org_domain}")
    mine, theirs = normalize_name(organization.name), normalize_name(company.name)
    if mine and mine == theirs:
        return _suggestion(organization, company, 0.97, True, "same name")
    ratio = SequenceMatcher(None, mine, theirs).ratio() if mine and theirs else 0.0
    my_words, their_words = set(mine.split()), set(theirs.split())
    overlap = len(my_words & their_words) / max(len(my_words | their_words), 1)
    score = max(ratio, overlap) * 0.9
    if org_domain and company_domain and org_domain.split(".")[0] == company_domain.split(".")[0]:
        score = max(score, 0.85)
    return _suggestion(organization, company, round(score, 3), False, "similar name")


def _suggestion(
    organization: Organization, company: CompanyCandidate, score: float, exact: bool, reason: str
) -> Suggestion:
    return Suggestion(organization.organization_id, company.id, company.name, score, exact, reason)

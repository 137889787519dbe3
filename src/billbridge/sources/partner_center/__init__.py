"""Microsoft Partner Center billing files as a source of organizations and reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from billbridge.domain.organization import Organization
from billbridge.domain.price_list import PriceListItem
from billbridge.sources.problems import InputError, Problem
from billbridge.sources.reports import LocatedReport


@dataclass(frozen=True)
class PartnerCenterImport:
    organizations: list[Organization]
    reports: list[LocatedReport]
    warnings: list[str] = field(default_factory=list)


def read_partner_center(
    paths: Sequence[Path],
    *,
    generated_on: date,
    azure_markup: Decimal | None,
    license_markup: Decimal | None,
    price_list: Mapping[str, PriceListItem],
) -> PartnerCenterImport:
    """Placeholder until the Partner Center reader lands (issue 6)."""
    raise InputError(
        [Problem(str(p), None, None, "Partner Center files are not supported yet") for p in paths]
    )

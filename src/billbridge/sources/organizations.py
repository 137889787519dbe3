"""The organizations file: customer organizations and their Autotask company ids."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from billbridge.domain.organization import Organization
from billbridge.sources.fields import RowReader
from billbridge.sources.files import read_flat_records
from billbridge.sources.problems import ProblemLog
from billbridge.sources.tabular import Columns

COLUMNS = Columns(
    required=("organization_id", "name"),
    optional=("domain", "autotask_company_id", "active"),
)


def read_organizations(paths: Sequence[Path]) -> list[Organization]:
    """All organizations of the files, or `InputError` listing every problem."""
    log = ProblemLog()
    organizations: list[Organization] = []
    first_seen: dict[str, str] = {}
    for record in read_flat_records(paths, COLUMNS, log):
        row = RowReader(record, log)
        organization_id = row.text("organization_id")
        name = row.text("name")
        domain = row.text("domain", required=False)
        company_id = row.integer("autotask_company_id", required=False)
        active = row.boolean("active", default=True)
        if organization_id is not None:
            where = f"{record.file}:{record.line}"
            if organization_id in first_seen:
                row.problem(
                    "organization_id",
                    f"'{organization_id}' already appears at {first_seen[organization_id]}",
                )
            else:
                first_seen[organization_id] = where
        if row.ok and organization_id is not None and name is not None:
            organizations.append(
                Organization(
                    organization_id=organization_id,
                    name=name,
                    domain=domain.lower() if domain else None,
                    autotask_company_id=company_id,
                    active=active,
                )
            )
    log.raise_if_any()
    return organizations

"""`billbridge doctor`: is everything in place for an export, and what to do where it is not.

Each check says what it found and, when something is wrong, what to do about it. The same
checks feed the web admin's doctor page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Literal

from billbridge.autotask import AutotaskClient, AutotaskError, F
from billbridge.config import Settings
from billbridge.export.companies import companies_by_id
from billbridge.export.connection import AUTOTASK_KEYS, ClientFactory, client_from_settings
from billbridge.export.errors import ExportSetupError
from billbridge.export.tenant import TenantMisfitError, resolve_tenant
from billbridge.store import Store

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None


def run_doctor(
    settings: Settings,
    store: Store,
    *,
    today: date,
    client_factory: ClientFactory = client_from_settings,
) -> list[Check]:
    checks = list(_settings_checks(settings))
    checks.extend(_store_checks(store, settings, today))
    if any(c.status == "fail" and c.name == "credentials settings" for c in checks):
        return checks
    with client_factory(settings) as client:
        reachable = list(_connection_checks(client))
        checks.extend(reachable)
        if any(c.status == "fail" for c in reachable):
            return checks
        checks.extend(_tenant_checks(client, settings))
        checks.extend(_link_checks(client, store, settings))
    return checks


def exit_status(checks: list[Check]) -> int:
    return 1 if any(c.status != "ok" for c in checks) else 0


def _settings_checks(settings: Settings) -> Iterator[Check]:
    source = (
        f"from {settings.source}"
        if settings.source
        else "no settings file; defaults and environment"
    )
    yield Check("settings file", "ok", source)
    missing = settings.missing(*AUTOTASK_KEYS)
    if missing:
        yield Check(
            "credentials settings",
            "fail",
            "; ".join(missing),
            "set the API user's username, secret and integration code (API tracking identifier)",
        )
    else:
        yield Check("credentials settings", "ok", f"API user {settings.autotask.username}")
    if settings.missing("export.product_billing_code"):
        yield Check(
            "billing code setting",
            "fail",
            "export.product_billing_code is not set",
            'name the material billing code that new products get, e.g. "Microsoft Licensing"',
        )
    password = settings.web.admin_password
    if password is None or not password.get_secret_value().strip():
        yield Check(
            "web admin password",
            "fail",
            "web.admin_password is empty; `billbridge serve` refuses to start without one",
            "set web.admin_password (or BILLBRIDGE_WEB_ADMIN_PASSWORD)",
        )


def _store_checks(store: Store, settings: Settings, today: date) -> Iterator[Check]:
    with store.transaction() as uow:
        organizations = uow.organizations.all()
        reports = uow.reports.summaries()
        runs = uow.runs.recent(1)
    yield Check(
        "state store",
        "ok",
        f"{settings.database.safe_url}: {len(organizations)} organizations, {len(reports)} reports",
    )
    # A run with nothing due is a healthy daily check, not a problem to look at.
    if runs and runs[0].status not in ("succeeded", "running", "nothing_due"):
        run = runs[0]
        yield Check(
            "last export",
            "warn",
            f"run {run.id} of {run.started_at:%Y-%m-%d %H:%M} UTC {run.status}:"
            f" {run.failed_reports} failed reports, {run.conflicts} conflicts",
            f"see `billbridge runs {run.id}`",
        )
    active = {o.organization_id for o in organizations if o.active}
    with_reports = {r.organization_id for r in reports}
    unlinked = [
        o
        for o in organizations
        if o.active and not o.is_linked and o.organization_id in with_reports
    ]
    if unlinked:
        names = ", ".join(o.name for o in unlinked[:5]) + (" ..." if len(unlinked) > 5 else "")
        yield Check(
            "organizations without a company",
            "warn",
            f"{_count(len(unlinked), 'active organization')} with reports not linked: {names};"
            " their reports are skipped",
            "`billbridge map --suggest`, then `billbridge map ORG_ID COMPANY_ID`"
            " (or --apply-exact)",
        )
    elif active:
        yield Check(
            "organizations without a company",
            "ok",
            "every active organization with reports is linked",
        )


def _connection_checks(client: AutotaskClient) -> Iterator[Check]:
    try:
        zone = client.zone()
        yield Check("zone", "ok", f"{zone.zone_name or 'zone'} at {zone.api_base}")
    except AutotaskError as exc:
        yield Check(
            "zone", "fail", str(exc), "check autotask.zone_lookup_url and autotask.username"
        )
        return
    try:
        client.version()
        threshold = client.threshold()
    except AutotaskError as exc:
        yield Check(
            "credentials",
            "fail",
            str(exc),
            "check autotask.secret and autotask.integration_code; the user needs the"
            " API User (API-only) security level",
        )
        return
    yield Check("credentials", "ok", "Autotask accepted the API user")
    status: Status = "ok" if threshold.usage < 0.5 else "warn"
    count, limit = threshold.current_timeframe_request_count, threshold.external_request_threshold
    yield Check(
        "request threshold",
        status,
        f"{count} of {limit} requests used this hour",
        None
        if status == "ok"
        else "other integrations use much of the hourly budget; exports slow down",
    )


def _tenant_checks(client: AutotaskClient, settings: Settings) -> Iterator[Check]:
    try:
        tenant = resolve_tenant(client, settings)
    except TenantMisfitError as exc:
        for problem in exc.problems:
            yield Check("tenant settings", "fail", problem, "fix the setting named, or the tenant")
        return
    except ExportSetupError as exc:
        yield Check("tenant settings", "fail", str(exc), "fix the setting named, or the tenant")
        return
    except AutotaskError as exc:
        yield Check(
            "tenant settings",
            "fail",
            f"cannot read the tenant's settings: {exc.reason}",
            "run `billbridge doctor` again; if it persists, check the API user's permissions",
        )
        return
    yield Check(
        "billing code",
        "ok",
        f"products get the active material code {tenant.billing_code_name!r}"
        f" ({tenant.billing_code_id})",
    )
    yield Check("contract UDF", "ok", f"contracts carry the subscription id in {tenant.udf_name!r}")
    yield Check(
        "contract type",
        "ok",
        f"new contracts are {settings.export.contract_type!r} ({tenant.contract_type}),"
        f" period {settings.export.contract_period_type!r} ({tenant.contract_period_type})",
    )


def _link_checks(client: AutotaskClient, store: Store, settings: Settings) -> Iterator[Check]:
    with store.transaction() as uow:
        linked = [o for o in uow.organizations.all() if o.is_linked and o.active]
        recent = uow.reports.summaries()
    if not linked:
        return
    companies = companies_by_id(
        client, (o.autotask_company_id for o in linked if o.autotask_company_id)
    )
    missing = [o for o in linked if o.autotask_company_id not in companies]
    inactive = [
        o
        for o in linked
        if o.autotask_company_id in companies and not companies[o.autotask_company_id].is_active
    ]
    for organization in missing:
        yield Check(
            "company link",
            "fail",
            f"{organization.name} ({organization.organization_id}) is linked to company"
            f" {organization.autotask_company_id}, which Autotask does not have",
            f"`billbridge map {organization.organization_id} COMPANY_ID` with the right company",
        )
    for organization in inactive:
        yield Check(
            "company link",
            "fail",
            f"{organization.name} is linked to company {organization.autotask_company_id},"
            " which is inactive in Autotask",
            "reactivate the company in Autotask, or link the organization to another one",
        )
    if not missing and not inactive:
        yield Check(
            "company links", "ok", f"{len(linked)} linked organizations point at active companies"
        )
    yield from _look_alikes(
        client,
        settings,
        [o.autotask_company_id for o in linked if o.autotask_company_id],
        bool(recent),
    )


def _look_alikes(
    client: AutotaskClient, settings: Settings, company_ids: list[int], has_reports: bool
) -> Iterator[Check]:
    """Contracts of linked companies without the subscription UDF: possible duplicates."""
    if not has_reports or not company_ids:
        return
    udf = settings.autotask.subscription_udf
    found = list(
        client.query_in("Contracts", "companyID", company_ids, extra=[F.udf("notExist", udf)])
    )
    recurring = [c for c in found if c.get("status") == 1]
    if not recurring:
        yield Check(
            "look-alike contracts",
            "ok",
            f"every active contract of linked companies has {udf!r} or none exist",
        )
        return
    names = ", ".join(f"{c['id']} {c.get('contractName')!r}" for c in recurring[:5])
    yield Check(
        "look-alike contracts",
        "warn",
        f"{len(recurring)} active contracts of linked companies have no {udf!r}: {names}"
        + (" ..." if len(recurring) > 5 else ""),
        f"if one of them bills a Microsoft subscription, put the subscription id in its {udf!r}"
        " field so billbridge adopts it instead of creating a second contract",
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")

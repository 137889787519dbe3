"""`billbridge doctor` and `billbridge map` against the sandbox."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.domain.matching import CompanyCandidate, exact_match, normalize_name, suggest
from billbridge.domain.organization import Organization
from billbridge.export.doctor import run_doctor
from tests.export.conftest import Tenant
from tests.export.data import import_lines, line, seed_store


@pytest.fixture
def configured(cli_tenant: Tenant) -> Tenant:
    cli_tenant.write_config('[web]\nadmin_password = "correct horse"\n')
    return cli_tenant


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_doctor_all_good(configured: Tenant) -> None:
    company = configured.company("Contoso Ltd")
    seed_store(configured.store, configured.workdir, [("org", "Contoso Ltd", company, True)])
    import_lines(configured.store, configured.workdir, [line("r1", "org", "2026-10", "s1")])
    code, output = run("doctor")
    assert code == 0, output
    for expected in ("zone", "credentials", "billing code", "contract UDF", "company links"):
        assert f"ok   {expected}" in output


def test_doctor_lists_what_is_wrong_and_what_to_do(configured: Tenant) -> None:
    good = configured.company("Contoso Ltd")
    closed = configured.company("Closed Co", active=False)
    configured.client.create(
        "Contracts",
        {
            "companyID": good,
            "contractName": "Microsoft 365 (by hand)",
            "contractType": 7,
            "contractPeriodType": configured.client.picklist_value(
                "Contracts", "contractPeriodType", "Monthly"
            ),
            "status": 1,
            "startDate": date(2026, 1, 1),
            "endDate": date(2026, 12, 31),
            "timeReportingRequiresStartAndStopTimes": 1,
        },
    )
    seed_store(
        configured.store,
        configured.workdir,
        [
            ("a", "Contoso Ltd", good, True),
            ("b", "Closed Co", closed, True),
            ("c", "Gone Inc", 424242, True),
            ("d", "Unlinked LLC", None, True),
        ],
    )
    import_lines(
        configured.store,
        configured.workdir,
        [line(f"r{o}", o, "2026-10", f"s{o}") for o in "abcd"],
    )
    code, output = run("doctor", "--json")
    assert code == 1
    checks = json.loads(output)["checks"]
    by_name = {c["name"]: c for c in checks}
    assert by_name["organizations without a company"]["status"] == "warn"
    assert "Unlinked LLC" in by_name["organizations without a company"]["detail"]
    failures = [c["detail"] for c in checks if c["name"] == "company link"]
    assert any(
        "Gone Inc (c) is linked to company 424242, which Autotask does not have" in f
        for f in failures
    )
    assert any("Closed Co is linked to company" in f and "inactive" in f for f in failures)
    assert all(c["fix"] for c in checks if c["status"] != "ok")
    look_alikes = by_name["look-alike contracts"]
    assert look_alikes["status"] == "warn" and "Microsoft 365 (by hand)" in look_alikes["detail"]


def test_doctor_reports_bad_credentials_without_the_secret(configured: Tenant) -> None:
    toml = configured.workdir / "billbridge.toml"
    toml.write_text(toml.read_text().replace('secret = "sandbox"', 'secret = "wrong-s3cret"'))
    code, output = run("doctor")
    assert code == 1
    assert "fail credentials" in output and "wrong-s3cret" not in output


def test_map_suggest_apply_exact_and_by_hand(configured: Tenant) -> None:
    fabrikam = configured.company("Fabrikam, Inc.")
    configured.company("Contoso Limited")
    northwind = configured.company("Northwind Traders")
    seed_store(
        configured.store,
        configured.workdir,
        [
            ("fab", "Fabrikam Inc", None, True),
            ("con", "Contoso Ltd", None, True),
            ("nw", "Northwind", None, True),
        ],
    )
    code, output = run("map", "--suggest", "--json")
    assert code == 0
    suggestions = {s["organization_id"]: s["candidates"] for s in json.loads(output)["suggestions"]}
    assert suggestions["fab"][0]["company_id"] == fabrikam and suggestions["fab"][0]["exact"]
    assert suggestions["nw"][0]["company_id"] == northwind and not suggestions["nw"][0]["exact"]
    code, output = run("map", "--apply-exact")
    assert code == 0 and "2 organization(s) linked" in output
    code, output = run("map", "nw", str(northwind))
    assert code == 0 and "linked Northwind (nw) to Northwind Traders" in output
    assert run("map", "nw", "999999")[0] == 2
    assert run("map", "nobody", str(northwind))[0] == 2
    code, output = run("map", "nw", "none")
    assert code == 0 and "unlinked" in output
    with configured.store.transaction() as uow:
        links = {o.organization_id: o.autotask_company_id for o in uow.organizations.all()}
    assert links["fab"] == fabrikam and links["nw"] is None


def test_doctor_needs_no_autotask_for_store_checks(configured: Tenant) -> None:
    checks = run_doctor(configured.settings, configured.store, today=date(2026, 11, 1))
    assert [c.status for c in checks if c.name == "state store"] == ["ok"]


@pytest.mark.parametrize(
    ("organization", "company", "exact"),
    [
        (Organization("1", "Fabrikam, Inc."), CompanyCandidate(1, "Fabrikam Inc"), True),
        (Organization("1", "Contoso Ltd"), CompanyCandidate(1, "CONTOSO LIMITED"), True),
        (
            Organization("1", "X", "www.adatum.com"),
            CompanyCandidate(1, "Adatum Corp", "https://adatum.com/"),
            True,
        ),
        (Organization("1", "Northwind"), CompanyCandidate(1, "Northwind Traders"), False),
    ],
)
def test_matching(organization: Organization, company: CompanyCandidate, exact: bool) -> None:
    [best] = suggest(organization, [company, CompanyCandidate(2, "Unrelated Bakery")])
    assert best.company_id == 1 and best.exact is exact
    assert (exact_match(organization, [company]) is not None) is exact


def test_inactive_companies_are_never_suggested_and_ambiguity_is_not_exact() -> None:
    org = Organization("1", "Contoso")
    assert suggest(org, [CompanyCandidate(1, "Contoso", is_active=False)]) == []
    twins = [CompanyCandidate(1, "Contoso"), CompanyCandidate(2, "Contoso Ltd")]
    assert exact_match(org, twins) is None
    assert normalize_name("The Café & Co., Ltd.") == "cafe"

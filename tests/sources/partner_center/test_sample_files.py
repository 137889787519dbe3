"""The sample files in `data/` and the totals `expected-2025-11.json` gives for them.

The JSON is computed independently of billbridge (Python's csv module and Decimal); it is also
what an end-to-end export test can compare the charges in Autotask (or the sandbox) with.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import pytest

from billbridge.domain.records import DesiredState
from billbridge.domain.rules import ExportRules, desired_state
from billbridge.domain.subscription import SubscriptionType
from billbridge.sources.partner_center import PartnerCenterImport

from .builders import SAMPLES, read

EXPECTED: dict[str, Any] = json.loads((SAMPLES / "expected-2025-11.json").read_text("utf-8"))
RECON = SAMPLES / "invoice-recon-2025-11.csv"
USAGE = SAMPLES / "daily-usage-2025-11.csv"
CENT = Decimal("0.01")


def imported(*names: str) -> PartnerCenterImport:
    options = EXPECTED["import"]
    return read(
        *(SAMPLES / name for name in names),
        generated_on=date.fromisoformat(options["generated_on"]),
        license_markup=Decimal(options["license_markup"]),
        azure_markup=None,
    )


@pytest.fixture(scope="module")
def both() -> PartnerCenterImport:
    return imported(*EXPECTED["import"]["files"])


def test_reports_and_organizations(both: PartnerCenterImport) -> None:
    reports = {located.report.report_id: located.report for located in both.reports}
    assert sorted(reports) == sorted(EXPECTED["reports"])
    for report_id, expected in EXPECTED["reports"].items():
        report = reports[report_id]
        assert report.organization_id == expected["organization_id"]
        assert str(report.period_start) == expected["period_start"]
        assert str(report.period_end) == expected["period_end"]
        assert report.currency == expected["currency"]
        assert {line.subscription_id for line in report.lines} == set(expected["charges"])
    organizations = {o.organization_id: (o.name, o.domain) for o in both.organizations}
    assert organizations == {
        k: (v["name"], v["domain"]) for k, v in EXPECTED["organizations"].items()
    }


def test_licence_lines(both: PartnerCenterImport) -> None:
    for located in both.reports:
        expected = EXPECTED["reports"][located.report.report_id]["charges"]
        for line in located.report.lines:
            if line.subscription_type is SubscriptionType.AZURE:
                continue
            want = expected[line.subscription_id]
            assert line.subscription_type.value == want["subscription_type"]
            assert (line.sku, line.product_name) == (want["sku"], want["product_name"])
            assert line.quantity == Decimal(want["unit_quantity"])
            assert line.unit_cost == Decimal(want["unit_cost"])
            assert line.unit_price == Decimal(want["unit_price"])


def test_azure_totals_to_the_digit_and_the_cent(both: PartnerCenterImport) -> None:
    for located in both.reports:
        expected = EXPECTED["reports"][located.report.report_id]["charges"]
        sums: dict[str, list[Decimal]] = {}
        with localcontext() as context:
            context.prec = 100
            for line in located.report.lines:
                if line.subscription_type is SubscriptionType.AZURE:
                    found = sums.setdefault(
                        line.subscription_id, [Decimal(0), Decimal(0), Decimal(0)]
                    )
                    found[0] += line.quantity * line.unit_cost
                    found[1] += line.quantity * line.unit_price
                    found[2] += 1
        for subscription_id, (cost, price, meters) in sums.items():
            want = expected[subscription_id]
            assert (cost, price) == (Decimal(want["exact_cost"]), Decimal(want["exact_list_price"]))
            assert cost.quantize(CENT, ROUND_HALF_UP) == Decimal(want["unit_cost"])
            assert price.quantize(CENT, ROUND_HALF_UP) == Decimal(want["unit_price"])
            assert meters == want["meters"]


def test_each_file_alone_gives_its_own_reports(both: PartnerCenterImport) -> None:
    together = {r.report.report_id: r.report.content_hash for r in both.reports}
    apart = {
        r.report.report_id: r.report.content_hash
        for name in EXPECTED["import"]["files"]
        for r in imported(name).reports
    }
    assert apart == together


def test_what_is_not_exported_is_said(both: PartnerCenterImport) -> None:
    assert len(both.warnings) == 3
    assert "1 Azure plan line left out" in both.warnings[-1]
    assert any("customerCredit" in warning for warning in both.warnings)
    assert any("no seats left" in warning for warning in both.warnings)


def test_the_export_rules_make_the_expected_charges(both: PartnerCenterImport) -> None:
    """The domain's FAQ rules on these reports: every charge as the JSON gives it."""
    rules = ExportRules(
        subscription_types=frozenset(SubscriptionType),
        azure_product_name="Microsoft Azure",
        open_ended_years=10,
        product_billing_code_id=1,
    )
    organizations = {
        o.organization_id: replace(o, autotask_company_id=100) for o in both.organizations
    }
    for located in both.reports:
        report = located.report
        state = desired_state(report, organizations[report.organization_id], {}, rules)
        assert isinstance(state, DesiredState)
        expected = EXPECTED["reports"][report.report_id]["charges"]
        charges = {charge.key.subscription_id: charge for charge in state.charges}
        assert set(charges) == set(expected)
        for subscription_id, charge in charges.items():
            want = expected[subscription_id]
            assert charge.unit_quantity == Decimal(want["unit_quantity"])
            assert charge.unit_cost == Decimal(want["unit_cost"])
            assert charge.unit_price == Decimal(want["unit_price"])


def test_the_json_itself_matches_the_usage_file() -> None:
    """The JSON's Azure figures, recomputed from the CSV with the csv module and Decimal."""
    import csv

    sums: dict[tuple[str, str], list[Decimal]] = {}
    with localcontext() as context, USAGE.open(newline="", encoding="utf-8") as handle:
        context.prec = 100
        for row in csv.DictReader(handle):
            found = sums.setdefault((row["CustomerId"], row["EntitlementId"]), [Decimal(0)] * 2)
            found[0] += Decimal(row["BillingPreTaxTotal"])
            found[1] += (
                Decimal(row["UnitPrice"])
                * Decimal(row["Quantity"])
                * Decimal(row["PCToBCExchangeRate"])
            )
    for (customer, subscription), (cost, price) in sums.items():
        want = EXPECTED["reports"][f"pc-usage-2025-11-{customer}"]["charges"][subscription]
        assert (cost, price) == (Decimal(want["exact_cost"]), Decimal(want["exact_list_price"]))
    assert RECON.exists()

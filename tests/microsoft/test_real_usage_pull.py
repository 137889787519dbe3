"""Microsoft's real (anonymised) November 2025 usage export, pulled through the emulator and
exported to the sandbox: every charge to the cent, as `import partner-center` of the file."""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

from billbridge.autotask import F
from billbridge.export.apply import ApplyOptions
from billbridge.export.connection import client_from_settings
from billbridge.export.engine import ExportEngine, Selection
from billbridge.importing import import_partner_center
from tests.microsoft.conftest import REAL_USAGE, PullFactory, report_hashes, stored_reports

MARKUP = Decimal(10)
CENT = Decimal("0.01")


def _expected_from_the_file() -> dict[str, tuple[Decimal, Decimal]]:
    """EntitlementId -> (cost, price) computed from the CSV alone, exactly, rounded once."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    with localcontext() as context:
        context.prec = 60
        with gzip.open(REAL_USAGE, "rt", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                sums[row["EntitlementId"]] += Decimal(row["BillingPreTaxTotal"])
        return {
            entitlement: (
                total.quantize(CENT, rounding=ROUND_HALF_UP),
                (total * (1 + MARKUP / 100)).quantize(CENT, rounding=ROUND_HALF_UP),
            )
            for entitlement, total in sums.items()
        }


def test_the_real_usage_export_is_pulled_and_exported_to_the_cent(
    make_pull: PullFactory,
) -> None:
    pulling = make_pull(REAL_USAGE)
    (invoice,) = pulling.emulator.data.invoices.values()
    pulled = pulling.pull(azure_markup=MARKUP)

    assert [(i.status, i.rows) for i in pulled.invoices] == [("imported", 89_780)]
    invoice_day = pulled.invoices[0].invoice_date
    assert invoice_day == date(2025, 12, 8) == invoice.date

    by_file = make_pull(REAL_USAGE, name="by-file")
    import_partner_center(
        by_file.store, [REAL_USAGE], generated_on=invoice_day, azure_markup=MARKUP
    )
    assert report_hashes(pulling.store) == report_hashes(by_file.store)

    settings = pulling.settings
    with client_from_settings(settings) as client:
        owner = next(iter(client.query("Resources", [F.eq("isActive", True)])))["id"]
        kind = client.picklist_value("Companies", "companyType", "Customer")
        with pulling.store.transaction() as uow:
            for organization in uow.organizations.all():
                company = client.create(
                    "Companies",
                    {
                        "companyName": organization.name,
                        "companyType": kind,
                        "ownerResourceID": owner,
                        "phone": "+1 425 555 0100",
                    },
                )
                uow.organizations.link(organization.organization_id, company)
        engine = ExportEngine(
            pulling.store, settings, client, apply_options=ApplyOptions(unknown_write_horizon_s=1.0)
        )
        exported = engine.export(Selection(due=True, today=invoice_day + date.resolution * 4))
        assert exported.exit_code == 0, [(r.report_id, r.reason) for r in exported.reports]
        assert len(exported.reports) == len(stored_reports(pulling.store)) == 24

        contracts = {c["id"]: c for c in client.query("Contracts", [F.gte("id", 0)])}
        charges = list(client.query("ContractCharges", [F.gte("id", 0)]))

    subscription_of = {
        contract_id: next(
            u["value"] for u in contract["userDefinedFields"] if u["name"] == "Subscription ID"
        )
        for contract_id, contract in contracts.items()
    }
    actual = {
        subscription_of[c["contractID"]]: (
            Decimal(str(c["unitCost"])) * Decimal(str(c["unitQuantity"])),
            Decimal(str(c["unitPrice"])) * Decimal(str(c["unitQuantity"])),
        )
        for c in charges
    }
    expected = _expected_from_the_file()
    assert len(expected) == 33
    assert actual == expected

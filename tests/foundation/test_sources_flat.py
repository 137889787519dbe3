"""Organizations and price-list files."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from billbridge.domain.organization import Organization
from billbridge.domain.subscription import BillingFrequency, SubscriptionType, Term
from billbridge.sources.organizations import read_organizations
from billbridge.sources.price_list import read_price_list
from billbridge.sources.problems import InputError
from tests.foundation.helpers import csv_file, write

ORG_HEADER = "organization_id,name,domain,autotask_company_id,active"
PRICE_HEADER = (
    "sku,product_name,subscription_type,unit_cost,unit_price,currency,"
    "billing_frequency,term,description"
)


def problems(call: object) -> list[str]:
    with pytest.raises(InputError) as caught:
        call()  # type: ignore[operator]
    return [str(p) for p in caught.value.problems]


def test_organizations_from_csv(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "o.csv",
        ORG_HEADER,
        "org-1,Contoso Ltd,Contoso.COM,101,true",
        'org-2,"Fabrikam, Inc.",,,FALSE',
    )
    assert read_organizations([path]) == [
        Organization("org-1", "Contoso Ltd", "contoso.com", 101, True),
        Organization("org-2", "Fabrikam, Inc.", None, None, False),
    ]


def test_organizations_from_json(tmp_path: Path) -> None:
    document = [{"organization_id": "org-1", "name": "Contoso", "autotask_company_id": 7}]
    path = write(tmp_path, "o.json", json.dumps(document))
    assert read_organizations([path]) == [Organization("org-1", "Contoso", None, 7, True)]


def test_organization_problems_are_all_reported(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "o.csv",
        ORG_HEADER,
        "org-1,Contoso,,abc,true",
        "org-2,,,,yes",
        "org-1,Again,,-4,true",
        "org-3,Fine,,12.5,true",
    )
    assert problems(lambda: read_organizations([path])) == [
        f"{path}:2: autotask_company_id: 'abc' is not a whole number",
        f"{path}:3: name: is required",
        f"{path}:3: active: 'yes' must be true or false",
        f"{path}:4: autotask_company_id: must be a positive number (got -4)",
        f"{path}:4: organization_id: 'org-1' already appears at {path}:2",
        f"{path}:5: autotask_company_id: '12.5' is not a whole number",
    ]


def test_duplicate_organizations_across_files(tmp_path: Path) -> None:
    first = csv_file(tmp_path, "a.csv", "organization_id,name", "org-1,A")
    second = write(tmp_path, "b.json", '[{"organization_id": "org-1", "name": "B"}]')
    assert problems(lambda: read_organizations([first, second])) == [
        f"{second}:1: organization_id: 'org-1' already appears at {first}:2"
    ]


def test_json_duplicate_keys_and_unknown_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path, "o.json", '[{"organization_id": "a", "name": "A", "name": "B", "colour": 1}]'
    )
    found = problems(lambda: read_organizations([path]))
    assert f"{path}:1: name: appears twice in the same object" in found
    assert any(p.startswith(f"{path}:1: colour: unknown key") for p in found)


def test_price_list_from_csv(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "p.csv",
        PRICE_HEADER,
        "CFQ7TTC0LH18:0001,Microsoft 365 Business Basic,csp365,5.40,6.00,usd,monthly,P1Y,",
        "DZH318Z0BQ3Q:0001,Office LTSC Professional Plus 2021,perpetual,420,499,USD,one-time,,",
    )
    first, second = read_price_list([path])
    assert first.unit_cost == Decimal("5.40") and first.currency == "USD"
    assert first.billing_frequency is BillingFrequency.MONTHLY and first.term is Term.ONE_YEAR
    assert second.subscription_type is SubscriptionType.PERPETUAL and second.term is None


def test_price_list_problems(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "p.csv",
        PRICE_HEADER,
        "A,Name,csp365,1,-2,USD,weekly,P2Y,",
        "A,Name,csp365,1,2,USD,,,",
        "B,Name,saas,,2,US,,,",
    )
    assert problems(lambda: read_price_list([path])) == [
        f"{path}:2: unit_price: must not be negative (got -2)",
        f"{path}:2: billing_frequency: 'weekly' is not one of monthly, annual, one-time",
        f"{path}:2: term: 'P2Y' is not one of P1M, P1Y, P3Y",
        f"{path}:3: sku: 'A' already appears at {path}:2",
        f"{path}:4: subscription_type: 'saas' is not one of csp365, azure, marketplace, perpetual",
        f"{path}:4: unit_cost: is required",
        f"{path}:4: currency: 'US' is not an ISO 4217 currency code",
    ]

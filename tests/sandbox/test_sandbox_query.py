"""Autotask's query grammar in the sandbox (docs/sandbox.md, the checklist)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.sandbox.sandbox_helpers import AUTH, Api


@pytest.fixture
def companies(api: Api) -> dict[str, int]:
    rows: list[tuple[str, dict[str, object]]] = [
        ("Alpha Corp", {"city": "Berlin"}),
        ("Beta GmbH", {"city": "berlin"}),
        ("Gamma Ltd", {"city": None, "isActive": False}),
        ("Delta Inc", {"city": "Paris", "webAddress": ""}),
    ]
    return {name: api.company(name=name, **extra) for name, extra in rows}


def names(items: list[dict[str, object]]) -> list[object]:
    """The names of the companies the test made (company 0, the tenant's own, left out)."""
    return [item["companyName"] for item in items if item["id"] != 0]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"op": "eq", "field": "city", "value": "BERLIN"}, ["Alpha Corp", "Beta GmbH"]),
        ({"op": "noteq", "field": "city", "value": "Berlin"}, ["Delta Inc"]),
        ({"op": "beginsWith", "field": "companyName", "value": "al"}, ["Alpha Corp"]),
        ({"op": "endsWith", "field": "companyName", "value": "LTD"}, ["Gamma Ltd"]),
        ({"op": "contains", "field": "companyName", "value": "ta"}, ["Beta GmbH", "Delta Inc"]),
        ({"op": "exist", "field": "city"}, ["Alpha Corp", "Beta GmbH", "Delta Inc"]),
        ({"op": "notExist", "field": "city"}, ["Gamma Ltd"]),
        ({"op": "notExist", "field": "webAddress"}, [
            "Alpha Corp", "Beta GmbH", "Gamma Ltd", "Delta Inc"]),
        ({"op": "in", "field": "companyName", "value": ["alpha corp", "Delta Inc", "x"]},
         ["Alpha Corp", "Delta Inc"]),
        ({"op": "notIn", "field": "city", "value": ["Paris"]}, ["Alpha Corp", "Beta GmbH"]),
        ({"op": "eq", "field": "isActive", "value": False}, ["Gamma Ltd"]),
        ({"op": "eq", "field": "isActive", "value": "false"}, ["Gamma Ltd"]),
        ({"op": "or", "items": [
            {"op": "eq", "field": "city", "value": "Paris"},
            {"op": "notExist", "field": "city"}]}, ["Gamma Ltd", "Delta Inc"]),
        ({"op": "and", "items": [
            {"op": "eq", "field": "city", "value": "Berlin"},
            {"op": "beginsWith", "field": "companyName", "value": "B"}]}, ["Beta GmbH"]),
    ],
)  # fmt: skip
def test_operators(
    api: Api, companies: dict[str, int], flt: dict[str, object], expected: list[str]
) -> None:
    assert names(api.query("Companies", flt)) == expected


def test_comparisons_on_numbers_and_dates(api: Api, companies: dict[str, int]) -> None:
    ids = sorted(companies.values())
    assert len(api.query("Companies", {"op": "gt", "field": "id", "value": ids[1]})) == 2
    # Company 0, the tenant's own, is there too.
    assert len(api.query("Companies", {"op": "lte", "field": "id", "value": ids[1]})) == 3
    recent = api.query("Companies", {"op": "gte", "field": "createDate", "value": "2000-01-01"})
    assert len(recent) == 5
    assert api.query("Companies", {"op": "lt", "field": "createDate", "value": "2000-01-01Z"}) == []


def test_unknown_operator_is_silently_ignored(api: Api, companies: dict[str, int]) -> None:
    """Autotask's data-correctness trap: `ne` is not an operator, so nothing is filtered."""
    items = api.query("Companies", {"op": "ne", "field": "city", "value": "Berlin"})
    assert len(items) == 5  # the four made here and company 0
    grouped = api.query(
        "Companies",
        {"op": "or", "items": [{"op": "isNull", "field": "city"}, {"op": "eq", "field": "city",
                                                                  "value": "Paris"}]},
    )  # fmt: skip
    assert names(grouped) == ["Delta Inc"]


def test_unknown_field_is_an_error(api: Api) -> None:
    errors = api.errors(
        "POST", "/Companies/query", {"filter": [{"op": "eq", "field": "nope", "value": 1}]}
    )
    assert errors == ["Unable to find nope in the Account Entity"]


def test_boolean_fields_need_booleans(api: Api) -> None:
    body = {"filter": [{"op": "eq", "field": "isActive", "value": 1}]}
    assert "boolean" in api.errors("POST", "/Companies/query", body)[0]


@pytest.mark.parametrize("max_records", [0, 501, -1])
def test_max_records_must_be_1_to_500(api: Api, max_records: int) -> None:
    body = {"filter": [{"op": "gte", "field": "id", "value": 0}], "MaxRecords": max_records}
    assert api.errors("POST", "/Companies/query", body) == [
        "maxCountOfRecordsToReturn must be between 1 and 500"
    ]


def test_udf_filters(api: Api) -> None:
    company = api.company()
    first = api.contract(company, subscription="sub-A")
    second = api.contract(company, subscription="sub-B")
    api.contract(company, subscription="sub-C")
    found = api.query("Contracts", {"op": "eq", "field": "Subscription ID", "value": "SUB-a",
                                     "udf": True})  # fmt: skip
    assert [c["id"] for c in found] == [first]
    found = api.query(
        "Contracts",
        {"op": "in", "field": "subscription id", "value": ["sub-A", "sub-B"], "udf": True},
        {"op": "eq", "field": "companyID", "value": company},
    )
    assert [c["id"] for c in found] == [first, second]


def test_more_than_one_udf_is_an_error(api: Api) -> None:
    body = {
        "filter": [
            {"op": "eq", "field": "Subscription ID", "value": "a", "udf": True},
            {"op": "eq", "field": "Another UDF", "value": "b", "udf": True},
        ]
    }
    assert api.errors("POST", "/Contracts/query", body) == [
        "Unable to find Another UDF in the Contract Entity"
    ]
    company_udf = {"op": "exist", "field": "Microsoft Tenant ID", "udf": True}
    body = {"filter": [company_udf, {**company_udf, "field": "Microsoft Tenant ID"}]}
    assert api.ok("POST", "/Companies/query", body)["items"] == []


def test_two_distinct_udfs_are_refused(api: Api) -> None:
    body = {
        "filter": [
            {"op": "eq", "field": "Subscription ID", "value": "a", "udf": True},
            {"op": "eq", "field": "Billing Notes", "value": "b", "udf": True},
        ]
    }
    assert api.errors("POST", "/Contracts/query", body) == [
        "You can only query by one user-defined field at a time."
    ]


def test_query_keys_are_case_insensitive_and_get_search_works(
    api: Api, companies: dict[str, int]
) -> None:
    body = {"Filter": [{"OP": "eq", "Field": "companyname", "Value": "alpha corp"}],
            "maxrecords": 5, "IncludeFields": ["companyName"]}  # fmt: skip
    answer = api.ok("POST", "/Companies/query", body)
    assert answer["items"] == [{"companyName": "Alpha Corp"}]
    assert answer["pageDetails"]["requestCount"] == 5
    response = api.call("GET", "/Companies/query", params={"search": json.dumps(body)})
    assert response.json()["items"] == [{"companyName": "Alpha Corp"}]


def test_include_fields_with_udf(api: Api) -> None:
    api.contract(api.company(), subscription="inc-1")
    body = {"filter": [{"op": "gte", "field": "id", "value": 0}],
            "includeFields": ["id", "Subscription ID"]}  # fmt: skip
    item = api.ok("POST", "/Contracts/query", body)["items"][0]
    assert item.keys() == {"id", "userDefinedFields"}
    assert item["userDefinedFields"] == [{"name": "Subscription ID", "value": "inc-1"}]


def test_count(api: Api, companies: dict[str, int]) -> None:
    body = {"filter": [{"op": "eq", "field": "city", "value": "berlin"}]}
    assert api.ok("POST", "/Companies/query/count", body) == {"queryCount": 2}
    response = api.call("GET", "/Companies/query/count", params={"search": json.dumps(body)})
    assert response.json() == {"queryCount": 2}


def test_paging_at_500_with_next_and_prev_urls(api: Api) -> None:
    resource = api.resource_id()
    for index in range(1203):
        api.ok(
            "POST",
            "/Companies",
            {"companyName": f"Co {index:04d}", "companyType": 1, "phone": "1",
             "ownerResourceID": resource},
        )  # fmt: skip
    body = {"filter": [{"op": "beginsWith", "field": "companyName", "value": "Co "}]}
    first = api.ok("POST", "/Companies/query", body)
    details = first["pageDetails"]
    assert (details["count"], details["requestCount"], details["prevPageUrl"]) == (500, 500, None)
    next_url = details["nextPageUrl"]
    parts = urlsplit(next_url)
    assert parts.netloc == "sandbox.test"
    assert parts.path == "/ATServicesRest/V1.0/Companies/query/next"
    query = parse_qs(parts.query)
    assert json.loads(query["search"][0]) == body
    seen = [item["id"] for item in first["items"]]
    pages = [first]
    while next_url:
        page = api.client.post(next_url, json=body, headers=AUTH).json()
        pages.append(page)
        seen += [item["id"] for item in page["items"]]
        next_url = page["pageDetails"]["nextPageUrl"]
    assert [p["pageDetails"]["count"] for p in pages] == [500, 500, 203]
    assert seen == sorted(seen) and len(set(seen)) == 1203
    prev_url = pages[2]["pageDetails"]["prevPageUrl"]
    again = api.client.get(prev_url, headers=AUTH).json()  # GET accepted too
    assert [i["id"] for i in again["items"]] == [i["id"] for i in pages[1]["items"]]


def test_paging_with_max_records(api: Api, companies: dict[str, int]) -> None:
    body = {"filter": [{"op": "gte", "field": "id", "value": 0}], "maxRecords": 3}
    first = api.ok("POST", "/Companies/query", body)
    assert first["pageDetails"]["count"] == 3
    second = api.client.post(first["pageDetails"]["nextPageUrl"], json=body, headers=AUTH).json()
    assert second["pageDetails"]["count"] == 2  # five with company 0
    assert second["pageDetails"]["nextPageUrl"] is None


def test_a_forged_paging_token_is_refused(api: Api) -> None:
    response = api.call("POST", "/Companies/query/next", {}, params={"paging": "!!"})
    assert response.status_code == 500


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"op": "eq", "value": "SUB-A"}, ["sub-A"]),
        ({"op": "eq", "value": "sub-a   "}, ["sub-A"]),  # SQL Server ignores trailing spaces
        ({"op": "noteq", "value": "SUB-A"}, ["Sub-b", "Other-C"]),
        ({"op": "in", "value": ["SUB-A", "sub-B"]}, ["sub-A", "Sub-b"]),
        ({"op": "notIn", "value": ["SUB-A", "sub-B"]}, ["Other-C"]),
        ({"op": "beginsWith", "value": "SUB-"}, ["sub-A", "Sub-b"]),
        ({"op": "endsWith", "value": "-c"}, ["Other-C"]),
        ({"op": "contains", "value": "B-B"}, ["Sub-b"]),
        ({"op": "gt", "value": "SUB-A"}, ["Sub-b"]),
    ],
)
def test_udf_filters_ignore_case_in_every_operator(
    api: Api, flt: dict[str, object], expected: list[str]
) -> None:
    company = api.company()
    for key in ("sub-A", "Sub-b", "Other-C"):
        api.contract(company, subscription=key)
    found = api.query("Contracts", {**flt, "field": "Subscription ID", "udf": True})
    values = [c["userDefinedFields"][0]["value"] for c in found]
    assert values == expected


def test_string_equality_ignores_trailing_spaces_but_like_does_not(
    api: Api, companies: dict[str, int]
) -> None:
    assert names(api.query("Companies", {"op": "eq", "field": "companyName",
                                         "value": "ALPHA CORP  "})) == ["Alpha Corp"]  # fmt: skip
    assert names(api.query("Companies", {"op": "endsWith", "field": "companyName",
                                         "value": "corp "})) == []  # fmt: skip

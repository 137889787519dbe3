"""Writes that fail or are slow the way Autotask's do, by fault rate or by test hook, over HTTP."""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import Any

import httpx
import pytest

from billbridge.sandbox import FaultSpec
from billbridge.sandbox.cli import _bind
from tests.sandbox.sandbox_helpers import AUTH, V1, Api, Serve, contract_fields

OPAQUE = re.compile(
    r"An unexpected error has occurred\.  If the problem persists, please contact Autotask "
    r"Support and reference Error ID: \d+"
)


def contracts_named(api: Api, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.query(
        "Contracts", {"op": "eq", "field": "contractName", "value": name}
    )
    return found


# -- 5. opaque 500s --------------------------------------------------------------------------


def test_reject_writes_fails_one_write_with_its_exact_text_and_not_the_others(
    serve: Serve,
) -> None:
    api = serve()
    company = api.company()
    rule = api.runtime.reject_writes(
        "contracts", lambda body: body.get("contractName") == "Fabrikam M365"
    )
    refused = api.call(
        "POST", "/Contracts", {**contract_fields(company), "contractName": "Fabrikam M365"}
    )
    assert refused.status_code == 500
    [text] = refused.json()["errors"]
    assert OPAQUE.fullmatch(text)
    assert rule.hits == 1 and rule.texts == [text]
    assert contracts_named(api, "Fabrikam M365") == []  # not performed
    api.contract(company, contractName="Contoso M365")  # the others go through
    assert len(contracts_named(api, "Contoso M365")) == 1
    again = api.call(
        "POST", "/Contracts", {**contract_fields(company), "contractName": "Fabrikam M365"}
    )
    [second] = again.json()["errors"]
    assert second != text and OPAQUE.fullmatch(second)  # each answer its own error id
    api.runtime.clear_write_rules()
    api.contract(company, contractName="Fabrikam M365")
    assert len(contracts_named(api, "Fabrikam M365")) == 1


def test_reject_writes_with_a_text_and_a_count(serve: Serve) -> None:
    api = serve()
    contract = api.contract(api.company())
    product = api.product()
    sql = "Conversion failed when converting the nvarchar value 'x' to data type int."
    rule = api.runtime.reject_writes("ContractCharges", text=sql, times=1)
    body = {"name": "M365", "datePurchased": "2026-10-01T12:00:00Z", "chargeType": 1,
            "unitQuantity": 1, "productID": product}  # fmt: skip
    assert api.errors("POST", f"/Contracts/{contract}/Charges", body) == [sql]
    api.ok("POST", f"/Contracts/{contract}/Charges", body)  # times=1: the next one passes
    assert rule.hits == 1
    assert len(api.query("ContractCharges")) == 1


def test_the_opaque500_fault_performs_nothing(serve: Serve) -> None:
    api = serve()
    company = api.company()
    api.runtime.faults.spec = FaultSpec(opaque500=1.0, seed=1)
    response = api.call("POST", "/Contracts", contract_fields(company))
    assert response.status_code == 500
    assert OPAQUE.fullmatch(response.json()["errors"][0])
    assert api.ok("GET", f"/Companies/{company}")["item"]["id"] == company  # reads unaffected
    api.runtime.faults.spec = None
    assert api.query("Contracts") == []
    assert FaultSpec.parse("opaque500=0.1,slow=0.2,slow_ms=900,seed=3") == FaultSpec(
        opaque500=0.1, slow=0.2, slow_ms=900, seed=3
    )


@pytest.mark.parametrize(
    ("field", "value", "text"),
    [
        ("companyID", "abc", "Conversion failed when converting the nvarchar value 'abc' "
                             "to data type int."),
        ("setupFeeBillingCodeID", "x1", "Error converting data type nvarchar to bigint."),
        ("setupFee", "123456789012345", "Arithmetic overflow error converting numeric to data "
                                        "type numeric."),
    ],
)  # fmt: skip
def test_values_that_reach_sql_server_unconverted(
    serve: Serve, field: str, value: str, text: str
) -> None:
    api = serve()
    body = {**contract_fields(api.company()), field: value}
    assert api.errors("POST", "/Contracts", body) == [text]
    assert api.query("Contracts") == []


# -- 9. slow writes --------------------------------------------------------------------------


def test_a_slow_write_is_carried_out_after_the_client_gave_up(serve: Serve) -> None:
    api = serve()
    company = api.company()
    rule = api.runtime.slow_writes("Contracts", delay_ms=2500, times=1)
    assert api.sandbox is not None
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{api.sandbox.origin}{V1}/Contracts",
            json=contract_fields(company),
            headers=AUTH,
            timeout=0.4,
        )
    assert contracts_named(api, "Microsoft 365") == []  # the lookup in the window: nothing
    deadline = started + 8
    while not contracts_named(api, "Microsoft 365"):
        assert time.monotonic() < deadline, "the slow write was never carried out"
        time.sleep(0.1)
    assert time.monotonic() - started >= 2.4
    assert len(contracts_named(api, "Microsoft 365")) == 1
    assert rule.hits == 1
    api.contract(company, contractName="Microsoft 365")  # times=1: the next is not slow
    assert len(contracts_named(api, "Microsoft 365")) == 2


def test_a_slow_write_answers_after_it_is_done(serve: Serve) -> None:
    api = serve(faults=FaultSpec(slow=1.0, slow_ms=600, seed=2))
    company = api.company()  # writes are slow: this one too
    started = time.monotonic()
    contract = api.contract(company)
    assert time.monotonic() - started >= 0.55
    assert api.ok("GET", f"/Contracts/{contract}")["item"]["id"] == contract  # reads are fast


def test_the_latency_counts_the_work_done_inside_it(serve: Serve) -> None:
    """An answer takes the latency asked for, not that plus the sandbox's own time: a write
    that takes 400 ms inside a latency of 900 ms is answered after about 900 ms."""
    api = serve(latency_ms=900)
    company = api.company()
    api.runtime.slow_writes("Contracts", delay_ms=400, times=1)
    started = time.monotonic()
    api.contract(company)
    took = time.monotonic() - started
    assert 0.88 <= took < 1.25, took
    api.runtime.slow_writes("Contracts", delay_ms=1300, times=1)
    started = time.monotonic()
    api.contract(company)
    assert time.monotonic() - started >= 1.28  # work longer than the latency is not cut


def test_a_slow_write_keeps_its_thread_slot(serve: Serve) -> None:
    api = serve()
    company = api.company()
    api.runtime.slow_writes("Contracts", delay_ms=3000)
    assert api.sandbox is not None
    url = f"{api.sandbox.origin}{V1}/Contracts"
    threads = [
        threading.Thread(
            target=lambda: httpx.post(url, json=contract_fields(company), headers=AUTH, timeout=5)
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 2.5
    while api.runtime.limits.in_flight(api.sandbox.integration_code, "contracts") < 3:
        assert time.monotonic() < deadline, "the three slow writes did not all arrive"
        time.sleep(0.02)
    busy = api.call("GET", "/Contracts/query", params={"search": '{"filter":[]}'})
    assert busy.status_code == 500 and "Thread Threshold Exceeded" in busy.text
    for thread in threads:
        thread.join()
    assert len(api.query("Contracts")) == 3


# -- 8. impersonation ------------------------------------------------------------------------


def test_impersonation_only_where_autotask_records_it(serve: Serve) -> None:
    api = serve()
    admin = api.first_id("Resources", "userName", "admin@sandbox.billbridge.test")
    header = {"ImpersonationResourceId": str(admin)}
    company = api.company()
    refused = api.call("POST", "/Contracts", contract_fields(company), headers=header)
    assert refused.status_code == 500
    assert refused.json() == {
        "errors": [
            "The logged in Resource does not have the adequate permissions to create this "
            "entity type."
        ]
    }
    assert api.query("Contracts") == []
    product = api.call(
        "POST",
        "/Products",
        {
            "name": "M365",
            "isActive": True,
            "isSerialized": False,
            "productBillingCodeID": api.material_code(),
        },
        headers=header,
    )
    assert product.status_code == 200
    item = api.ok("GET", f"/Products/{product.json()['itemId']}")["item"]
    assert item["createdByResourceID"] == admin
    assert item["impersonatorCreatorResourceID"] == api.resource_id()
    read = api.call("GET", f"/Companies/{company}", headers=header)
    assert read.status_code == 200  # reads ignore it
    contract = api.contract(company)
    charge = {"name": "x", "datePurchased": "2026-10-01T12:00:00Z", "chargeType": 1,
              "unitQuantity": 1, "productID": product.json()["itemId"]}  # fmt: skip
    on_charge = api.call("POST", f"/Contracts/{contract}/Charges", charge, headers=header)
    assert on_charge.status_code == 500 and "adequate permissions" in on_charge.text
    update = api.call("PATCH", "/Contracts", {"id": contract, "description": "x"}, headers=header)
    assert "permissions to update this entity type" in update.text


# -- 10. TCP_NODELAY -------------------------------------------------------------------------


def test_the_cli_listens_with_tcp_nodelay() -> None:
    listener = _bind("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP  # asyncio sets nodelay only then
        listener.listen(1)
        client = socket.create_connection(listener.getsockname())
        accepted, _ = listener.accept()
        try:
            assert accepted.proto == socket.IPPROTO_TCP
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            accepted.close()
            client.close()
    finally:
        listener.close()

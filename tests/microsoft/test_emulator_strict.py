"""The emulator refuses what Microsoft documents as refused, in Microsoft's shapes, and the
client reads those shapes (over real HTTP)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from billbridge.microsoft.client import PartnerCenterClient
from billbridge.microsoft.exports import Succeeded
from billbridge.pulling import microsoft_settings
from billbridge.sandbox.microsoft import CLIENT_ID, CLIENT_SECRET, TENANT_ID
from tests.microsoft.conftest import USAGE_INVOICE, Pull

GRAPH = "https://graph.microsoft.com/.default"
PARTNER_CENTER = "https://api.partnercenter.microsoft.com/.default"


def _token(pulling: Pull, scope: str) -> str:
    section = pulling.settings.partner_center
    response = httpx.post(
        f"{section.authority_url}/{TENANT_ID}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": scope,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _export(pulling: Pull, body: Any, *, state: str = "billed", **headers: str) -> httpx.Response:
    section = pulling.settings.partner_center
    url = f"{section.graph_url}/v1.0/reports/partners/billing/usage/{state}/export"
    token = _token(pulling, GRAPH)
    return httpx.post(url, content=body, headers={"Authorization": f"Bearer {token}", **headers})


def test_an_export_needs_a_json_content_type(pulling: Pull) -> None:
    body = json.dumps({"invoiceId": USAGE_INVOICE, "attributeSet": "full"})
    refused = _export(pulling, body, **{"Content-Type": "text/plain"})
    assert refused.status_code == 415
    assert refused.json()["error"]["code"] == "UnsupportedMediaType"
    accepted = _export(pulling, body, **{"Content-Type": "application/json; charset=utf-8"})
    assert accepted.status_code == 202


@pytest.mark.parametrize(
    ("state", "body", "said"),
    [
        ("billed", '{"invoiceId": "G1", "bogus": 1}', "The parameter 'bogus'"),
        ("billed", '{"invoiceId": "G1", "billingPeriod": "current"}', "'billingPeriod'"),
        ("unbilled", '{"billingPeriod": "current", "currencyCode": "zz-not"}', "ISO 4217"),
        ("unbilled", '{"billingPeriod": "current"}', "currencyCode is required"),
    ],
)
def test_an_export_refuses_what_its_action_does_not_declare(
    pulling: Pull, state: str, body: str, said: str
) -> None:
    refused = _export(pulling, body, state=state, **{"Content-Type": "application/json"})
    assert refused.status_code == 400
    assert said in refused.json()["error"]["message"]


def test_partner_center_errors_have_partner_center_s_shape(pulling: Pull) -> None:
    url = f"{pulling.settings.partner_center.api_url}/v1/invoices"
    wrong_audience = httpx.get(url, headers={"Authorization": f"Bearer {_token(pulling, GRAPH)}"})
    assert wrong_audience.status_code == 401
    body = wrong_audience.json()
    assert body["code"] == 1002 and body["source"] == "PartnerFD"
    assert "Invalid audience" in body["description"]
    token = _token(pulling, PARTNER_CENTER)
    negative = httpx.get(url, params={"offset": "-1"}, headers={"Authorization": f"Bearer {token}"})
    assert negative.status_code == 400
    assert "offset not negative" in negative.json()["description"]


def test_the_sas_is_percent_encoded_and_passed_on_as_it_is(pulling: Pull) -> None:
    with PartnerCenterClient(microsoft_settings(pulling.settings)) as client:
        operation = client.start_billed_export("usage", USAGE_INVOICE)
        outcome = client.wait(operation, "the usage export")
        assert isinstance(outcome, Succeeded)
        manifest = client.manifest(outcome, "the usage export")
    assert "%3A" in manifest.sasToken
    assert [i.status for i in pulling.pull(invoice_ids=[USAGE_INVOICE]).invoices] == ["imported"]

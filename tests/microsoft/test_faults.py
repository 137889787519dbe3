"""What goes wrong at Microsoft, and what the pull does about it (over real HTTP)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pytest
from pydantic import SecretStr

from billbridge.microsoft.client import PartnerCenterClient
from billbridge.microsoft.errors import CredentialsError, MissingPermissionError
from billbridge.pulling import PullStopped, microsoft_settings, pull_partner_center
from billbridge.sandbox.microsoft import CLIENT_SECRET, MicrosoftFaults
from tests.microsoft.conftest import (
    RECON_INVOICE,
    USAGE_INVOICE,
    PullFactory,
    stored_reports,
)


def _client(pulling: object, sleeps: list[float], **changes: object) -> PartnerCenterClient:
    settings = pulling.with_partner_center(**changes)  # type: ignore[attr-defined]
    return PartnerCenterClient(microsoft_settings(settings), sleep=sleeps.append)


def test_tokens_are_cached_per_scope(make_pull: PullFactory) -> None:
    pulling = make_pull()
    pulling.pull()
    # One Partner Center token (the invoice list) and one Graph token, for ~20 requests.
    assert pulling.emulator.token_requests == 2


def test_a_bad_secret_names_the_setting_and_never_shows_the_secret(
    make_pull: PullFactory, caplog: pytest.LogCaptureFixture
) -> None:
    pulling = make_pull()
    wrong = "wr0ng-s3cret-value"
    settings = pulling.with_partner_center(client_secret=SecretStr(wrong))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CredentialsError) as raised:
        pull_partner_center(pulling.store, settings, today=pulling.today)
    message = str(raised.value)
    assert "partner_center.client_secret is wrong" in message
    assert "AADSTS7000215" in message
    assert wrong not in message and CLIENT_SECRET not in message
    assert wrong not in caplog.text and CLIENT_SECRET not in caplog.text
    assert wrong not in repr(settings) and wrong not in repr(microsoft_settings(settings))
    with pulling.store.transaction() as uow:
        assert uow.pulls.invoices() == []


def test_no_secret_token_or_sas_reaches_the_logs(
    make_pull: PullFactory, caplog: pytest.LogCaptureFixture
) -> None:
    pulling = make_pull()
    caplog.set_level(logging.DEBUG)
    assert [i.status for i in pulling.pull().invoices] == ["imported", "imported"]
    assert "/microsoft/blob/" in caplog.text  # httpx did log the blob requests
    assert "sig=" not in caplog.text
    assert CLIENT_SECRET not in caplog.text
    assert "Bearer" not in caplog.text


def test_an_unknown_client_or_tenant_is_named(make_pull: PullFactory) -> None:
    pulling = make_pull()
    for changes, named in (
        ({"client_id": "00000000-0000-0000-0000-000000000000"}, "partner_center.client_id"),
        ({"tenant_id": "11111111-1111-1111-1111-111111111111"}, "partner_center.tenant_id"),
    ):
        settings = pulling.with_partner_center(**changes)
        with pytest.raises(CredentialsError, match=named):
            pull_partner_center(pulling.store, settings, today=pulling.today)


def test_a_missing_permission_names_partnerbilling_read_all(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(deny_billing=True))
    with pytest.raises(PullStopped) as raised:
        pulling.pull()
    assert isinstance(raised.value.error, MissingPermissionError)
    assert "PartnerBilling.Read.All" in str(raised.value)
    assert raised.value.error.kind == "fatal"
    assert raised.value.result.invoices == []
    assert stored_reports(pulling.store) == []


def test_429_is_waited_out_as_retry_after_asks(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(throttle_every=3, retry_after_s=2))
    sleeps: list[float] = []
    with _client(pulling, sleeps) as client:
        result = pull_partner_center(
            pulling.store, pulling.settings, today=pulling.today, client=client
        )
    assert [i.status for i in result.invoices] == ["imported", "imported"]
    assert sleeps.count(2.0) >= 3
    # A throttled export request was not accepted: it is sent again, not counted twice.
    assert sorted(pulling.exports_of(RECON_INVOICE)) == ["reconciliation", "usage"]


def test_throttling_that_never_ends_is_bounded(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(throttle_every=1, retry_after_s=30))
    sleeps: list[float] = []
    settings = pulling.with_partner_center()
    client = PartnerCenterClient(
        microsoft_settings(settings).__class__(
            **{**microsoft_settings(settings).__dict__, "throttle_wait_s": 100.0}
        ),
        sleep=sleeps.append,
    )
    from billbridge.microsoft.errors import ThrottledError

    with client, pytest.raises(ThrottledError, match="kept throttling the invoice list"):
        pull_partner_center(pulling.store, settings, today=pulling.today, client=client)
    assert sum(sleeps) <= 100.0


def test_a_slow_operation_is_polled_as_retry_after_asks(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(operation_s=1.5, poll_after_s=1))
    statuses: list[str] = []
    result = pulling.pull(progress=statuses.append)
    assert [i.status for i in result.invoices] == ["imported", "imported"]


def test_an_operation_past_the_deadline_waits_and_the_next_pull_resumes_it(
    make_pull: PullFactory,
) -> None:
    pulling = make_pull(faults=MicrosoftFaults(operation_s=600, poll_after_s=1))
    settings = pulling.with_partner_center(poll_deadline_s=0.5)
    first = pull_partner_center(pulling.store, settings, today=pulling.today)
    assert [i.status for i in first.invoices] == ["waiting", "waiting"]
    assert "poll_deadline_s" in first.invoices[0].detail
    assert first.exit_code == 1
    exports = len(pulling.emulator.exports)
    assert exports == 4
    assert stored_reports(pulling.store) == []

    pulling.emulator.set_faults(operation_s=0)
    second = pulling.pull()
    assert [i.status for i in second.invoices] == ["imported", "imported"]
    assert all(i.exports_started == 0 for i in second.invoices)
    assert len(pulling.emulator.exports) == exports


def test_no_data_available_is_not_an_error(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(no_data=True))
    result = pulling.pull()
    assert [i.status for i in result.invoices] == ["no_data", "no_data"]
    assert result.exit_code == 0
    assert pulling.pull().invoices == []  # recorded: not exported again
    assert len(pulling.emulator.exports) == 4


def test_an_expired_sas_exports_only_that_kind_again(make_pull: PullFactory) -> None:
    pulling = make_pull()
    expired: list[str] = []

    def expire_before_the_first_download(message: str) -> None:
        if "blob(s)" in message and not expired:
            expired.append(message)
            pulling.emulator.expire_sas()

    result = pulling.pull(progress=expire_before_the_first_download)
    assert [i.status for i in result.invoices] == ["imported", "imported"]
    assert "reconciliation" in expired[0]
    assert sorted(pulling.exports_of(RECON_INVOICE)) == [
        "reconciliation",
        "reconciliation",
        "usage",
    ]
    assert sorted(pulling.exports_of(USAGE_INVOICE)) == ["reconciliation", "usage"]


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        (MicrosoftFaults(broken_manifest=True), "manifest says blobCount 2 but lists 1 blobs"),
        (MicrosoftFaults(broken_blob="gzip"), "is not valid gzip"),
        (MicrosoftFaults(broken_blob="truncated"), "ends in the middle of its gzip stream"),
        (MicrosoftFaults(broken_blob="json"), "line 2: broken JSON"),
    ],
)
def test_a_malformed_manifest_or_blob_fails_the_invoice_and_stores_nothing(
    make_pull: PullFactory, faults: MicrosoftFaults, expected: str
) -> None:
    pulling = make_pull(faults=faults)
    result = pulling.pull()
    assert [i.status for i in result.invoices] == ["failed", "failed"]
    assert expected in result.invoices[0].detail, result.invoices[0].detail
    assert result.exit_code == 1
    assert stored_reports(pulling.store) == []
    with pulling.store.transaction() as uow:
        assert {p.status for p in uow.pulls.invoices()} == {"failed"}


def test_an_operation_microsoft_no_longer_has_is_exported_again(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(operation_s=600, poll_after_s=1))
    settings = pulling.with_partner_center(poll_deadline_s=0.5)
    first = pull_partner_center(pulling.store, settings, today=pulling.today)
    assert [i.status for i in first.invoices] == ["waiting", "waiting"]

    pulling.emulator.forget_operations()  # Microsoft's retention, or a restarted emulator
    pulling.emulator.set_faults(operation_s=0)
    second = pulling.pull()
    assert [i.status for i in second.invoices] == ["imported", "imported"]
    assert [i.exports_started for i in second.invoices] == [2, 2]
    assert sorted(pulling.exports_of(RECON_INVOICE)) == ["reconciliation"] * 2 + ["usage"] * 2


def test_a_failed_invoice_is_exported_anew_by_the_next_pull(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(broken_blob="json"))
    first = pulling.pull()
    assert [i.status for i in first.invoices] == ["failed", "failed"]
    assert "the next pull exports it again" in first.invoices[0].detail

    pulling.emulator.set_faults(broken_blob="")
    second = pulling.pull()
    assert [i.status for i in second.invoices] == ["imported", "imported"]
    # Each invoice has one kind of export with data; the other's "No data available" stands.
    assert [i.exports_started for i in second.invoices] == [1, 1]
    assert stored_reports(pulling.store)


def test_an_operation_that_says_completed_is_a_success(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(completed=True))
    assert [i.status for i in pulling.pull().invoices] == ["imported", "imported"]


def test_an_expired_secret_says_to_create_a_new_one(make_pull: PullFactory) -> None:
    pulling = make_pull(faults=MicrosoftFaults(secret_expired=True))
    with pytest.raises(CredentialsError) as raised:
        pulling.pull()
    assert "partner_center.client_secret has expired; create a new one" in str(raised.value)
    assert "AADSTS7000222" in str(raised.value)
    assert CLIENT_SECRET not in str(raised.value)


def test_the_blobs_of_a_killed_pull_are_removed_by_the_next(
    make_pull: PullFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads = tmp_path / "tmp"
    downloads.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(downloads))
    gone = downloads / "billbridge-pull-999999999-abcd"  # above any pid Linux gives
    gone.mkdir()
    (gone / "G1-usage-1.json.gz").write_bytes(b"\x1f\x8b")
    alive = downloads / f"billbridge-pull-{os.getpid()}-efgh"
    alive.mkdir()
    other = downloads / "billbridge-pull-notapid"
    other.mkdir()

    pulling = make_pull()
    assert [i.status for i in pulling.pull().invoices] == ["imported", "imported"]
    assert not gone.exists()
    assert alive.exists() and other.exists()
    left = sorted(p.name for p in downloads.glob("billbridge-pull-*"))
    assert left == sorted([alive.name, other.name])  # and the pull's own is gone

"""`billbridge sandbox`: persistence, Approve & Post, the foreground server and its options."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from billbridge.sandbox import SandboxOptions, StoreError, approve_and_post, create_app
from billbridge.sandbox.cli import app as cli
from billbridge.sandbox.store import Store
from billbridge.sandbox.tenant import Tenant
from billbridge.sandbox.transport import InProcessTransport
from tests.sandbox.sandbox_helpers import AUTH, Api


def open_tenant(data: Path) -> Api:
    app = create_app(SandboxOptions(data=data))
    client = httpx.Client(transport=InProcessTransport(app), base_url="http://sandbox.test")
    return Api(client, app.state.runtime)


def test_the_tenant_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "tenant.db"
    first = open_tenant(data)
    company = first.company(name="Persistent Ltd")
    contract = first.contract(company, subscription="persist-1")
    first.runtime.close()
    second = open_tenant(data)
    item = second.ok("GET", f"/Contracts/{contract}")["item"]
    assert item["userDefinedFields"][0]["value"] == "persist-1"
    assert second.company(name="Next") == company + 1  # the id sequence continues
    assert len(second.query("BillingCodes")) == 8  # seeded once, not twice
    second.runtime.close()


def test_a_file_that_is_not_a_sandbox_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_text("not sqlite at all, but long enough to look like a header " * 10)
    with pytest.raises(StoreError):
        create_app(SandboxOptions(data=bogus))


def charges_in(data: Path) -> tuple[Api, list[int]]:
    api = open_tenant(data)
    contract = api.contract(api.company())
    product = api.product()
    ids = [
        api.charge(
            contract, product, name=f"M365 {month}", datePurchased=f"2024-{month}-01T12:00:00Z"
        )
        for month in ("09", "10", "11")
    ]
    return api, ids


def billed(data: Path, ids: list[int]) -> list[bool]:
    api = open_tenant(data)
    flags = [api.ok("GET", f"/ContractCharges/{i}")["item"]["isBilled"] for i in ids]
    api.runtime.close()
    return flags


def test_approve_and_post_through_a_date(tmp_path: Path) -> None:
    data = tmp_path / "tenant.db"
    api, ids = charges_in(data)
    api.runtime.close()
    runner = CliRunner()
    result = runner.invoke(
        cli, ["approve-and-post", "--data", str(data), "--through", "2024-10-15"]
    )
    assert result.exit_code == 0, result.output
    assert "2 charge(s) purchased on or before 2024-10-15 marked billed." in result.output
    assert billed(data, ids) == [True, True, False]
    assert approve_and_post(data) == 1
    assert billed(data, ids) == [True, True, True]
    assert approve_and_post(data) == 0


def test_approve_and_post_is_seen_by_a_running_sandbox(tmp_path: Path) -> None:
    data = tmp_path / "tenant.db"
    api, ids = charges_in(data)
    assert approve_and_post(data) == 3
    assert api.ok("GET", f"/ContractCharges/{ids[0]}")["item"]["isBilled"] is True
    api.runtime.close()


def test_approve_and_post_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["approve-and-post", "--data", str(tmp_path / "none.db")])
    assert missing.exit_code == 2
    assert "no such sandbox data file" in missing.output
    bad_date = runner.invoke(
        cli, ["approve-and-post", "--data", str(tmp_path / "x.db"), "--through", "10/31/2024"]
    )
    assert bad_date.exit_code == 2
    assert "is not a date" in bad_date.output


def test_a_bad_faults_spec_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["--faults", "error500=oops", "--port", "0"])
    assert result.exit_code == 2
    assert "error500: 'oops' is not a number" in result.output


@contextlib.contextmanager
def foreground(*args: str) -> Iterator[tuple[str, list[str]]]:
    """`billbridge sandbox ARGS` in a process of its own, answering: (base URL, banner lines);
    SIGTERM on leaving, which must end it with status 0."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    code = "from billbridge.sandbox.cli import app; app()"
    with subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as process:
        try:
            assert process.stdout is not None
            first = process.stdout.readline()
            assert first.startswith("Autotask sandbox at http://127.0.0.1:"), first
            base = first.split(" at ", 1)[1].strip().removesuffix("/v1.0/")
            banner = [process.stdout.readline() for _ in range(6)]
            response = httpx.get(f"{base}/v1.0/Version", headers=AUTH, timeout=10)
            assert response.status_code == 200
            yield base, banner
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
            assert "Sandbox stopped." in process.stdout.read()
        finally:
            if process.poll() is None:
                process.kill()


def test_serves_in_the_foreground_until_sigterm(tmp_path: Path) -> None:
    with foreground("--data", str(tmp_path / "t.db")) as (_, banner):
        text = "".join(banner)
        assert "api@sandbox.billbridge.test" in text and "BILLBRIDGE-SANDBOX" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date-reading", "local"], "use convert or keep"),
        (["--timezone", "Nowhere/Land"], "unknown time zone"),
        (["--require", "Contracts"], "expected ENTITY.FIELD"),
        (["--require", "Contracts.nope"], "Contracts has no field 'nope'"),
        (["--precision", "11"], "less than or equal to 10"),
        (["--faults", "slow=0.5,slow_ms=-1"], "slow_ms must be >= 0"),
    ],
)
def test_bad_tenant_settings_are_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, [*args, "--port", "0"])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_the_banner_names_the_tenant_settings_and_they_are_kept(tmp_path: Path) -> None:
    data = tmp_path / "t.db"
    args = ["--data", str(data), "--procurement", "--date-reading", "keep",
            "--require", "Products.sku", "--no-cost-permission", "--precision", "2"]  # fmt: skip
    with foreground(*args) as (_, banner):
        tenant = next(line for line in banner if "tenant" in line)
        assert "America/New_York, dates keep, precision 2, procurement" in tenant
        assert "no cost permission" in tenant and "requires Products.sku" in tenant
    store = Store(data)
    kept = Tenant(store).settings  # opened without settings (approve-and-post): those served
    store.close()
    assert kept.procurement is True and kept.date_reading == "keep"
    assert kept.cost_permission is False and kept.precision == 2
    assert kept.required == frozenset({("Products", "sku")})


def test_approve_and_post_can_edit_descriptions(tmp_path: Path) -> None:
    data = tmp_path / "tenant.db"
    api, ids = charges_in(data)
    api.runtime.close()
    result = CliRunner().invoke(
        cli, ["approve-and-post", "--data", str(data), "--edit-description", "Licences"]
    )
    assert result.exit_code == 0, result.output
    api = open_tenant(data)
    descriptions = {api.ok("GET", f"/ContractCharges/{i}")["item"]["description"] for i in ids}
    api.runtime.close()
    assert descriptions == {"Licences"}

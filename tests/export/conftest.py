"""A sandbox tenant over real HTTP, a state store and billbridge's settings pointing at both."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from billbridge.autotask import AutotaskClient, F
from billbridge.config import (
    Settings,
)
from billbridge.demo import sandbox_settings
from billbridge.export.apply import ApplyOptions
from billbridge.export.connection import client_from_settings
from billbridge.export.engine import ExportEngine
from billbridge.export.lease import SKU_PREFIX
from billbridge.sandbox import FaultSpec, RunningSandbox, SandboxOptions, start_in_background
from billbridge.sandbox.faults import FaultInjector
from billbridge.store import Store


@dataclass
class Tenant:
    """billbridge wired to one sandbox tenant."""

    sandbox: RunningSandbox
    settings: Settings
    store: Store
    client: AutotaskClient
    workdir: Path

    def engine(self, **options: float) -> ExportEngine:
        apply = ApplyOptions(**options)  # type: ignore[arg-type]
        return ExportEngine(self.store, self.settings, self.client, apply_options=apply)

    def company(self, name: str, *, active: bool = True) -> int:
        owner = next(iter(self.client.query("Resources", [F.eq("isActive", True)])))["id"]
        body = {
            "companyName": name,
            "companyType": self.client.picklist_value("Companies", "companyType", "Customer"),
            "ownerResourceID": owner,
            "phone": "+1 425 555 0100",
            "isActive": active,
        }
        return self.client.create("Companies", body)

    def all(self, entity: str) -> list[dict[str, Any]]:
        """Every record of `entity`; for Products, without billbridge's export lease record."""
        found = list(self.client.query(entity, [F.gte("id", 0)]))
        if entity == "Products":
            found = [p for p in found if not str(p.get("sku") or "").startswith(SKU_PREFIX)]
        return found

    def hand_made_contract(
        self, company: int, name: str, subscription: str | None = None, **fields: object
    ) -> int:
        """A Recurring Service contract as a person makes it in Autotask (its dates typed as
        days, as the UI keeps them)."""
        body: dict[str, object] = {
            "companyID": company,
            "contractName": name,
            "contractType": 7,
            "contractPeriodType": self.client.picklist_value(
                "Contracts", "contractPeriodType", "Monthly"
            ),
            "status": 1,
            "startDate": "2026-03-01T12:00:00Z",
            "endDate": "2027-02-28T12:00:00Z",
            "timeReportingRequiresStartAndStopTimes": 1,
            **fields,
        }
        if subscription is not None:
            body["userDefinedFields"] = [{"name": "Subscription ID", "value": subscription}]
        return self.client.create("Contracts", body)

    def lease_records(self) -> list[dict[str, Any]]:
        return list(self.client.query("Products", [F.begins_with("sku", SKU_PREFIX)]))

    def inject_faults(self, spec: str) -> FaultInjector:
        """Start failing requests from now on (set-up such as companies stays fault-free)."""
        injector = FaultInjector(FaultSpec.parse(spec))
        self.sandbox.runtime.faults = injector
        return injector

    def write_config(self, extra: str = "") -> Path:
        """A billbridge.toml pointing at this tenant and its store, for the CLI."""
        sandbox = self.sandbox
        path = self.workdir / "billbridge.toml"
        path.write_text(
            f'[database]\nurl = "{self.settings.database.url}"\n'
            f'[autotask]\nzone_lookup_url = "{sandbox.zone_lookup_url}"\n'
            f'username = "{sandbox.username}"\n'
            f'secret = "{sandbox.secret}"\nintegration_code = "{sandbox.integration_code}"\n'
            '[export]\nproduct_billing_code = "Microsoft Licensing"\n' + extra
        )
        return path

    def reopen_store(self) -> None:
        self.store.close()
        self.store = Store(self.settings.database.url)


def settings_for(sandbox: RunningSandbox, workdir: Path, **export: object) -> Settings:
    return sandbox_settings(sandbox, f"sqlite:///{workdir / 'billbridge.db'}", **export)


@pytest.fixture
def make_tenant(tmp_path: Path) -> Iterator[Callable[..., Tenant]]:
    opened: list[Tenant] = []

    def make(
        *,
        data: bool = False,
        latency_ms: int = 0,
        sandbox_options: dict[str, object] | None = None,
        timeout_s: float | None = None,
        **export: object,
    ) -> Tenant:
        """A tenant on the strict default sandbox; `sandbox_options` switch its readings and
        modules (`date_reading`, `precision`, `procurement`, `cost_permission`, ...)."""
        options = SandboxOptions(
            port=0,
            data=tmp_path / "sandbox.db" if data else None,
            latency_ms=latency_ms,
            **(sandbox_options or {}),  # type: ignore[arg-type]
        )
        sandbox = start_in_background(options)
        settings = settings_for(sandbox, tmp_path, **export)
        client = client_from_settings(settings)
        if timeout_s is not None:
            client.close()
            client = AutotaskClient(replace(client.config, timeout_s=timeout_s))
        tenant = Tenant(sandbox, settings, Store(settings.database.url), client, tmp_path)
        opened.append(tenant)
        return tenant

    yield make
    for tenant in opened:
        tenant.client.close()
        tenant.store.close()
        tenant.sandbox.stop()


@pytest.fixture
def tenant(make_tenant: Callable[..., Tenant]) -> Tenant:
    return make_tenant()


@pytest.fixture
def cli_tenant(tenant: Tenant, monkeypatch: pytest.MonkeyPatch) -> Tenant:
    """A tenant for CLI tests: its folder is the working directory, with its billbridge.toml
    and no BILLBRIDGE_ variables from the environment."""
    monkeypatch.chdir(tenant.workdir)
    for name in [n for n in os.environ if n.startswith("BILLBRIDGE_")]:
        monkeypatch.delenv(name)
    tenant.write_config()
    return tenant

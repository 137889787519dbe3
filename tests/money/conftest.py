"""Fixtures of the money tests: the export tests' sandbox tenants, reused."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.export.conftest import Tenant, cli_tenant, make_tenant, tenant
from tests.money.world import TYPES, October, build_october

__all__ = ["cli_tenant", "make_tenant", "tenant"]


def use_for_cli(tenant: Tenant, monkeypatch: pytest.MonkeyPatch, settings: str = "") -> None:
    """The tenant's folder as working directory, with its settings file (plus `settings`)
    and no BILLBRIDGE_ variables from the environment."""
    monkeypatch.chdir(tenant.workdir)
    for name in [n for n in os.environ if n.startswith("BILLBRIDGE_")]:
        monkeypatch.delenv(name)
    tenant.write_config(settings)


@pytest.fixture
def october(make_tenant: Callable[..., Tenant], monkeypatch: pytest.MonkeyPatch) -> October:
    """The October world, with the tenant's folder as working directory and its settings
    file (a margin floor of 15 %), for CLI tests."""
    built = build_october(make_tenant(data=True, subscription_types=TYPES))
    types = ",".join(TYPES)
    use_for_cli(
        built.tenant,
        monkeypatch,
        f'subscription_types = "{types}"\n[reconcile]\nmargin_floor = 15\n',
    )
    return built

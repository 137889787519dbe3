"""Fixtures of the money tests: the export tests' sandbox tenants, reused."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.export.conftest import Tenant, cli_tenant, make_tenant, tenant
from tests.money.world import TYPES, October, build_october

__all__ = ["cli_tenant", "make_tenant", "tenant"]


@pytest.fixture
def october(make_tenant: Callable[..., Tenant], monkeypatch: pytest.MonkeyPatch) -> October:
    """The October world, with the tenant's folder as working directory and its settings
    file (a margin floor of 15 %), for CLI tests."""
    built = build_october(make_tenant(data=True, subscription_types=TYPES))
    monkeypatch.chdir(built.tenant.workdir)
    for name in [n for n in os.environ if n.startswith("BILLBRIDGE_")]:
        monkeypatch.delenv(name)
    built.tenant.write_config(
        f'subscription_types = "{",".join(TYPES)}"\n[reconcile]\nmargin_floor = 15\n'
    )
    return built

"""Fixtures of the money tests: the export tests' sandbox tenants, reused."""

from __future__ import annotations

from tests.export.conftest import cli_tenant, make_tenant, tenant

__all__ = ["cli_tenant", "make_tenant", "tenant"]

"""Errors that stop an export before it writes anything."""

from __future__ import annotations


class ExportSetupError(Exception):
    """The settings do not fit the Autotask tenant (missing billing code, UDF, credentials).

    Fatal: nothing is written until the setting or the tenant is fixed.
    """

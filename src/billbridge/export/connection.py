"""The Autotask client of the configured tenant."""

from __future__ import annotations

from collections.abc import Callable

from billbridge.autotask import AutotaskClient, ClientConfig
from billbridge.config import Settings

AUTOTASK_KEYS = ("autotask.username", "autotask.secret", "autotask.integration_code")

ClientFactory = Callable[[Settings], AutotaskClient]
"""Opens a client of the tenant (a context manager): `client_from_settings`, or a test's."""


def client_from_settings(settings: Settings) -> AutotaskClient:
    """A client for the tenant of `settings`; `SettingsError` if credentials are missing."""
    settings.require(*AUTOTASK_KEYS)
    autotask = settings.autotask
    assert autotask.username and autotask.secret and autotask.integration_code
    return AutotaskClient(
        ClientConfig(
            username=autotask.username,
            secret=autotask.secret.get_secret_value(),
            integration_code=autotask.integration_code.get_secret_value(),
            zone_lookup_url=autotask.zone_lookup_url,
            impersonation_resource_id=autotask.impersonation_resource_id,
            threshold_share=autotask.threshold_share,
        )
    )

"""Fixtures of the client tests: a real sandbox over HTTP and clients of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from billbridge.autotask import AutotaskClient, ClientConfig
from billbridge.sandbox import RunningSandbox, SandboxOptions, start_in_background


def sandbox_config(sandbox: RunningSandbox, **overrides: Any) -> ClientConfig:
    return ClientConfig(
        **{
            "username": sandbox.username,
            "secret": sandbox.secret,
            "integration_code": sandbox.integration_code,
            "zone_lookup_url": sandbox.zone_lookup_url,
            **overrides,
        }
    )


@pytest.fixture(scope="session")
def sandbox() -> Iterator[RunningSandbox]:
    with start_in_background(SandboxOptions(port=0)) as running:
        yield running


@pytest.fixture
def make_client(sandbox: RunningSandbox) -> Iterator[Callable[..., AutotaskClient]]:
    made: list[AutotaskClient] = []

    def make(
        target: RunningSandbox | None = None,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        **overrides: Any,
    ) -> AutotaskClient:
        timing: dict[str, Any] = {}
        if sleep is not None:
            timing["sleep"] = sleep
        if clock is not None:
            timing["clock"] = clock
        client = AutotaskClient(sandbox_config(target or sandbox, **overrides), **timing)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., AutotaskClient]) -> AutotaskClient:
    return make_client()

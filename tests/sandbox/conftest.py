"""Fixtures of the sandbox tests: the app in-process, real servers, Autotask's swagger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from billbridge.sandbox import RunningSandbox, SandboxOptions, create_app, start_in_background
from billbridge.sandbox.transport import InProcessTransport
from tests.sandbox.sandbox_helpers import Api, Serve, load_swagger


@pytest.fixture(scope="session")
def swagger() -> dict[str, Any]:
    return load_swagger()


@pytest.fixture
def api() -> Iterator[Api]:
    app = create_app(SandboxOptions(port=0))
    transport = InProcessTransport(app)
    with httpx.Client(transport=transport, base_url="http://sandbox.test") as client:
        yield Api(client, app.state.runtime)
    app.state.runtime.close()


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start a real sandbox server with the given `SandboxOptions` fields; an `Api` over HTTP
    (its `sandbox` attribute is the `RunningSandbox`)."""
    running: list[tuple[RunningSandbox, httpx.Client]] = []

    def start(**options: Any) -> Api:
        sandbox = start_in_background(SandboxOptions(port=0, **options))
        client = httpx.Client(base_url=sandbox.origin, timeout=30.0)
        running.append((sandbox, client))
        api = Api(client, sandbox.runtime)
        api.sandbox = sandbox
        return api

    yield start
    for sandbox, client in running:
        client.close()
        sandbox.stop()

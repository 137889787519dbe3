"""Fixtures of the sandbox tests: the app in-process and Autotask's swagger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from billbridge.sandbox import SandboxOptions, create_app
from billbridge.sandbox.transport import InProcessTransport
from tests.sandbox.sandbox_helpers import Api, load_swagger


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

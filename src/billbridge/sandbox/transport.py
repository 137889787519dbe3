"""Calling the sandbox in-process, without a socket: an httpx transport over the ASGI app.

    app = create_app(SandboxOptions())
    client = httpx.Client(transport=InProcessTransport(app), base_url="http://sandbox.test")

Each request runs the app in its own short event loop, so it suits sequential use (unit tests,
scripts). Concurrency, latency and the thread limit need a real server (`start_in_background`).
"""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import ASGIApp


class InProcessTransport(httpx.BaseTransport):
    """A synchronous httpx transport that hands each request to an ASGI app."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()

        async def run() -> httpx.Response:
            inner = httpx.ASGITransport(app=self._app)
            forwarded = httpx.Request(
                request.method, request.url, headers=request.headers, content=content
            )
            response = await inner.handle_async_request(forwarded)
            body = await response.aread()
            return httpx.Response(
                response.status_code, headers=response.headers, content=body, request=request
            )

        return asyncio.run(run())

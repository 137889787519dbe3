"""Running the sandbox: in a background thread (demo, tests) or in the foreground (CLI)."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx
import uvicorn

from billbridge.sandbox.app import SandboxRuntime, create_app
from billbridge.sandbox.microsoft import PREFIX as MICROSOFT_PREFIX
from billbridge.sandbox.microsoft import MicrosoftEmulator
from billbridge.sandbox.options import SandboxOptions
from billbridge.sandbox.seed import INTEGRATION_CODE, SECRET, USERNAME
from billbridge.sandbox.store import Store, StoreError
from billbridge.sandbox.tenant import Tenant


def uvicorn_config(options: SandboxOptions) -> uvicorn.Config:
    """uvicorn settings of a sandbox: quiet, HTTP/1.1 only, no lifespan."""
    return uvicorn.Config(
        create_app(options),
        host=options.host,
        port=options.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        ws="none",
        timeout_graceful_shutdown=2,
    )


class RunningSandbox:
    """A sandbox served by uvicorn in a daemon thread; `stop()` or use as a context manager."""

    username = USERNAME
    secret = SECRET
    integration_code = INTEGRATION_CODE

    def __init__(self, options: SandboxOptions, timeout_s: float = 20.0) -> None:
        config = uvicorn_config(options)
        self.options = options
        self.app = config.app
        self.runtime: SandboxRuntime = self.app.state.runtime  # type: ignore[union-attr]
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="sandbox", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox did not start on {options.host}:{options.port}")
            time.sleep(0.01)
        socket = self._server.servers[0].sockets[0]
        self.host = options.host
        self.port = int(socket.getsockname()[1])
        self._wait_answering(deadline)

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/atservicesrest` (append `/v1.0/...`)."""
        return f"{self.origin}/atservicesrest"

    @property
    def zone_lookup_url(self) -> str:
        """What `autotask.zone_lookup_url` should be set to."""
        return self.base_url

    # --- microsoft emulator (P) ---
    @property
    def microsoft(self) -> MicrosoftEmulator:
        """The Microsoft emulator (tokens, invoices, billing exports) of this sandbox."""
        return self.runtime.microsoft

    @property
    def microsoft_urls(self) -> dict[str, str]:
        """`partner_center.authority_url`, `graph_url` and `api_url` pointed at the emulator."""
        return microsoft_urls(self.origin)

    # --- end microsoft emulator ---

    def _wait_answering(self, deadline: float) -> None:
        url = f"{self.base_url}/VersionInformation"
        while True:
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the sandbox started but does not answer")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving and close the data file."""
        self._server.should_exit = True
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
        self.runtime.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def microsoft_urls(origin: str) -> dict[str, str]:
    """The Microsoft emulator's roots under a sandbox origin (`http://host:port`)."""
    root = f"{origin}{MICROSOFT_PREFIX}"
    return {
        "authority_url": f"{root}/login",
        "graph_url": f"{root}/graph",
        "api_url": f"{root}/partnercenter",
    }


def start_in_background(options: SandboxOptions | None = None) -> RunningSandbox:
    """Start a sandbox in a thread and wait until it answers."""
    return RunningSandbox(options or SandboxOptions(port=0))


def approve_and_post(
    data: Path, through: date | None = None, *, edit_description: str | None = None
) -> int:
    """Mark the charges of the tenant in `data` purchased on or before `through` (default:
    all) billed, as Autotask's Approve & Post does; returns how many were marked. The tenant's
    settings are those it was last served with (Procurement holds charges back).
    `edit_description`: the text a person typed over each posted charge's description."""
    if not data.exists():
        raise StoreError(f"{data}: no such sandbox data file")
    store = Store(data)
    try:
        return Tenant(store).approve_and_post(through, edit_description=edit_description)
    finally:
        store.close()

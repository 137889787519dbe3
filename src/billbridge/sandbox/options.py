"""How a sandbox is started: address, data file, latency, faults, limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from billbridge.sandbox.faults import FaultSpec
from billbridge.sandbox.microsoft.service import MicrosoftFaults
from billbridge.sandbox.seed import INTEGRATION_CODE, SECRET, USERNAME

__all__ = ["INTEGRATION_CODE", "SECRET", "USERNAME", "SandboxOptions"]


@dataclass(frozen=True)
class SandboxOptions:
    """Options of one sandbox server."""

    host: str = "127.0.0.1"
    port: int = 8765  # 0: any free port
    data: Path | None = None  # SQLite file keeping the tenant; None: in memory
    latency_ms: int = 0  # added to every request
    faults: FaultSpec | None = None
    #: Requests per hour before 429 (Autotask: 10,000 per tenant).
    request_threshold: int = 10_000
    #: The rolling window of `request_threshold`, in minutes (Autotask: 60).
    request_timeframe_minutes: int = 60
    #: Concurrent requests per (integration code, endpoint) (Autotask: 3).
    thread_limit: int = 3
    #: "autotask": wrong secret 401, unknown user or integration code 500 with errors
    #: (reference §2.2); "401": every credential failure an empty 401.
    auth_errors: Literal["autotask", "401"] = "autotask"
    # --- microsoft emulator (P) ---
    #: Partner Center billing files the Microsoft emulator serves (at /microsoft).
    partner_center: tuple[Path, ...] = ()
    #: Its faults (`billbridge.sandbox.microsoft.MicrosoftFaults`); None: none.
    microsoft_faults: MicrosoftFaults | None = None
    # --- end microsoft emulator ---

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be 0..65535")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if min(self.request_threshold, self.request_timeframe_minutes, self.thread_limit) < 1:
            raise ValueError(
                "request_threshold, request_timeframe_minutes and thread_limit must be positive"
            )

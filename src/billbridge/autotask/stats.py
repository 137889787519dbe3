"""Thread-safe request counters, read by tests, benchmarks and `billbridge doctor`."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Counters at one moment."""

    total: int
    retries: int
    by_endpoint: dict[str, int] = field(default_factory=dict)
    by_method: dict[str, int] = field(default_factory=dict)
    by_status: dict[int, int] = field(default_factory=dict)
    peak_in_flight: dict[str, int] = field(default_factory=dict)
    retry_after_waits: int = 0
    slept_s: float = 0.0


class RequestStats:
    """Counts every HTTP request the client sends (attempts, not calls)."""

    def __init__(self, peak_source: Callable[[], dict[str, int]] | None = None) -> None:
        self._peak_source = peak_source
        self._lock = threading.Lock()
        self._total = 0
        self._retries = 0
        self._retry_after_waits = 0
        self._slept_s = 0.0
        self._by_endpoint: Counter[str] = Counter()
        self._by_method: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()

    def request(self, method: str, endpoint: str) -> None:
        with self._lock:
            self._total += 1
            self._by_endpoint[endpoint] += 1
            self._by_method[method.upper()] += 1

    def status(self, status: int) -> None:
        with self._lock:
            self._by_status[status] += 1

    def retry(self, slept_s: float, *, retry_after: bool = False) -> None:
        with self._lock:
            self._retries += 1
            self._slept_s += slept_s
            if retry_after:
                self._retry_after_waits += 1

    @property
    def total(self) -> int:
        with self._lock:
            return self._total

    @property
    def retries(self) -> int:
        with self._lock:
            return self._retries

    @property
    def by_endpoint(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_endpoint)

    @property
    def by_method(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_method)

    @property
    def peak_in_flight(self) -> dict[str, int]:
        """The most requests seen in flight at once, per endpoint."""
        return self._peak_source() if self._peak_source else {}

    def snapshot(self) -> StatsSnapshot:
        peaks = self.peak_in_flight
        with self._lock:
            return StatsSnapshot(
                total=self._total,
                retries=self._retries,
                by_endpoint=dict(self._by_endpoint),
                by_method=dict(self._by_method),
                by_status=dict(self._by_status),
                peak_in_flight=peaks,
                retry_after_waits=self._retry_after_waits,
                slept_s=self._slept_s,
            )

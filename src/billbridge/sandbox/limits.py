"""Autotask's request limits: the hourly threshold and 3 threads per endpoint.

Autotask's help on thread limiting and request thresholds; see docs/sandbox.md.

- Every authenticated request is counted in a rolling window (`timeframe_minutes`, 60); the
  count is what `ThresholdInformation` reports, and a request beyond the threshold gets 429.
- At most `thread_limit` requests may be in flight per (integration code, endpoint), the
  endpoint being the entity the route serves; one more is refused with `Itgenatr005`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


def endpoint_of(path: str, entity: str = "") -> str:
    """The object endpoint of a request: the entity its route serves, else the path's root.

    `/Contracts/5/Charges` serves ContractCharges, so it shares its slots with
    `/ContractCharges/query`, not with `/Contracts`.
    """
    if entity:
        return entity.lower()
    segments = [s for s in path.split("/") if s]
    lowered = [s.lower() for s in segments]
    if "v1.0" in lowered:
        segments = segments[lowered.index("v1.0") + 1 :]
    elif lowered and lowered[0] == "atservicesrest":
        segments = segments[1:]
    return segments[0].lower() if segments else ""


class RequestLimits:
    """Thread-safe counters of requests per timeframe and in flight per endpoint."""

    def __init__(
        self,
        *,
        threshold: int = 10_000,
        timeframe_minutes: int = 60,
        thread_limit: int = 3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.timeframe_minutes = timeframe_minutes
        self.thread_limit = thread_limit
        self._clock = clock
        self._lock = threading.Lock()
        self._times: deque[float] = deque()
        self._in_flight: dict[tuple[str, str], int] = {}
        self.peak_in_flight: dict[tuple[str, str], int] = {}
        self.thread_refusals = 0
        self.threshold_refusals = 0
        self.total_requests = 0

    def _prune(self, now: float) -> None:
        horizon = now - self.timeframe_minutes * 60
        while self._times and self._times[0] <= horizon:
            self._times.popleft()

    def count(self) -> bool:
        """Count one request; False when it is beyond the threshold (answer 429)."""
        with self._lock:
            now = self._clock()
            self._prune(now)
            self._times.append(now)
            self.total_requests += 1
            within = len(self._times) <= self.threshold
            if not within:
                self.threshold_refusals += 1
            return within

    def current_count(self) -> int:
        """Requests in the current timeframe (what `ThresholdInformation` reports)."""
        with self._lock:
            self._prune(self._clock())
            return len(self._times)

    def acquire(self, integration_code: str, endpoint: str) -> bool:
        """Take a thread slot; False (and nothing taken) when the endpoint is full."""
        key = (integration_code.casefold(), endpoint)
        with self._lock:
            current = self._in_flight.get(key, 0)
            if current >= self.thread_limit:
                self.thread_refusals += 1
                return False
            self._in_flight[key] = current + 1
            self.peak_in_flight[key] = max(self.peak_in_flight.get(key, 0), current + 1)
            return True

    def in_flight(self, integration_code: str, endpoint: str) -> int:
        """Requests in flight now on (integration code, endpoint)."""
        with self._lock:
            return self._in_flight.get((integration_code.casefold(), endpoint), 0)

    def release(self, integration_code: str, endpoint: str) -> None:
        """Give a thread slot back."""
        key = (integration_code.casefold(), endpoint)
        with self._lock:
            self._in_flight[key] -= 1

"""The tenant's company list, fetched from Autotask once and kept for a short while.

The organizations pages rank companies for every unlinked organization shown; asking Autotask
for thousands of companies on each page view would spend the tenant's hourly request budget
for nothing, so the list is reused for `ttl_s` seconds (and can be refreshed by hand).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from billbridge.domain.matching import CompanyCandidate


@dataclass(frozen=True, slots=True)
class CompanyList:
    companies: tuple[CompanyCandidate, ...]
    fetched_at: float
    """`time.time()` of the fetch."""

    def by_id(self) -> dict[int, CompanyCandidate]:
        return {c.id: c for c in self.companies}


class CompanyDirectory:
    def __init__(
        self,
        fetch: Callable[[], list[CompanyCandidate]],
        *,
        ttl_s: float = 120.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._clock = clock
        self._cached: CompanyList | None = None
        self._lock = threading.Lock()

    def get(self, *, refresh: bool = False) -> CompanyList:
        """The company list; Autotask's errors (and missing settings) propagate."""
        with self._lock:
            cached = self._cached
            if refresh or cached is None or self._clock() - cached.fetched_at > self._ttl_s:
                cached = CompanyList(tuple(self._fetch()), self._clock())
                self._cached = cached
            return cached

    def forget(self) -> None:
        with self._lock:
            self._cached = None

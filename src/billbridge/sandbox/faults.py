"""Fault injection: `--faults error500=0.05,lost=0.02,throttle=0.02,seed=7`.

- `error500`: the request fails before doing anything (500, ASP.NET's generic body);
- `lost`: a write is performed, then answered with the same generic 500, as if it had failed
  (the case that makes exactly-once export hard);
- `opaque500`: a write is not performed and answered 500 with Autotask's opaque text
  (`An unexpected error has occurred. ... Error ID: N`), as Autotask answers writes that
  fail inside it for reasons it does not tell;
- `slow`: a write is carried out only after `slow_ms` milliseconds (default 35,000) and
  answered after that, whether or not the client still waits: a client with a shorter
  timeout gives up while the write is in flight, and a lookup in that window finds nothing;
- `throttle`: 429 with `Retry-After` (`retry_after` seconds, default 1);
- `seed`: the sequence of faults is repeatable.

Each authenticated request draws two numbers (the first decides `throttle` / `error500`, the
second, for writes, `lost` / `opaque500` / `slow`); `zoneInformation` is never faulted.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Literal

Fault = Literal["throttle", "error500", "lost", "opaque500", "slow"]
_RATES = ("error500", "lost", "throttle", "opaque500", "slow")
_INTEGERS = ("seed", "retry_after", "slow_ms")
DEFAULT_SLOW_MS = 35_000


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """Probabilities of each fault, per request."""

    error500: float = 0.0
    lost: float = 0.0
    throttle: float = 0.0
    opaque500: float = 0.0
    slow: float = 0.0
    seed: int | None = None
    retry_after: int = 1
    slow_ms: int = DEFAULT_SLOW_MS

    def __post_init__(self) -> None:
        for name in _RATES:
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate}")
        if self.error500 + self.throttle > 1.0:
            raise ValueError("error500 + throttle must not exceed 1")
        if self.lost + self.opaque500 + self.slow > 1.0:
            raise ValueError("lost + opaque500 + slow must not exceed 1")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        if self.slow_ms < 0:
            raise ValueError("slow_ms must be >= 0")

    @classmethod
    def parse(cls, spec: str) -> FaultSpec:
        """Parse `error500=0.05,lost=0.02,throttle=0.02,seed=7` (ValueError when malformed).

        Also `opaque500=P`, `slow=P`, `slow_ms=N`, `retry_after=N`."""
        values: dict[str, float | int] = {}
        for raw in spec.split(","):
            item = raw.strip()
            if not item:
                continue
            name, sep, text = item.partition("=")
            name = name.strip().lower()
            if not sep:
                raise ValueError(f"{item!r}: expected NAME=VALUE")
            if name in values:
                raise ValueError(f"{name} is given twice")
            if name in _RATES:
                try:
                    values[name] = float(text)
                except ValueError:
                    raise ValueError(f"{name}: {text.strip()!r} is not a number") from None
            elif name in _INTEGERS:
                try:
                    values[name] = int(text)
                except ValueError:
                    raise ValueError(f"{name}: {text.strip()!r} is not an integer") from None
            else:
                known = ", ".join((*_RATES, *_INTEGERS))
                raise ValueError(f"unknown fault {name!r} (known: {known})")
        if not values:
            raise ValueError("empty fault spec")
        return cls(
            error500=float(values.get("error500", 0.0)),
            lost=float(values.get("lost", 0.0)),
            throttle=float(values.get("throttle", 0.0)),
            opaque500=float(values.get("opaque500", 0.0)),
            slow=float(values.get("slow", 0.0)),
            seed=int(values["seed"]) if "seed" in values else None,
            retry_after=int(values.get("retry_after", 1)),
            slow_ms=int(values.get("slow_ms", DEFAULT_SLOW_MS)),
        )

    def __str__(self) -> str:
        parts = [f"{n}={getattr(self, n)}" for n in _RATES if getattr(self, n)]
        if self.slow:
            parts.append(f"slow_ms={self.slow_ms}")
        if self.seed is not None:
            parts.append(f"seed={self.seed}")
        return ",".join(parts) or "none"


class FaultInjector:
    """Draws the fault (if any) of each request from one seeded generator."""

    def __init__(self, spec: FaultSpec | None) -> None:
        self.spec = spec
        self._rng = random.Random(spec.seed if spec else None)
        self._lock = threading.Lock()
        self.injected: dict[str, int] = dict.fromkeys(_RATES, 0)

    def draw(self, *, write: bool) -> Fault | None:
        """The fault of one request: before it runs (`throttle`, `error500`, `opaque500`),
        delaying it (`slow`) or after it (`lost`)."""
        spec = self.spec
        if spec is None:
            return None
        with self._lock:
            first = self._rng.random()
            second = self._rng.random()
            fault: Fault | None = None
            if first < spec.throttle:
                fault = "throttle"
            elif first < spec.throttle + spec.error500:
                fault = "error500"
            elif write and second < spec.lost:
                fault = "lost"
            elif write and second < spec.lost + spec.opaque500:
                fault = "opaque500"
            elif write and second < spec.lost + spec.opaque500 + spec.slow:
                fault = "slow"
            if fault is not None:
                self.injected[fault] += 1
            return fault

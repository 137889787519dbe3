"""Fault injection: `--faults error500=0.05,lost=0.02,throttle=0.02,seed=7`.

- `error500`: the request fails before doing anything (500, ASP.NET's generic body);
- `lost`: a write is performed, then answered with the same generic 500, as if it had failed
  (the case that makes exactly-once export hard);
- `throttle`: 429 with `Retry-After` (`retry_after` seconds, default 1);
- `seed`: the sequence of faults is repeatable.

Each authenticated request draws one number; `zoneInformation` is never faulted.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Literal

Fault = Literal["throttle", "error500", "lost"]
_RATES = ("error500", "lost", "throttle")


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """Probabilities of each fault, per request."""

    error500: float = 0.0
    lost: float = 0.0
    throttle: float = 0.0
    seed: int | None = None
    retry_after: int = 1

    def __post_init__(self) -> None:
        for name in _RATES:
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate}")
        if self.error500 + self.throttle > 1.0:
            raise ValueError("error500 + throttle must not exceed 1")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")

    @classmethod
    def parse(cls, spec: str) -> FaultSpec:
        """Parse `error500=0.05,lost=0.02,throttle=0.02,seed=7` (ValueError when malformed)."""
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
            elif name in ("seed", "retry_after"):
                try:
                    values[name] = int(text)
                except ValueError:
                    raise ValueError(f"{name}: {text.strip()!r} is not an integer") from None
            else:
                known = ", ".join((*_RATES, "seed", "retry_after"))
                raise ValueError(f"unknown fault {name!r} (known: {known})")
        if not values:
            raise ValueError("empty fault spec")
        return cls(
            error500=float(values.get("error500", 0.0)),
            lost=float(values.get("lost", 0.0)),
            throttle=float(values.get("throttle", 0.0)),
            seed=int(values["seed"]) if "seed" in values else None,
            retry_after=int(values.get("retry_after", 1)),
        )

    def __str__(self) -> str:
        parts = [f"{n}={getattr(self, n)}" for n in _RATES if getattr(self, n)]
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
        """The fault of one request: before it runs (`throttle`, `error500`) or after (`lost`)."""
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
            if fault is not None:
                self.injected[fault] += 1
            return fault

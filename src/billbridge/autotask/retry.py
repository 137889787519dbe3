"""When to send a request again, and how long to wait first.

Only where it is safe: reads, queries and counts on any transient failure; every request on a
429, on a thread-limit refusal, or on a connection that failed before the request was sent.
A create or update that may have reached Autotask is never re-sent here: it surfaces as
`UnknownOutcomeError` (see `errors.py`) for the caller to resolve by key.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from billbridge.autotask.errors import (
    AutotaskConnectionError,
    AutotaskError,
    ServerError,
    ThreadLimitError,
    ThrottledError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter."""

    max_attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 300.0

    def should_retry(self, error: AutotaskError, *, write: bool, attempt: int) -> bool:
        """True when attempt number `attempt` (1-based) failed with `error` and may be repeated."""
        if attempt >= self.max_attempts:
            return False
        if isinstance(error, ThrottledError):
            return error.retry_after is None or error.retry_after <= self.max_retry_after_s
        if isinstance(error, ThreadLimitError):
            return True
        if isinstance(error, AutotaskConnectionError):
            return not error.sent or not write
        if isinstance(error, ServerError):
            return not write
        return False

    def delay(self, error: AutotaskError, *, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt `attempt + 1`: `Retry-After` if given, else backoff."""
        if isinstance(error, ThrottledError) and error.retry_after is not None:
            return error.retry_after
        backoff = min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))
        return backoff / 2 + rng.uniform(0, backoff / 2)

"""Staying inside Autotask's limits (its help on thread limiting and request
thresholds; see docs/autotask.md).

- **Threads.** Autotask allows 3 concurrent requests per integration code and object endpoint
  and refuses a 4th (`Itgenatr005`). `EndpointLimiter` holds at most `max_in_flight` requests
  per endpoint (the entity root of the path: `Contracts/12/Charges` is `contracts`).
- **Retry-After.** `PauseGate` makes every thread wait after a 429 until its `Retry-After`.
- **Hourly threshold.** 10,000 requests per hour are shared by every integration of a tenant.
  `ThresholdGovernor` reads `ThresholdInformation` every `check_every` requests (4 times as
  often near the share), estimates the count in between from its own requests, and paces
  requests so that the tenant total stays under `share` of the threshold: free below
  `share - 10 %`, then increasingly spaced (a shared schedule across threads, up to
  `timeframe / 10 %-of-threshold` seconds a request), and waiting for the window to move on
  when the share is used up.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from billbridge.autotask.errors import AutotaskError, ThrottledError

logger = logging.getLogger(__name__)


#: Child routes whose records are an entity of their own (metadata, validation, thread slots).
CHILD_ENTITIES: dict[tuple[str, str], str] = {
    ("contracts", "charges"): "ContractCharges",
    ("contracts", "services"): "ContractServices",
    ("contracts", "billingrules"): "ContractBillingRules",
    ("companies", "contacts"): "Contacts",
    ("companies", "locations"): "CompanyLocations",
    ("products", "vendors"): "ProductVendors",
    ("products", "tiers"): "ProductTiers",
}


def endpoint_of(url_or_path: str) -> str:
    """The thread-limit endpoint of a request: the entity it acts on, lower case.

    Autotask limits threads per "object endpoint"; a child written through its parent
    (`Contracts/5/Charges`) is taken to be its own object (`contractcharges`), the same one
    `ContractCharges/query` reads. Should a tenant count it against the parent instead, the
    extra concurrency is refused with Autotask's thread-limit error, which is retried safely.
    """
    path = urlsplit(url_or_path).path if "://" in url_or_path else url_or_path
    segments = [s for s in path.split("/") if s]
    lowered = [s.lower() for s in segments]
    if "v1.0" in lowered:
        lowered = lowered[lowered.index("v1.0") + 1 :]
    elif lowered and lowered[0] == "atservicesrest":
        lowered = lowered[1:]
    if not lowered:
        return ""
    if len(lowered) >= 3 and lowered[1].lstrip("-").isdigit():
        child = CHILD_ENTITIES.get((lowered[0], lowered[2]))
        if child is not None:
            return child.lower()
    return lowered[0]


class EndpointLimiter:
    """At most `max_in_flight` requests in flight per endpoint, across threads."""

    def __init__(self, max_in_flight: int) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}
        self._in_flight: dict[str, int] = {}
        self._peak: dict[str, int] = {}

    @contextlib.contextmanager
    def slot(self, endpoint: str) -> Iterator[None]:
        """Hold one of the endpoint's slots for the duration of the block."""
        with self._lock:
            semaphore = self._semaphores.get(endpoint)
            if semaphore is None:
                semaphore = threading.BoundedSemaphore(self.max_in_flight)
                self._semaphores[endpoint] = semaphore
        semaphore.acquire()
        try:
            with self._lock:
                current = self._in_flight.get(endpoint, 0) + 1
                self._in_flight[endpoint] = current
                self._peak[endpoint] = max(self._peak.get(endpoint, 0), current)
            yield
        finally:
            with self._lock:
                self._in_flight[endpoint] -= 1
            semaphore.release()

    def peak(self) -> dict[str, int]:
        """The highest number of concurrent requests seen per endpoint."""
        with self._lock:
            return dict(self._peak)


class PauseGate:
    """A moment before which no request is sent (set from `Retry-After`)."""

    def __init__(self, sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._not_before = 0.0

    def pause(self, seconds: float) -> None:
        """Hold every request for `seconds` from now (a longer pause already set wins)."""
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + seconds)

    def wait(self) -> float:
        """Sleep until the gate opens; return how long was slept."""
        with self._lock:
            remaining = self._not_before - self._clock()
        if remaining > 0:
            self._sleep(remaining)
            return remaining
        return 0.0


@dataclass(frozen=True, slots=True)
class ThresholdInfo:
    """`GET /ThresholdInformation`: the tenant's request count in the current timeframe."""

    external_request_threshold: int
    request_threshold_timeframe: int
    current_timeframe_request_count: int

    @property
    def usage(self) -> float:
        """Share of the threshold used, 0.0 .. 1.0+."""
        if self.external_request_threshold <= 0:
            return 1.0
        return self.current_timeframe_request_count / self.external_request_threshold


class ThresholdGovernor:
    """Paces requests to leave `1 - share` of the hourly threshold to other integrations."""

    SLOW_ZONE = 0.10  # of the threshold, just below the share: requests are spaced out there
    WAIT_STEP_S = 60.0

    def __init__(
        self,
        read: Callable[[], ThresholdInfo],
        *,
        share: float,
        check_every: int,
        check_interval_s: float,
        max_wait_s: float,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self._read = read
        self._share = share
        self._check_every = check_every
        self._check_interval_s = check_interval_s
        self._max_wait_s = max_wait_s
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._info: ThresholdInfo | None = None
        self._read_at = 0.0
        self._since_read = 0
        self._reading = False
        self._settled = threading.Event()  # no reading in flight
        self._settled.set()
        self._next_slot = 0.0
        self.reads = 0
        self.paced_seconds = 0.0

    @property
    def enabled(self) -> bool:
        return self._check_every > 0

    @property
    def last(self) -> ThresholdInfo | None:
        """The last `ThresholdInformation` read."""
        with self._lock:
            return self._info

    def read_now(self) -> ThresholdInfo:
        """Read `ThresholdInformation` now; requests sent meanwhile go on with the estimate."""
        with self._lock:
            self._reading = True
            self._settled.clear()
        try:
            info = self._read()
            self.observe(info)
        finally:
            self._settle()
        return info

    def recent(self, after: int) -> ThresholdInfo:
        """The last reading, with the requests this client sent since counted in, if it was
        taken after the first `after` readings (`reads` when the caller began); otherwise a
        new reading. (An export has the threshold read with its first request, a moment
        before it needs an estimate: a second reading would cost a round trip for nothing.)"""
        self._settled.wait(timeout=60.0)  # a reading in flight is as recent as any
        with self._lock:
            info = self._info
            if info is not None and self.reads > after:
                count = info.current_timeframe_request_count + self._since_read
                return replace(info, current_timeframe_request_count=count)
        return self.read_now()

    def observe(self, info: ThresholdInfo) -> None:
        """Take a fresh reading (also used by `AutotaskClient.threshold()`)."""
        with self._lock:
            self._info = info
            self._read_at = self._clock()
            self._since_read = 0
            self.reads += 1

    def before_request(self) -> None:
        """Called before each request: refresh the reading when due, then pace or wait."""
        if not self.enabled:
            with self._lock:
                self._since_read += 1  # still counted: `recent` adds them to the last reading
            return
        waited = 0.0
        while True:
            self._refresh_if_due(force=waited > 0)
            delay, exhausted = self._plan()
            if not exhausted:
                break
            if waited >= self._max_wait_s:
                raise ThrottledError(
                    f"billbridge's share ({self._share:.0%}) of the hourly Autotask threshold "
                    "is used up",
                    retry_after=self.WAIT_STEP_S,
                )
            logger.warning(
                "Autotask hourly threshold share used up; waiting %.0fs", self.WAIT_STEP_S
            )
            self._sleep(self.WAIT_STEP_S)
            waited += self.WAIT_STEP_S
        if delay > 0:
            self.paced_seconds += delay
            self._sleep(delay)

    def _refresh_if_due(self, *, force: bool) -> None:
        with self._lock:
            info = self._info
            due = (
                force
                or info is None
                or self._since_read >= self._check_every
                or self._clock() - self._read_at >= self._check_interval_s
                or (self._in_slow_zone(info) and self._since_read >= max(1, self._check_every // 4))
            )
            # One reading at a time: the others go on with the estimate (none at the very
            # start, when the whole share is still free).
            if not due or self._reading:
                return
            self._reading = True
            self._settled.clear()
            first = info is None and not force
        if first:
            # Nothing is known yet and the share is presumably free: the first reading goes
            # on beside the request that asked for it rather than a round trip before it.
            threading.Thread(target=self._refresh_beside, name="threshold", daemon=True).start()
            return
        self._refresh(fatal_raises=True)

    def _refresh_beside(self) -> None:
        try:
            self._refresh()
        except Exception as exc:  # noqa: BLE001 - e.g. the client closed meanwhile: no reading
            logger.debug("ThresholdInformation not read: %s", type(exc).__name__)

    def wait_for_reading(self, timeout_s: float) -> None:
        """Until no reading is in flight (one going on beside a request), at most `timeout_s`."""
        self._settled.wait(timeout=timeout_s)

    def _refresh(self, *, fatal_raises: bool = False) -> None:
        try:
            self.observe(self._read())
        except AutotaskError as exc:
            if fatal_raises and not exc.retriable:
                raise
            logger.info("could not read ThresholdInformation: %s", exc)
        finally:
            self._settle()

    def _settle(self) -> None:
        with self._lock:
            self._reading = False
        self._settled.set()

    def _in_slow_zone(self, info: ThresholdInfo) -> bool:
        threshold = info.external_request_threshold
        used = info.current_timeframe_request_count + self._since_read
        return used >= (self._share - self.SLOW_ZONE) * threshold

    def _plan(self) -> tuple[float, bool]:
        """(delay before this request, share exhausted) under the current estimate."""
        with self._lock:
            info = self._info
            if info is None:
                self._since_read += 1
                return 0.0, False
            threshold = max(1, info.external_request_threshold)
            budget = self._share * threshold
            used = info.current_timeframe_request_count + self._since_read
            headroom = budget - used
            if headroom <= 0:
                return 0.0, True
            self._since_read += 1
            zone = self.SLOW_ZONE * threshold
            if headroom >= zone:
                return 0.0, False
            timeframe_s = max(1, info.request_threshold_timeframe) * 60.0
            spacing = (1.0 - headroom / zone) * timeframe_s / zone
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + spacing
            return slot - now, False


@dataclass(frozen=True, slots=True)
class BudgetEstimate:
    """How the hourly budget bounds an export of `requests` requests (a pure estimate).

    billbridge may use `share` of the tenant's threshold, counted with every other
    integration's requests. Below `share - 10 %` nothing waits; in the last 10 % requests are
    spaced out (`ThresholdGovernor`); past the share, each further `budget` requests wait for
    the rolling window to forget a timeframe's worth of earlier ones.
    """

    requests: int
    threshold: int
    timeframe_minutes: int
    share: float
    used: int
    """Requests the whole tenant made in the current timeframe."""
    wait_s: float
    """Seconds spent waiting for the budget (pacing and full windows), not request time."""

    @property
    def budget(self) -> int:
        """Requests billbridge may use per timeframe, counting the tenant's other requests."""
        return int(self.share * self.threshold)

    @property
    def available_now(self) -> int:
        return max(0, self.budget - self.used)

    @property
    def fits(self) -> bool:
        """True when no request has to wait."""
        return self.wait_s == 0

    def describe(self) -> str:
        """One sentence for `plan`: the requests, the budget, and how long it makes it take."""
        head = (
            f"about {self.requests:,} Autotask requests; billbridge may use {self.share:.0%} of"
            f" the tenant's {self.threshold:,} an {_window(self.timeframe_minutes)}"
            f" ({self.used:,} used now)"
        )
        if self.fits:
            return f"{head}: no waiting for the budget"
        return (
            f"{head}: about {_duration(self.wait_s)} of waiting for the budget; an interrupted"
            " export goes on where it stopped when run again"
        )


def estimate_budget(info: ThresholdInfo, requests: int, share: float) -> BudgetEstimate:
    """The wait an export of `requests` requests faces under `info`, paced as the client paces."""
    threshold = max(1, info.external_request_threshold)
    timeframe_s = max(1, info.request_threshold_timeframe) * 60.0
    budget = share * threshold
    zone = ThresholdGovernor.SLOW_ZONE * threshold
    headroom = budget - info.current_timeframe_request_count
    wait = 0.0
    now_count = max(0, min(requests, int(headroom))) if headroom > 0 else 0
    # Requests sent with headroom h < zone wait (1 - h / zone) * timeframe / zone each.
    first, last = headroom - now_count + 1, min(headroom, zone)
    if now_count and first <= last:
        count = last - first + 1
        spaced = count - (first + last) * count / (2 * zone)
        wait += max(0.0, spaced) * timeframe_s / zone
    later = requests - now_count
    if later > 0:
        wait += later / budget * timeframe_s
    return BudgetEstimate(
        requests=requests,
        threshold=info.external_request_threshold,
        timeframe_minutes=info.request_threshold_timeframe,
        share=share,
        used=info.current_timeframe_request_count,
        wait_s=round(wait, 1),
    )


def _window(minutes: int) -> str:
    return "hour" if minutes == 60 else f"{minutes}-minute window"


def _duration(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"

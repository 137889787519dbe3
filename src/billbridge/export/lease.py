"""The export lease: one installation exports to a tenant at a time.

Autotask has no idempotency key and no unique constraint on a UDF, so two installations (two
machines, or a laptop beside the server, each with its own state store) exporting at once
would both find a key absent and both create it. The store's lock cannot see the other
installation; the tenant can. Each installation owns one record in the tenant: an inactive
product with the sku `billbridge-lease-<installation id>` (the id is kept in the state
store), whose description says whether it holds the lease and until when.

To take the lease an installation stamps its record `held` until now + `export.lease_s`, then
reads every lease record again. If another installation's record is `held` and not expired,
it withdraws its own stamp and gives way. Of two installations that stamp at once, the later
to stamp always sees the earlier one's stamp, so at most one goes on (both may give way; each
then tries again after a random pause). An installation that crashed leaves its stamp, which
simply expires. The lease is renewed while the export runs and released at its end, stamped
`free since` that moment: an export whose plan was read after every other installation's
release needs no second read once it holds the lease.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from billbridge.autotask import AutotaskClient, AutotaskError, F, UnknownOutcomeError
from billbridge.export.entities import PRODUCTS
from billbridge.export.errors import ExportSetupError, LeaseBusyError
from billbridge.export.tenant import TenantContext

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

SKU_PREFIX = "billbridge-lease-"
"""Followed by the installation id without dashes: 49 characters, within the sku's 50."""
_STAMP = re.compile(
    r"\[billbridge lease (?P<state>held|free)(?: until=(?P<until>[^\]\s]+))?"
    r"(?: since=(?P<since>[^\]\s]+))?\]"
)
_TIME = "%Y-%m-%dT%H:%M:%SZ"
_FIELDS = ("id", "sku", "description")
_STAMP_ATTEMPTS = 4
LEASE_REQUESTS = 4
"""Requests an uncontended lease costs at most: read, stamp, read again, release."""


@dataclass(frozen=True, slots=True)
class Claim:
    product_id: int
    installation: str
    held_until: datetime | None
    """None: the installation does not hold the lease."""
    free_since: datetime | None = None
    """When it released the lease (None: never released it in order, e.g. it crashed)."""

    def live(self, now: datetime) -> bool:
        return self.held_until is not None and self.held_until > now


class TenantLease:
    """The lease of one installation; `acquire`, `renew_if_due` while exporting, `release`."""

    def __init__(
        self,
        client: AutotaskClient,
        tenant: TenantContext | Future[TenantContext],
        installation: str,
        *,
        duration_s: float = 900.0,
        attempts: int = 3,
        record_absent: bool = False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._tenant = tenant
        self.installation = installation.replace("-", "").casefold()
        self._duration = timedelta(seconds=duration_s)
        self._attempts = attempts
        self._record_absent = record_absent
        self._clock = clock
        self._pause = pause
        self._product_id: int | None = None
        self._held_until: datetime | None = None
        self._others: list[Claim] = []

    @property
    def acquire_requests(self) -> int:
        """Requests an uncontended `acquire` costs."""
        return 2 if self._record_absent else 3

    def acquire(self) -> None:
        """Hold the lease, or raise `LeaseBusyError` naming the installation that holds it.

        The first read finds this installation's record and spares a stamp when another
        installation holds the lease; it is skipped when the record cannot exist yet (an
        installation made for this export): the read after the stamp decides either way."""
        for attempt in range(1, self._attempts + 1):
            skip_read = attempt == 1 and self._record_absent
            holder = None if skip_read else self._other_holder()
            if holder is None:
                self._stamp(held=True)
                holder = self._other_holder()
                if holder is None:
                    logger.info("export lease held until %s", self._held_until)
                    return
                self._stamp(held=False)
            if attempt < self._attempts:
                self._pause(random.uniform(0.2, 1.5))
        assert holder is not None and holder.held_until is not None
        raise LeaseBusyError(
            f"another billbridge installation ({holder.installation}) is exporting to this"
            f" Autotask tenant (its lease, product {holder.product_id}, lasts until"
            f" {holder.held_until:%Y-%m-%d %H:%M:%S} UTC unless it finishes first)"
        )

    def quiet_since(self, moment: datetime) -> bool:
        """Whether no other installation can have written since `moment`: each released the
        lease in order before it (every export that writes holds the lease)."""
        # Stamps are to the second: a release stamped in the second of `moment` may be after it.
        return all(
            c.held_until is None
            and c.free_since is not None
            and c.free_since + timedelta(seconds=1) <= moment
            for c in self._others
        )

    def renew_if_due(self) -> None:
        """Extend the lease when less than half of it is left."""
        if self._held_until is None:
            return
        if self._held_until - self._clock() < self._duration / 2:
            try:
                self._stamp(held=True)
            except AutotaskError as exc:  # tried again at the next beat; the writes go on
                logger.warning("could not renew the export lease: %s", exc)

    def release(self) -> None:
        if self._held_until is not None and self._product_id is not None:
            try:
                self._stamp(held=False)
            except AutotaskError:  # it expires by itself; the export's result matters more
                logger.warning("could not release the export lease; it expires by itself")

    # -- records ------------------------------------------------------------------------------

    def _claims(self) -> list[Claim]:
        found = self._client.query(
            PRODUCTS.route, [F.begins_with("sku", SKU_PREFIX)], include_fields=_FIELDS
        )
        return [c for c in (_claim(r) for r in found) if c is not None]

    def _other_holder(self) -> Claim | None:
        now = self._clock()
        claims = self._claims()
        for claim in claims:
            if claim.installation == self.installation:
                self._product_id = min(self._product_id or claim.product_id, claim.product_id)
        self._others = [c for c in claims if c.installation != self.installation]
        live = [c for c in self._others if c.live(now)]
        return min(live, key=lambda c: c.product_id) if live else None

    def _stamp(self, *, held: bool) -> None:
        """Write the stamp. A write whose outcome is unknown is written again, the record
        looked up first when it was a creation (a stamp written twice is the same stamp)."""
        for attempt in range(1, _STAMP_ATTEMPTS + 1):
            try:
                self._write_stamp(held=held)
                return
            except UnknownOutcomeError:
                if attempt == _STAMP_ATTEMPTS:
                    raise
                if self._product_id is None:
                    self._other_holder()  # finds this installation's record if it was created
                logger.info("the export lease's stamp may not have been written; writing again")

    def _write_stamp(self, *, held: bool) -> None:
        now = self._clock()
        until = now + self._duration if held else None
        state = f"held until={until:{_TIME}}" if until else f"free since={now:{_TIME}}"
        description = (
            "Used by billbridge so that one installation exports at a time; do not sell or"
            f" delete. [billbridge lease {state}]"
        )
        if self._product_id is None:
            tenant = (
                self._tenant if isinstance(self._tenant, TenantContext) else self._tenant.result()
            )
            body: dict[str, Any] = {
                "name": "billbridge export lease",
                "sku": f"{SKU_PREFIX}{self.installation}",
                "description": description,
                "productBillingCodeID": tenant.billing_code_id,
                "unitCost": 0,
                "unitPrice": 0,
                "isActive": False,
                "isSerialized": False,
                **tenant.product_extras(),
            }
            self._product_id = self._client.create(PRODUCTS.route, body)
        else:
            self._client.update(
                PRODUCTS.route, {"id": self._product_id, "description": description}
            )
        self._held_until = until


def _claim(record: dict[str, Any]) -> Claim | None:
    sku = str(record.get("sku") or "")
    if not sku.casefold().startswith(SKU_PREFIX):
        return None
    match = _STAMP.search(str(record.get("description") or ""))
    if match is None:
        return Claim(int(record["id"]), sku[len(SKU_PREFIX) :].casefold(), None)
    until = _time(match["until"]) if match["state"] == "held" else None
    since = _time(match["since"]) if match["state"] == "free" else None
    return Claim(int(record["id"]), sku[len(SKU_PREFIX) :].casefold(), until, since)


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text, _TIME).replace(tzinfo=UTC)
    except ValueError:
        return None


def acquire_in_background(lease: TenantLease) -> Future[TenantLease]:
    """`lease.acquire()` on a thread of its own; the future holds the lease or the error."""

    def acquire() -> TenantLease:
        lease.acquire()
        return lease

    return _on_own_thread(acquire, "lease")


def release_in_background(lease: TenantLease | None) -> Future[None] | None:
    """`lease.release()` on a thread of its own; `wait_released` waits for it."""
    return None if lease is None else _on_own_thread(lease.release, "lease-release")


def wait_released(lease: TenantLease | None, releasing: Future[None] | None) -> None:
    """The lease released: by the release started in the background, or now if none was
    (the export stopped before its last write)."""
    if releasing is not None:
        releasing.result()
    elif lease is not None:
        lease.release()


def give_back(early: Future[TenantLease] | None) -> None:
    """Release a lease taken in the background by an export that stopped before using it."""
    if early is None:
        return
    try:
        lease = early.result()
    except Exception:  # noqa: BLE001 - not taken (the export stops for its own reason)
        return
    lease.release()


def tell(tenant: Future[TenantContext], outcome: TenantContext | BaseException | None) -> None:
    """Settle the tenant a background lease waits for (once: later outcomes are ignored). No
    tenant, or an error, stops the lease before it writes anything."""
    if tenant.done():
        return
    if isinstance(outcome, TenantContext):
        tenant.set_result(outcome)
    else:
        tenant.set_exception(outcome or ExportSetupError("no organization to export"))


def _on_own_thread(work: Callable[[], _T], name: str) -> Future[_T]:
    """Run `work` on a daemon thread; the future holds its result or its error."""
    future: Future[_T] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future

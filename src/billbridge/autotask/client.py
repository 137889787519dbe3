"""`AutotaskClient`: a synchronous, thread-safe client of the Autotask REST API.

Every request goes through `_execute`, which resolves the zone, paces against the hourly
threshold, waits out a `Retry-After`, holds one of the endpoint's 3 slots while the request is
in flight, maps the answer to an exception (`errors.error_from_response`) and retries only
what is safe to retry (`retry.RetryPolicy`). Writes are never re-sent once they may have
reached Autotask: the caller gets `UnknownOutcomeError` and resolves it by key.

Routes follow Autotask's swagger: queries are `POST /{Entity}/query` (paged by `nextPageUrl`),
updates `PATCH /{Entity}` with the id in the body, and children such as contract charges are
written only through their parent, `POST|PATCH /Contracts/{id}/Charges`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

from billbridge.autotask.config import ClientConfig
from billbridge.autotask.errors import (
    AuthenticationError,
    AutotaskError,
    ClientUsageError,
    ProtocolError,
    ThrottledError,
    UnknownOutcomeError,
    error_from_response,
    error_from_transport,
)
from billbridge.autotask.metadata import EntityInfo, FieldInfo, MetadataCache, UdfInfo
from billbridge.autotask.paging import Paginator
from billbridge.autotask.query import Condition, Filter, Scalar, batches, build_query
from billbridge.autotask.retry import RetryPolicy
from billbridge.autotask.stats import RequestStats
from billbridge.autotask.throttle import (
    CHILD_ENTITIES,
    BudgetEstimate,
    EndpointLimiter,
    PauseGate,
    ThresholdGovernor,
    ThresholdInfo,
    endpoint_of,
    estimate_budget,
)
from billbridge.autotask.wire import decode_json, encode_json
from billbridge.autotask.zone import ZoneInfo, ZoneResolver

logger = logging.getLogger(__name__)

_ENTITY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
#: Entities whose writes Autotask lets an API user make on behalf of a resource, from the
#: index of REST entities (`_EntitiesOverview.htm`, as transcribed by the n8n Autotask node's
#: `helpers/impersonation.ts`). Contracts and contract charges are not among them: on those the
#: header is left out rather than risk Autotask refusing the write.
IMPERSONATION_ENTITIES = frozenset(
    {
        "attachmentinfo",
        "companies",
        "companynotes",
        "companytodos",
        "contacts",
        "contractnotes",
        "configurationitems",
        "configurationitemnotes",
        "inventoryitems",
        "inventorylocations",
        "opportunities",
        "products",
        "productnotes",
        "projects",
        "projectnotes",
        "purchaseorders",
        "quotes",
        "salesorders",
        "servicecalls",
        "subscriptions",
        "tasknotes",
        "tickets",
        "ticketnotes",
        "timeentries",
    }
)
_MAX_URL_IN_ERRORS = 200


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """`GET /Version`."""

    major_version: str
    minor_version: str
    build: str


class AutotaskClient:
    """Talks to one Autotask tenant. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(config.timeout_s),
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "billbridge"},
        )
        self._limiter = EndpointLimiter(config.max_in_flight_per_endpoint)
        self.stats = RequestStats(self._limiter.peak)
        self._pause = PauseGate(sleep, clock)
        self._retry = RetryPolicy(
            max_attempts=config.max_attempts,
            base_delay_s=config.backoff_base_s,
            max_delay_s=config.backoff_max_s,
            max_retry_after_s=config.max_retry_after_s,
        )
        self._zone = ZoneResolver(self._fetch_zone, config.zone_lookup_url, config.username)
        self._early_zone: threading.Thread | None = None
        self._metadata = MetadataCache(lambda path: self._execute("GET", path))
        self._governor = ThresholdGovernor(
            self._read_threshold,
            share=config.threshold_share,
            check_every=config.threshold_check_every,
            check_interval_s=config.threshold_check_interval_s,
            max_wait_s=config.threshold_max_wait_s,
            sleep=sleep,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"AutotaskClient(username={self.config.username!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connections (after a threshold reading or an early zone lookup
        still in flight, briefly)."""
        self._governor.wait_for_reading(timeout_s=2.0)
        if self._early_zone is not None:
            self._early_zone.join(timeout=2.0)
        self._http.close()

    # -- reading -----------------------------------------------------------------------------

    def query(
        self,
        entity: str,
        filters: Sequence[Filter] = (),
        *,
        include_fields: Sequence[str] | None = None,
        max_records: int = 500,
    ) -> Iterator[dict[str, Any]]:
        """Every record matching all `filters`, page after page (validated before sending)."""
        _check_entity(entity)
        body = build_query(filters, max_records=max_records, include_fields=include_fields)
        return self._records(entity, body)

    def query_in(
        self,
        entity: str,
        field: str,
        values: Iterable[Scalar],
        *,
        udf: bool = False,
        extra: Sequence[Filter] = (),
        batch_size: int = 200,
    ) -> Iterator[dict[str, Any]]:
        """Records whose `field` is one of `values`: one query per batch of `batch_size`."""
        _check_entity(entity)
        bodies = [
            build_query([Condition("in", field, chunk, udf=udf), *extra])
            for chunk in batches(values, batch_size)
        ]

        def records() -> Iterator[dict[str, Any]]:
            for body in bodies:
                yield from self._records(entity, body)

        return records()

    def query_in_all(
        self,
        entity: str,
        field: str,
        values: Iterable[Scalar],
        *,
        udf: bool = False,
        extra: Sequence[Filter] = (),
        batch_size: int = 200,
    ) -> list[dict[str, Any]]:
        """`query_in`, every batch read at once (as many at a time as the endpoint's slots
        allow) instead of one after another; the records in the order of the batches."""
        _check_entity(entity)
        bodies = [
            build_query([Condition("in", field, chunk, udf=udf), *extra])
            for chunk in batches(values, batch_size)
        ]
        if len(bodies) <= 1:
            return [record for body in bodies for record in self._records(entity, body)]
        self.zone()  # resolved once, before the batches start together
        workers = min(len(bodies), self.config.max_in_flight_per_endpoint)
        with ThreadPoolExecutor(workers, thread_name_prefix="query") as pool:
            pages = list(pool.map(lambda body: list(self._records(entity, body)), bodies))
        return [record for page in pages for record in page]

    def count(self, entity: str, filters: Sequence[Filter] = ()) -> int:
        """`POST /{Entity}/query/count`."""
        _check_entity(entity)
        body = build_query(filters, max_records=None)
        answer = self._execute("POST", f"{entity}/query/count", body=body)
        value = _ci_get(answer, "queryCount")
        if not isinstance(value, int) or isinstance(value, bool):
            raise ProtocolError("query/count answered without queryCount")
        return value

    def get(self, entity: str, item_id: int) -> dict[str, Any] | None:
        """`GET /{Entity}/{id}`: the record, or None when Autotask answers `{"item": null}`."""
        _check_entity(entity)
        answer = self._execute("GET", f"{entity}/{_check_id(item_id)}")
        item = _ci_get(answer, "item")
        return item if isinstance(item, dict) else None

    def children(self, parent: str, parent_id: int, child: str) -> Iterator[dict[str, Any]]:
        """`GET /{Parent}/{id}/{Child}`: every child of one parent (paged)."""
        _check_entity(parent)
        _check_entity(child)
        first = f"{parent}/{_check_id(parent_id)}/{child}"
        paginator = Paginator(
            lambda url: self._page("GET", url, None), first, origin=self._origin()
        )

        def records() -> Iterator[dict[str, Any]]:
            for page in paginator:
                yield from page

        return records()

    # -- writing -----------------------------------------------------------------------------

    def create(self, entity: str, body: Mapping[str, Any]) -> int:
        """`POST /{Entity}`; returns the new id."""
        _check_entity(entity)
        self._check_body(entity, body)
        return self._write("POST", entity, body)

    def create_child(self, parent: str, parent_id: int, child: str, body: Mapping[str, Any]) -> int:
        """`POST /{Parent}/{id}/{Child}`, e.g. `("Contracts", 12, "Charges")`; returns the id."""
        _check_entity(parent)
        _check_entity(child)
        self._check_child_body(parent, child, body)
        return self._write("POST", f"{parent}/{_check_id(parent_id)}/{child}", body)

    def update(self, entity: str, body: Mapping[str, Any]) -> int:
        """`PATCH /{Entity}` with the id in the body: only the given fields change."""
        _check_entity(entity)
        _require_id(body)
        self._check_body(entity, body)
        return self._write("PATCH", entity, body)

    def update_child(self, parent: str, parent_id: int, child: str, body: Mapping[str, Any]) -> int:
        """`PATCH /{Parent}/{id}/{Child}` with the child's id in the body."""
        _check_entity(parent)
        _check_entity(child)
        _require_id(body)
        self._check_child_body(parent, child, body)
        return self._write("PATCH", f"{parent}/{_check_id(parent_id)}/{child}", body)

    def delete_child(self, parent: str, parent_id: int, child: str, item_id: int) -> int:
        """`DELETE /{Parent}/{id}/{Child}/{id}`."""
        _check_entity(parent)
        _check_entity(child)
        path = f"{parent}/{_check_id(parent_id)}/{child}/{_check_id(item_id)}"
        return self._item_id(self._execute("DELETE", path, write=True), "DELETE", path)

    # -- metadata and status -----------------------------------------------------------------

    def entity_info(self, entity: str) -> EntityInfo:
        """`GET /{Entity}/entityInformation` (cached)."""
        _check_entity(entity)
        return self._metadata.entity_info(entity)

    def fields(self, entity: str) -> list[FieldInfo]:
        """`GET /{Entity}/entityInformation/fields` (cached)."""
        _check_entity(entity)
        return self._metadata.fields(entity)

    def udfs(self, entity: str) -> list[UdfInfo]:
        """`GET /{Entity}/entityInformation/userDefinedFields` (cached)."""
        _check_entity(entity)
        return self._metadata.udfs(entity)

    def picklist_value(self, entity: str, field: str, label_or_value: str | int) -> int | str:
        """The value of a picklist label (or a checked value): `("Contracts", "contractType",
        "Recurring Service")` -> 7. Raises `PicklistError` for an unknown or inactive one."""
        _check_entity(entity)
        return self._metadata.picklist_value(entity, field, label_or_value)

    def udf_picklist_value(self, entity: str, udf: str, label_or_value: str | int) -> str:
        """The value of a picklist UDF's label."""
        _check_entity(entity)
        return self._metadata.udf_picklist_value(entity, udf, label_or_value)

    def threshold(self) -> ThresholdInfo:
        """`GET /ThresholdInformation` now (also feeds the pacing)."""
        return self._governor.read_now()

    def budget(self, requests: int, *, read_after: int | None = None) -> BudgetEstimate:
        """How long the hourly budget makes `requests` requests take, from a new reading of
        `ThresholdInformation`, or from one taken since `threshold_reads` was `read_after`,
        and this client's `threshold_share`."""
        info = self.threshold() if read_after is None else self._governor.recent(read_after)
        return estimate_budget(info, requests, self.config.threshold_share)

    @property
    def threshold_reads(self) -> int:
        """How many times this client has read `ThresholdInformation`."""
        return self._governor.reads

    def zone(self) -> ZoneInfo:
        """The API user's zone (looked up once, then cached)."""
        return self._zone.get()

    def look_up_zone_early(self) -> None:
        """Start the zone lookup on a thread of its own, while the caller gets ready (imports,
        the state store): the first request then finds the zone known, one round trip
        sooner. Autotask does not count the lookup. A failed lookup is only logged here; the
        first request looks the zone up again and raises what it finds."""

        def look_up() -> None:
            try:
                self._zone.get()
            except Exception as exc:  # noqa: BLE001 - raised again by the first request
                logger.debug("early zone lookup failed: %s", type(exc).__name__)

        self._early_zone = threading.Thread(target=look_up, name="zone", daemon=True)
        self._early_zone.start()

    def version(self) -> VersionInfo:
        """`GET /Version`: a cheap credentials probe."""
        answer = self._execute("GET", "Version")
        return VersionInfo(
            major_version=str(_ci_get(answer, "majorVersion") or ""),
            minor_version=str(_ci_get(answer, "minorVersion") or ""),
            build=str(_ci_get(answer, "build") or ""),
        )

    # -- internals ---------------------------------------------------------------------------

    def _origin(self) -> str:
        return self._zone.get().api_base

    def _records(self, entity: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        paginator = Paginator(
            lambda url: self._page("POST", url, body), f"{entity}/query", origin=self._origin()
        )
        for page in paginator:
            yield from page

    def _page(self, method: str, url: str, body: object) -> Mapping[str, Any]:
        answer = self._execute(method, url, body=body)
        if not isinstance(answer, dict):
            raise ProtocolError("query answered without a JSON object", method=method)
        return answer

    def _check_body(self, entity: str, body: Mapping[str, Any]) -> None:
        if not isinstance(body, Mapping):
            raise ClientUsageError("a body must be a mapping of field names to values")
        if self.config.validate_picklists:
            self._metadata.check_picklists(entity, body)

    def _check_child_body(self, parent: str, child: str, body: Mapping[str, Any]) -> None:
        entity = CHILD_ENTITIES.get((parent.lower(), child.lower()))
        if entity is not None:
            self._check_body(entity, body)
        elif not isinstance(body, Mapping):
            raise ClientUsageError("a body must be a mapping of field names to values")

    def _write(self, method: str, path: str, body: Mapping[str, Any]) -> int:
        return self._item_id(self._execute(method, path, body=dict(body), write=True), method, path)

    def _item_id(self, answer: Any, method: str, path: str) -> int:
        value = _ci_get(answer, "itemId")
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise UnknownOutcomeError(
                "Autotask accepted the write but answered without an itemId",
                method=method,
                url=path,
            )
        return value

    def _read_threshold(self) -> ThresholdInfo:
        answer = self._execute("GET", "ThresholdInformation", governed=False)
        try:
            return ThresholdInfo(
                external_request_threshold=int(_ci_get(answer, "externalRequestThreshold")),
                request_threshold_timeframe=int(_ci_get(answer, "requestThresholdTimeframe")),
                current_timeframe_request_count=int(
                    _ci_get(answer, "currentTimeframeRequestCount")
                ),
            )
        except (TypeError, ValueError) as exc:
            raise ProtocolError("ThresholdInformation answered an unexpected shape") from exc

    def _fetch_zone(self, url: str) -> Any:
        return self._execute("GET", url, authenticated=False, governed=False)

    def _redact(self, text: str) -> str:
        secret = self.config.secret
        return text.replace(secret, "[redacted]") if secret else text

    def _safe_url(self, url: str) -> str:
        text = self._redact(url)
        return text if len(text) <= _MAX_URL_IN_ERRORS else text[: _MAX_URL_IN_ERRORS - 3] + "..."

    def _headers(
        self, endpoint: str, *, write: bool, authenticated: bool, has_body: bool
    ) -> dict[str, str]:
        headers: dict[str, str] = {}
        if authenticated:
            headers["ApiIntegrationCode"] = self.config.integration_code
            headers["UserName"] = self.config.username
            headers["Secret"] = self.config.secret
            # Only writes impersonate: a query run as a resource with narrower rights would
            # silently miss records (restricted data is omitted, not refused), and a missed key
            # means a duplicate. Only on entities that support it.
            if (
                write
                and self.config.impersonation_resource_id is not None
                and endpoint in IMPERSONATION_ENTITIES
            ):
                headers["ImpersonationResourceId"] = str(self.config.impersonation_resource_id)
        if has_body:
            headers["Content-Type"] = "application/json"
        return headers

    def _send(
        self, method: str, url: str, *, body: object, write: bool, authenticated: bool
    ) -> httpx.Response:
        endpoint = endpoint_of(url)
        content = None if body is None else encode_json(body)
        headers = self._headers(
            endpoint, write=write, authenticated=authenticated, has_body=body is not None
        )
        slot = self._limiter.slot(endpoint) if authenticated else contextlib.nullcontext()
        with slot:
            self.stats.request(method, endpoint)
            started = time.perf_counter()
            try:
                response = self._http.request(method, url, content=content, headers=headers)
            except httpx.TransportError as exc:
                logger.debug("%s %s failed: %s", method, self._safe_url(url), type(exc).__name__)
                raise error_from_transport(
                    exc, method=method, url=self._safe_url(url), write=write
                ) from exc
        self.stats.status(response.status_code)
        logger.debug(
            "%s %s -> %s in %.0f ms",
            method,
            self._safe_url(url),
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def _execute(
        self,
        method: str,
        target: str,
        *,
        body: object = None,
        write: bool = False,
        authenticated: bool = True,
        governed: bool = True,
    ) -> Any:
        """Send one logical request (with safe retries) and return its decoded JSON."""
        absolute = "://" in target
        relooked = False
        attempt = 0
        while True:
            attempt += 1
            base = "" if absolute else self._zone.get().api_base
            url = target if absolute else f"{base}/{target}"
            if governed:
                self._governor.before_request()
            if authenticated:
                self._pause.wait()
            try:
                response = self._send(
                    method, url, body=body, write=write, authenticated=authenticated
                )
            except AutotaskError as exc:
                error = exc
            else:
                if response.is_success:
                    return self._decode(response, method, url, write=write)
                error = error_from_response(
                    response,
                    method=method,
                    url=self._safe_url(url),
                    write=write,
                    redact=self._redact,
                )
            if (
                isinstance(error, AuthenticationError)
                and error.status == 401
                and authenticated
                and not absolute
                and not relooked
            ):
                relooked = True
                if self._zone.refresh().api_base != base:
                    logger.info("Autotask zone changed; retrying in the new zone")
                    self.stats.retry(0.0)
                    continue
                raise error
            if not self._retry.should_retry(error, write=write, attempt=attempt):
                raise error
            delay = self._retry.delay(error, attempt=attempt, rng=self._rng)
            if isinstance(error, ThrottledError):
                self._pause.pause(delay)
                self.stats.retry(delay, retry_after=error.retry_after is not None)
            else:
                self.stats.retry(delay)
                self._sleep(delay)
            logger.info(
                "retrying %s %s after %s", method, self._safe_url(url), type(error).__name__
            )

    def _decode(self, response: httpx.Response, method: str, url: str, *, write: bool) -> Any:
        if not response.content.strip():
            return None
        try:
            return decode_json(response.content)
        except ValueError as exc:
            cls = UnknownOutcomeError if write else ProtocolError
            raise cls(
                "Autotask answered 2xx with a body that is not JSON",
                status=response.status_code,
                method=method,
                url=self._safe_url(url),
            ) from exc


def _check_entity(name: str) -> None:
    if not isinstance(name, str) or not _ENTITY_NAME.match(name):
        raise ClientUsageError(f"not an Autotask entity name: {name!r}")


def _check_id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ClientUsageError(f"an Autotask id is an integer, not {value!r}")
    return value


def _require_id(body: Mapping[str, Any]) -> None:
    if not isinstance(body, Mapping):
        raise ClientUsageError("a body must be a mapping of field names to values")
    ids = [v for k, v in body.items() if str(k).lower() == "id"]
    if not ids or isinstance(ids[0], bool) or not isinstance(ids[0], int):
        raise ClientUsageError("an update needs the record's integer 'id' in the body")


def _ci_get(answer: Any, key: str) -> Any:
    if not isinstance(answer, dict):
        return None
    if key in answer:
        return answer[key]
    lowered = key.lower()
    for k, v in answer.items():
        if isinstance(k, str) and k.lower() == lowered:
            return v
    return None

"""The sandbox's ASGI application: Autotask's REST API at `/atservicesrest/v1.0/`.

One request goes: route (case-insensitive path) -> credentials -> request counted in the hourly
window -> one of 3 thread slots of (integration code, endpoint) taken -> fault draw -> for
writes: impersonation allowed?, write rules and write faults -> handler (atomic, under the
store's lock) -> the answer held until the latency has passed since the request arrived (the
sandbox's own work counts inside it) -> slot released *before* the answer is sent, so a client
that waits for its answer before sending the next request never trips the limit.
`zoneInformation` and `VersionInformation` are answered without credentials, limits or faults.

Hooks for tests (on `SandboxRuntime`, i.e. `RunningSandbox.runtime`), deterministic:

- `reject_writes(entity, predicate=None, text=None, *, times=None)`: matching writes are not
  performed and answered 500 `{"errors": [text]}`, by default Autotask's opaque
  `An unexpected error has occurred.  If the problem persists, please contact Autotask Support
  and reference Error ID: N` (each with its own N); the rule's `texts` lists what was answered;
- `slow_writes(entity, predicate=None, delay_ms=35_000, *, times=None)`: matching writes are
  carried out only after `delay_ms` and answered after that, even if the client has given up
  (it keeps its thread slot meanwhile, as a request still running in Autotask does);
- `clear_write_rules()`. See `write_rules.py` for how rules match.

`ImpersonationResourceId` is honoured on writes to entities whose model records the
impersonator (`impersonatorCreatorResourceID`: Companies, Products); a write to any other
entity with it is refused with Autotask's permission error. Reads ignore it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.routing import Route as StarletteRoute

from billbridge.sandbox import routes, schema, seed
from billbridge.sandbox.errors import (
    GENERIC_500_BODY,
    PERMISSION_MESSAGE,
    THREAD_LIMIT_MESSAGE,
    ZONE_UNKNOWN_MESSAGE,
    ApiError,
)
from billbridge.sandbox.faults import FaultInjector
from billbridge.sandbox.filters import QuerySpec, parse_query
from billbridge.sandbox.limits import RequestLimits, endpoint_of
from billbridge.sandbox.microsoft import PREFIX as MICROSOFT_PREFIX
from billbridge.sandbox.microsoft.setup import microsoft_emulator
from billbridge.sandbox.options import SandboxOptions
from billbridge.sandbox.schema import EntityDef
from billbridge.sandbox.store import Store
from billbridge.sandbox.tenant import (
    FIRST_PAGE,
    Page,
    Tenant,
    decode_token,
    encode_token,
    utcnow,
)
from billbridge.sandbox.wire import decode_json, encode_json
from billbridge.sandbox.write_rules import WritePredicate, WriteRule, WriteRules

logger = logging.getLogger(__name__)

PREFIX = "/atservicesrest"
API_VERSION = "V1.0"
_ALL_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"]
_ACTIONS = {"POST": "create", "PATCH": "update", "PUT": "update", "DELETE": "delete"}
DEFAULT_SLOW_MS = 35_000
Handler = Callable[["Call"], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Call:
    """One routed, authenticated request, as the handlers see it."""

    method: str
    route: routes.Route
    params: dict[str, int]
    query: QueryParams
    body: Any
    origin: str  # scheme://host:port the client used
    actor: int
    impersonator: int | None

    @property
    def entity(self) -> EntityDef:
        definition = schema.entity(self.route.entity)
        assert definition is not None
        return definition


def json_response(
    status: int, body: Mapping[str, Any] | None, headers: Mapping[str, str] | None = None
) -> Response:
    if body is None:
        return Response(status_code=status, headers=dict(headers or {}))
    return Response(
        content=encode_json(body),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers=dict(headers or {}),
    )


class _Slot:
    """The thread slot of (integration code, endpoint) a request holds, given back once."""

    def __init__(self, limits: RequestLimits, code: str, endpoint: str) -> None:
        self._limits = limits
        self._code = code
        self._endpoint = endpoint
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._limits.release(self._code, self._endpoint)

    def hand_over(self) -> Callable[[], None]:
        """The slot's release, for a write that outlives its request; the request no
        longer gives it back."""
        self._held = False
        return lambda: self._limits.release(self._code, self._endpoint)


def _query_param(query: QueryParams, name: str) -> str | None:
    for key, value in query.multi_items():
        if key.casefold() == name.casefold():
            return value
    return None


class SandboxRuntime:
    """The state behind one app: tenant, limits, faults, latency."""

    def __init__(
        self, options: SandboxOptions, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.options = options
        self.store = Store(options.data)
        self.tenant = Tenant(self.store, clock=clock or utcnow, settings=options.tenant_settings())
        self.write_rules = WriteRules()
        self._background: set[asyncio.Task[Mapping[str, Any]]] = set()
        self.limits = RequestLimits(
            threshold=options.request_threshold,
            timeframe_minutes=options.request_timeframe_minutes,
            thread_limit=options.thread_limit,
        )
        self.faults = FaultInjector(options.faults)
        self.microsoft = microsoft_emulator(options)  # --- microsoft emulator (P) ---
        self.latency_s = options.latency_ms / 1000.0
        self._handlers: dict[str, Handler] = {
            routes.VERSION: self._version,
            routes.THRESHOLD: self._threshold,
            routes.ENTITY_INFORMATION_ALL: self._entity_information_all,
            routes.ENTITY_INFO: lambda c: {"info": self.tenant.entity_info(c.entity)},
            routes.ENTITY_FIELDS: lambda c: {"fields": self.tenant.field_infos(c.entity)},
            routes.ENTITY_UDFS: lambda c: {"fields": self.tenant.udf_infos(c.entity)},
            routes.QUERY: self._query,
            routes.QUERY_COUNT: self._count,
            routes.QUERY_NEXT: self._query_next,
            routes.GET_BY_ID: self._get_by_id,
            routes.ROOT_WRITE: self._root_write,
            routes.CHILD_COLLECTION: self._child_collection,
            routes.CHILD_ITEM: self._child_item,
        }

    def close(self) -> None:
        self.store.close()
        self.microsoft.close()  # --- microsoft emulator (P) ---

    # -- hooks for tests -----------------------------------------------------------------------

    def reject_writes(
        self,
        entity: str,
        predicate: WritePredicate | None = None,
        text: str | None = None,
        *,
        times: int | None = None,
    ) -> WriteRule:
        """Writes to `entity` matching `predicate` fail with 500 `text` (default: an opaque
        Error ID text), not performed."""
        return self.write_rules.add(WriteRule("reject", entity, predicate, text, times=times))

    def slow_writes(
        self,
        entity: str,
        predicate: WritePredicate | None = None,
        delay_ms: int = DEFAULT_SLOW_MS,
        *,
        times: int | None = None,
    ) -> WriteRule:
        """Writes to `entity` matching `predicate` are carried out after `delay_ms`."""
        return self.write_rules.add(
            WriteRule("slow", entity, predicate, delay_ms=delay_ms, times=times)
        )

    def clear_write_rules(self) -> None:
        self.write_rules.clear()

    # -- the pipeline --------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        answer_at = asyncio.get_running_loop().time() + self.latency_s
        try:
            return await self._handle(request, answer_at)
        except ApiError as exc:
            await self._latency(answer_at)
            return json_response(exc.status, exc.body, exc.headers)
        except ClientDisconnect:
            # The client went away mid-request (a killed export): nobody reads an answer.
            logger.info("client disconnected during %s %s", request.method, request.url.path)
            return Response(status_code=499)
        except Exception:
            logger.exception("sandbox failure on %s %s", request.method, request.url.path)
            await self._latency(answer_at)
            return json_response(500, GENERIC_500_BODY)

    async def _handle(self, request: Request, answer_at: float) -> Response:
        method = request.method.upper()
        full_path = request.url.path
        origin = f"{request.url.scheme}://{request.url.netloc}"
        if not full_path.lower().startswith(PREFIX):
            raise ApiError.not_found(str(request.url))
        path = full_path[len(PREFIX) :] or "/"
        found = routes.match(path, method)
        if found.route is not None and found.route.public:
            public = self._public(found.route, request.query_params, origin)
            await self._latency(answer_at)
            return public
        actor, impersonator, code = self._authenticate(request.headers)
        within_threshold = self.limits.count()
        endpoint = endpoint_of(path, found.route.entity if found.route else "")
        if not self.limits.acquire(code, endpoint):
            limit = self.options.thread_limit
            raise ApiError.autotask(THREAD_LIMIT_MESSAGE.format(limit=limit))
        slot = _Slot(self.limits, code, endpoint)
        try:
            try:
                answer = await self._answer(
                    request, found, origin, within_threshold, actor, impersonator, slot
                )
            except ApiError as exc:
                answer = json_response(exc.status, exc.body, exc.headers)
            # The slot stays taken until the answer leaves, as in Autotask.
            await self._latency(answer_at)
            return answer
        finally:
            slot.release()

    async def _answer(
        self,
        request: Request,
        found: routes.Match,
        origin: str,
        within_threshold: bool,
        actor: int,
        impersonator: int | None,
        slot: _Slot,
    ) -> Response:
        method = request.method.upper()
        if not within_threshold:
            raise ApiError(
                429,
                {
                    "errors": [
                        f"The API request threshold of {self.limits.threshold} requests "
                        f"per {self.limits.timeframe_minutes} minutes has been exceeded."
                    ]
                },
                {"Retry-After": "60"},
            )
        if found.route is None:
            if found.allowed:
                raise ApiError.method_not_allowed(method)
            raise ApiError.not_found(str(request.url))
        write = found.route.writes(method)
        fault = self.faults.draw(write=write)
        if fault == "throttle":
            retry_after = self.faults.spec.retry_after if self.faults.spec else 1
            raise ApiError(
                429,
                {"errors": [f"API request threshold reached; retry after {retry_after} s."]},
                {"Retry-After": str(retry_after)},
            )
        if fault == "error500":
            return json_response(500, GENERIC_500_BODY)
        body = decode_json(await request.body()) if method != "GET" else None
        call = Call(
            method=method,
            route=found.route,
            params=found.params,
            query=request.query_params,
            body=body,
            origin=origin,
            actor=actor,
            impersonator=impersonator,
        )
        handler = self._handlers[found.route.handler]
        delay_ms = self._write_checks(call, fault) if write else None
        if delay_ms is None:
            answer = handler(call)
        else:
            answer = await self._carry_out_later(delay_ms, handler, call, slot.hand_over())
        if fault == "lost":
            return json_response(500, GENERIC_500_BODY)
        return json_response(200, answer)

    def _write_checks(self, call: Call, fault: str | None) -> int | None:
        """Refuse a write that must fail; the delay in ms of a write that is slow, else None."""
        entity = call.route.entity
        if (
            call.impersonator is not None
            and call.entity.field("impersonatorCreatorResourceID") is None
        ):
            raise ApiError.autotask(PERMISSION_MESSAGE.format(action=_ACTIONS[call.method]))
        if fault == "opaque500":
            raise ApiError.autotask(self.write_rules.opaque_text())
        caught = self.write_rules.match(entity, call.body)
        if caught is not None:
            rule, text = caught
            if text is not None:
                raise ApiError.autotask(text)
            return rule.delay_ms
        if fault == "slow" and self.faults.spec is not None:
            return self.faults.spec.slow_ms
        return None

    async def _carry_out_later(
        self, delay_ms: int, handler: Handler, call: Call, release: Callable[[], None]
    ) -> Mapping[str, Any]:
        """Run `handler` after `delay_ms` in a task of its own, so that a client giving up
        (its request cancelled or its connection closed) does not stop the write; the task
        gives the request's slot back when the write is done."""

        async def later() -> Mapping[str, Any]:
            try:
                await asyncio.sleep(delay_ms / 1000.0)
                return handler(call)
            finally:
                release()

        task = asyncio.ensure_future(later())
        self._background.add(task)
        task.add_done_callback(_forget(self._background))
        return await asyncio.shield(task)

    async def _latency(self, answer_at: float) -> None:
        """Hold the answer until `answer_at`: the latency counts the sandbox's own work, so
        an answer takes the latency asked for, not that plus the sandbox's time."""
        wait = answer_at - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)

    def _authenticate(self, headers: Headers) -> tuple[int, int | None, str]:
        """(acting resource, impersonating API resource or None, integration code)."""
        user = headers.get("username", "").strip()
        secret = headers.get("secret", "")
        code = headers.get("apiintegrationcode", "").strip()
        user_ok = user.casefold() == seed.USERNAME.casefold()
        secret_ok = secret == seed.SECRET
        code_ok = code.casefold() == seed.INTEGRATION_CODE.casefold()
        if not (user and secret and code):
            raise ApiError(401, None)
        if self.options.auth_errors == "401" and not (user_ok and secret_ok and code_ok):
            raise ApiError(401, None)
        if not user_ok:
            raise ApiError.autotask("Unable to authenticate: the API user name is not known.")
        if not secret_ok:
            raise ApiError(401, None)
        if not code_ok:
            raise ApiError.autotask("IntegrationCode is invalid.")
        raw = headers.get("impersonationresourceid")
        if raw is None or not raw.strip():
            return seed.API_RESOURCE_ID, None, code
        try:
            resource_id = int(raw.strip())
        except ValueError:
            resource_id = -1
        resource = self.tenant.get(schema.RESOURCES, resource_id)
        if resource is None or not resource.get("isActive"):
            raise ApiError.autotask(
                f"ImpersonationResourceId {raw.strip()} does not reference an active resource."
            )
        return resource_id, seed.API_RESOURCE_ID, code

    def _public(self, route: routes.Route, query: QueryParams, origin: str) -> Response:
        if route.handler == routes.VERSION_INFORMATION:
            return json_response(200, {"apiVersions": [API_VERSION]})
        user = (_query_param(query, "user") or "").strip()
        if user.casefold() != seed.USERNAME.casefold():
            raise ApiError.autotask(ZONE_UNKNOWN_MESSAGE)
        return json_response(
            200,
            {
                "zoneName": "Sandbox",
                "url": f"{origin}/ATServicesRest/",
                "webUrl": f"{origin}/",
                "ci": 0,
            },
        )

    # -- handlers ------------------------------------------------------------------------------

    def _version(self, call: Call) -> Mapping[str, Any]:
        return {"majorVersion": "2024", "minorVersion": "1", "build": "billbridge-sandbox"}

    def _threshold(self, call: Call) -> Mapping[str, Any]:
        return {
            "externalRequestThreshold": self.limits.threshold,
            "requestThresholdTimeframe": self.limits.timeframe_minutes,
            "currentTimeframeRequestCount": self.limits.current_count(),
        }

    def _entity_information_all(self, call: Call) -> Mapping[str, Any]:
        return {
            "entityDescriptions": [
                {"info": self.tenant.entity_info(d)} for d in schema.ENTITIES.values()
            ]
        }

    def _spec(self, call: Call) -> QuerySpec:
        if call.method == "POST" and call.body is not None:
            return parse_query(call.body)
        return parse_query(_query_param(call.query, "search"))

    def _query(self, call: Call) -> Mapping[str, Any]:
        spec = self._spec(call)
        page = self.tenant.query(call.entity, spec)
        return self._page(call, call.entity, spec, page, after=FIRST_PAGE, previous=[])

    def _count(self, call: Call) -> Mapping[str, Any]:
        return {"queryCount": self.tenant.count(call.entity, self._spec(call))}

    def _query_next(self, call: Call) -> Mapping[str, Any]:
        token = decode_token(_query_param(call.query, "paging") or "")
        entity_name, after, previous = token.get("e"), token.get("a"), token.get("p")
        if (
            not isinstance(entity_name, str)
            or entity_name.casefold() != call.entity.name.casefold()
            or not isinstance(after, int)
            or not isinstance(previous, list)
        ):
            raise ApiError.autotask("The paging parameter is not valid.")
        spec = self._spec(call)
        page = self.tenant.query(call.entity, spec, after=after)
        return self._page(call, call.entity, spec, page, after=after, previous=previous)

    def _page(
        self,
        call: Call,
        definition: EntityDef,
        spec: QuerySpec,
        page: Page,
        *,
        after: int,
        previous: list[Any],
    ) -> Mapping[str, Any]:
        search = quote(encode_json(spec.raw).decode(), safe="")
        base = f"{call.origin}/ATServicesRest/{API_VERSION}/{definition.name}/query/next"

        def url(token: dict[str, Any]) -> str:
            return f"{base}?paging={encode_token(token)}&search={search}"

        next_url = (
            url({"e": definition.name, "a": page.last_id, "p": [*previous, after]})
            if page.has_more and page.last_id is not None
            else None
        )
        prev_url = (
            url({"e": definition.name, "a": previous[-1], "p": previous[:-1]}) if previous else None
        )
        items = [self.tenant.render(definition, r, spec.include_fields) for r in page.items]
        return {
            "items": items,
            "pageDetails": {
                "count": len(items),
                "requestCount": spec.page_size,
                "prevPageUrl": prev_url,
                "nextPageUrl": next_url,
            },
        }

    def _get_by_id(self, call: Call) -> Mapping[str, Any]:
        record = self.tenant.get(call.entity, call.params["id"])
        return {"item": None if record is None else self.tenant.render(call.entity, record)}

    def _root_write(self, call: Call) -> Mapping[str, Any]:
        definition = call.entity
        if call.method == "POST":
            item_id = self.tenant.create(
                definition, call.body, actor=call.actor, impersonator=call.impersonator
            )
        else:
            item_id = self.tenant.update(
                definition, call.body, partial=call.method == "PATCH", actor=call.actor
            )
        return {"itemId": item_id}

    def _child_collection(self, call: Call) -> Mapping[str, Any]:
        definition = call.entity
        parent = definition.parent
        assert parent is not None
        parent_id = call.params["parentId"]
        if call.method == "GET":
            spec = parse_query(
                {"filter": [{"op": "eq", "field": parent.field, "value": parent_id}]}
            )
            page = self.tenant.query(definition, spec)
            return self._page(call, definition, spec, page, after=FIRST_PAGE, previous=[])
        if call.method == "POST":
            item_id = self.tenant.create(
                definition,
                call.body,
                actor=call.actor,
                impersonator=call.impersonator,
                parent_id=parent_id,
            )
        else:
            item_id = self.tenant.update(
                definition,
                call.body,
                partial=call.method == "PATCH",
                actor=call.actor,
                parent_id=parent_id,
            )
        return {"itemId": item_id}

    def _child_item(self, call: Call) -> Mapping[str, Any]:
        definition = call.entity
        parent = definition.parent
        assert parent is not None
        parent_id, item_id = call.params["parentId"], call.params["id"]
        if call.method == "DELETE":
            return {"itemId": self.tenant.delete_child(definition, parent_id, item_id)}
        record = self.tenant.get(definition, item_id)
        if record is not None and record.get(parent.field) != parent_id:
            record = None
        return {"item": None if record is None else self.tenant.render(definition, record)}


def _forget(
    tasks: set[asyncio.Task[Mapping[str, Any]]],
) -> Callable[[asyncio.Task[Mapping[str, Any]]], None]:
    def done(task: asyncio.Task[Mapping[str, Any]]) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.info("a delayed write failed after its client had gone: %s", task.exception())

    return done


def create_app(
    options: SandboxOptions | None = None, *, clock: Callable[[], datetime] | None = None
) -> Starlette:
    """The sandbox as an ASGI app; its `state.runtime` is the `SandboxRuntime`."""
    runtime = SandboxRuntime(options or SandboxOptions(), clock=clock)

    async def endpoint(request: Request) -> Response:
        return await runtime.handle(request)

    app = Starlette(
        routes=[
            Mount(MICROSOFT_PREFIX, runtime.microsoft.app()),  # --- microsoft emulator (P) ---
            StarletteRoute("/{path:path}", endpoint, methods=_ALL_METHODS),
        ]
    )
    app.state.runtime = runtime
    return app

"""The sandbox's ASGI application: Autotask's REST API at `/atservicesrest/v1.0/`.

One request goes: route (case-insensitive path) -> credentials -> request counted in the hourly
window -> one of 3 thread slots of (integration code, endpoint) taken -> latency -> fault draw
-> handler (atomic, under the store's lock) -> slot released *before* the answer is sent, so a
client that waits for its answer before sending the next request never trips the limit.
`zoneInformation` and `VersionInformation` are answered without credentials, limits or faults.
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
from billbridge.sandbox.tenant import Page, Tenant, decode_token, encode_token, utcnow
from billbridge.sandbox.wire import decode_json, encode_json

logger = logging.getLogger(__name__)

PREFIX = "/atservicesrest"
API_VERSION = "V1.0"
_ALL_METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"]


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
        self.tenant = Tenant(self.store, clock=clock or utcnow)
        self.limits = RequestLimits(
            threshold=options.request_threshold,
            timeframe_minutes=options.request_timeframe_minutes,
            thread_limit=options.thread_limit,
        )
        self.faults = FaultInjector(options.faults)
        self.microsoft = microsoft_emulator(options)  # --- microsoft emulator (P) ---
        self.latency_s = options.latency_ms / 1000.0
        self._handlers: dict[str, Callable[[Call], Mapping[str, Any]]] = {
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

    # -- the pipeline --------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        try:
            return await self._handle(request)
        except ApiError as exc:
            return json_response(exc.status, exc.body, exc.headers)
        except ClientDisconnect:
            # The client went away mid-request (a killed export): nobody reads an answer.
            logger.info("client disconnected during %s %s", request.method, request.url.path)
            return Response(status_code=499)
        except Exception:
            logger.exception("sandbox failure on %s %s", request.method, request.url.path)
            return json_response(500, GENERIC_500_BODY)

    async def _handle(self, request: Request) -> Response:
        method = request.method.upper()
        full_path = request.url.path
        origin = f"{request.url.scheme}://{request.url.netloc}"
        if not full_path.lower().startswith(PREFIX):
            await self._latency()
            raise ApiError.not_found(str(request.url))
        path = full_path[len(PREFIX) :] or "/"
        found = routes.match(path, method)
        if found.route is not None and found.route.public:
            await self._latency()
            return self._public(found.route, request.query_params, origin)
        actor, impersonator, code = self._authenticate(request.headers)
        within_threshold = self.limits.count()
        endpoint = endpoint_of(path, found.route.entity if found.route else "")
        if not self.limits.acquire(code, endpoint):
            await self._latency()
            limit = self.options.thread_limit
            raise ApiError.autotask(THREAD_LIMIT_MESSAGE.format(limit=limit))
        try:
            await self._latency()
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
            answer = self._handlers[found.route.handler](call)
            if fault == "lost":
                return json_response(500, GENERIC_500_BODY)
            return json_response(200, answer)
        finally:
            self.limits.release(code, endpoint)

    async def _latency(self) -> None:
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)

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
        return self._page(call, call.entity, spec, page, after=0, previous=[])

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
            return self._page(call, definition, spec, page, after=0, previous=[])
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

"""The sandbox's routes: one table, used for dispatch and checked against Autotask's swagger.

Paths are matched case-insensitively below `/atservicesrest`. A path that matches a route but
not its verb is answered 405 with ASP.NET's body, a path that matches nothing 404: there is no
`PATCH /{Entity}/{id}`, no `POST /ContractCharges` (charges are written through
`/Contracts/{id}/Charges`) and no write on BillingCodes, exactly as in the swagger.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from billbridge.sandbox.schema import ENTITIES

# Handler names (dispatched in app.py).
ZONE = "zone"
VERSION_INFORMATION = "version_information"
VERSION = "version"
THRESHOLD = "threshold"
ENTITY_INFORMATION_ALL = "entity_information_all"
ENTITY_INFO = "entity_info"
ENTITY_FIELDS = "entity_fields"
ENTITY_UDFS = "entity_udfs"
QUERY = "query"
QUERY_COUNT = "query_count"
QUERY_NEXT = "query_next"
GET_BY_ID = "get_by_id"
ROOT_WRITE = "root_write"
CHILD_COLLECTION = "child_collection"
CHILD_ITEM = "child_item"

WRITE_METHODS: Final = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass(frozen=True)
class Route:
    """One path template and the verbs it answers."""

    template: str  # as in the swagger, e.g. "/V1.0/Contracts/{parentId}/Charges"
    methods: frozenset[str]
    handler: str
    entity: str = ""  # route name of the entity it serves, if any
    public: bool = False  # answered without credentials
    #: False only for the paging continuation, which Autotask serves but its swagger omits
    #: (it is a URL the server hands out in `pageDetails.nextPageUrl`).
    in_swagger: bool = True
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = []
        for segment in self.template.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                parts.append(f"(?P<{segment[1:-1]}>-?[0-9]+)")
            else:
                parts.append(re.escape(segment))
        object.__setattr__(
            self, "pattern", re.compile("^/" + "/".join(parts) + "/?$", re.IGNORECASE)
        )

    def writes(self, method: str) -> bool:
        """True when `method` on this route changes data (queries are POSTs that do not)."""
        return method in WRITE_METHODS and self.handler in (
            ROOT_WRITE,
            CHILD_COLLECTION,
            CHILD_ITEM,
        )


def _build() -> tuple[Route, ...]:
    get = frozenset({"GET"})
    get_post = frozenset({"GET", "POST"})
    routes = [
        Route("/V1.0/ZoneInformation", get, ZONE, public=True),
        Route("/VersionInformation", get, VERSION_INFORMATION, public=True),
        Route("/V1.0/Version", get, VERSION),
        Route("/V1.0/ThresholdInformation", get, THRESHOLD),
        Route("/V1.0/EntityInformation", get, ENTITY_INFORMATION_ALL),
    ]
    for definition in ENTITIES.values():
        e = definition.name
        routes += [
            Route(f"/V1.0/{e}/query", get_post, QUERY, e),
            Route(f"/V1.0/{e}/query/count", get_post, QUERY_COUNT, e),
            Route(f"/V1.0/{e}/query/next", get_post, QUERY_NEXT, e, in_swagger=False),
            Route(f"/V1.0/{e}/{{id}}", get, GET_BY_ID, e),
            Route(f"/V1.0/{e}/entityInformation", get, ENTITY_INFO, e),
            Route(f"/V1.0/{e}/entityInformation/fields", get, ENTITY_FIELDS, e),
            Route(f"/V1.0/{e}/entityInformation/userDefinedFields", get, ENTITY_UDFS, e),
        ]
        if definition.root_verbs:
            routes.append(Route(f"/V1.0/{e}", definition.root_verbs, ROOT_WRITE, e))
        parent = definition.parent
        if parent is not None:
            base = f"/V1.0/{parent.entity}/{{parentId}}/{parent.route}"
            routes += [
                Route(base, frozenset({"GET", "POST", "PATCH", "PUT"}), CHILD_COLLECTION, e),
                Route(f"{base}/{{id}}", frozenset({"GET", "DELETE"}), CHILD_ITEM, e),
                Route(f"{base}/entityInformation", get, ENTITY_INFO, e),
                Route(f"{base}/entityInformation/fields", get, ENTITY_FIELDS, e),
                Route(f"{base}/entityInformation/userDefinedFields", get, ENTITY_UDFS, e),
            ]
    return tuple(routes)


ROUTES: Final = _build()


@dataclass(frozen=True, slots=True)
class Match:
    """The outcome of routing one request."""

    route: Route | None
    params: dict[str, int]
    allowed: frozenset[str]  # verbs of the routes the path matched (for a 405)


def match(path: str, method: str) -> Match:
    """Route `path` (below `/atservicesrest`) and `method`."""
    allowed: set[str] = set()
    for route in ROUTES:
        found = route.pattern.match(path)
        if found is None:
            continue
        if method in route.methods:
            return Match(route, {k: int(v) for k, v in found.groupdict().items()}, frozenset())
        allowed |= route.methods
    return Match(None, {}, frozenset(allowed))

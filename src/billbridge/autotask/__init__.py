"""The Autotask PSA REST client: everything billbridge knows about Autotask's HTTP API.

Imports nothing of billbridge but itself. See `docs/autotask.md`.
"""

from __future__ import annotations

from billbridge.autotask.client import AutotaskClient, VersionInfo
from billbridge.autotask.config import DEFAULT_ZONE_LOOKUP_URL, ClientConfig
from billbridge.autotask.errors import (
    AuthenticationError,
    AutotaskConnectionError,
    AutotaskError,
    ClientUsageError,
    ErrorKind,
    NotFoundError,
    OpaqueServerError,
    PaginationLoopError,
    PermissionDeniedError,
    PicklistError,
    ProtocolError,
    ServerError,
    ThreadLimitError,
    ThrottledError,
    UnknownOutcomeError,
    ValidationError,
    error_from_response,
)
from billbridge.autotask.metadata import EntityInfo, FieldInfo, PicklistValue, UdfInfo
from billbridge.autotask.query import Condition, F, Filter, Group, build_query
from billbridge.autotask.stats import RequestStats, StatsSnapshot
from billbridge.autotask.throttle import (
    CHILD_ENTITIES,
    BudgetEstimate,
    ThresholdInfo,
    estimate_budget,
)
from billbridge.autotask.wire import (
    format_date,
    format_datetime,
    parse_date,
    parse_datetime,
    to_decimal,
    udf_list,
    udf_value,
)
from billbridge.autotask.zone import ZoneInfo

__all__ = [
    "CHILD_ENTITIES",
    "DEFAULT_ZONE_LOOKUP_URL",
    "AuthenticationError",
    "AutotaskClient",
    "AutotaskConnectionError",
    "AutotaskError",
    "BudgetEstimate",
    "ClientConfig",
    "ClientUsageError",
    "Condition",
    "EntityInfo",
    "ErrorKind",
    "F",
    "FieldInfo",
    "Filter",
    "Group",
    "NotFoundError",
    "OpaqueServerError",
    "PaginationLoopError",
    "PermissionDeniedError",
    "PicklistError",
    "PicklistValue",
    "ProtocolError",
    "RequestStats",
    "ServerError",
    "StatsSnapshot",
    "ThreadLimitError",
    "ThresholdInfo",
    "ThrottledError",
    "UdfInfo",
    "UnknownOutcomeError",
    "ValidationError",
    "VersionInfo",
    "ZoneInfo",
    "build_query",
    "error_from_response",
    "estimate_budget",
    "format_date",
    "format_datetime",
    "parse_date",
    "parse_datetime",
    "to_decimal",
    "udf_list",
    "udf_value",
]

"""What an `AutotaskClient` needs to know: credentials, zone lookup, limits."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_ZONE_LOOKUP_URL = "https://webservices.autotask.net/atservicesrest"


@dataclass(frozen=True)
class ClientConfig:
    """Settings of one client. `secret` never appears in `repr`, logs or errors."""

    username: str
    secret: str = field(repr=False)
    integration_code: str
    zone_lookup_url: str = DEFAULT_ZONE_LOOKUP_URL
    impersonation_resource_id: int | None = None
    #: Autotask refuses a 4th concurrent request per integration code and endpoint.
    max_in_flight_per_endpoint: int = 3
    #: Fraction of the tenant's hourly request threshold billbridge may use; the rest is left
    #: to other integrations.
    threshold_share: float = 0.5
    timeout_s: float = 30.0
    #: Total attempts of one request (reads, and writes refused before being applied).
    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    #: A 429 asking to wait longer than this is raised instead of waited for.
    max_retry_after_s: float = 300.0
    #: Read `ThresholdInformation` every N requests (0: never) or every interval.
    threshold_check_every: int = 200
    threshold_check_interval_s: float = 60.0
    #: Longest wait for the hourly share to free up before raising `ThrottledError`.
    threshold_max_wait_s: float = 900.0
    #: Check picklist values of a body against the entity's metadata before writing it.
    validate_picklists: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not self.username.strip():
            problems.append("username is empty")
        if not self.secret:
            problems.append("secret is empty")
        if not self.integration_code.strip():
            problems.append("integration_code is empty")
        if not self.zone_lookup_url.startswith(("https://", "http://")):
            problems.append("zone_lookup_url must be an http(s) URL")
        if not 1 <= self.max_in_flight_per_endpoint <= 3:
            problems.append("max_in_flight_per_endpoint must be 1..3 (Autotask's thread limit)")
        if not 0 < self.threshold_share <= 1:
            problems.append("threshold_share must be in (0, 1]")
        if self.timeout_s <= 0:
            problems.append("timeout_s must be positive")
        if self.max_attempts < 1:
            problems.append("max_attempts must be at least 1")
        if self.threshold_check_every < 0:
            problems.append("threshold_check_every must be >= 0")
        if problems:
            raise ValueError("invalid Autotask client settings: " + "; ".join(problems))

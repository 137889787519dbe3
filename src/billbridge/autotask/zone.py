"""Zone discovery: which Autotask API host serves the API user.

`GET {zone_lookup_url}/v1.0/zoneInformation?user=...` is sent without credentials. The `url`
it returns is trusted only on an Autotask web-services host over HTTPS, or on the very host
(and scheme) of the configured lookup URL, which is how the local sandbox answers: credentials
are never sent anywhere else. The answer is cached; the client looks it up again once when a
request is refused with 401, since a tenant can move zone.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from billbridge.autotask.errors import ProtocolError

#: The API hosts Autotask's zones answer with: `webservices.autotask.net` (discovery),
#: `webservices1` .. `webservices29` (the data centres, with gaps) and the pre-release zones
#: `prde` (German) and `pres` (Spanish), as the public PowerShell modules list them
#: (Kelvin Tegelaar's AutotaskAPI `Add-AutotaskBaseURI`, Celerium.AutoTask's data-centre map).
AUTOTASK_HOST = re.compile(r"^(webservices\d{0,3}|prde|pres)\.autotask\.net$", re.IGNORECASE)
API_VERSION = "V1.0"


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    """The answer of `zoneInformation`."""

    zone_name: str
    url: str
    web_url: str | None
    ci: int | None

    @property
    def api_base(self) -> str:
        """`https://webservices15.autotask.net/ATServicesRest/V1.0` (no trailing slash)."""
        return self.url.rstrip("/") + "/" + API_VERSION


def zone_lookup_address(zone_lookup_url: str, username: str) -> str:
    """The unauthenticated zone lookup URL for `username`."""
    return f"{zone_lookup_url.rstrip('/')}/v1.0/zoneInformation?user={quote(username, safe='@.')}"


def check_zone_url(url: str, zone_lookup_url: str) -> None:
    """Refuse a zone URL that is neither an Autotask host (HTTPS) nor the lookup host itself."""
    returned = urlsplit(url)
    lookup = urlsplit(zone_lookup_url)
    host = (returned.hostname or "").lower()
    if returned.scheme == "https" and AUTOTASK_HOST.match(host) and returned.port in (None, 443):
        return
    if (
        returned.scheme == lookup.scheme
        and host == (lookup.hostname or "").lower()
        and _port(returned.scheme, returned.port) == _port(lookup.scheme, lookup.port)
    ):
        return
    raise ProtocolError(
        "zone lookup answered with an untrusted host; credentials are only sent to "
        "https://webservicesN.autotask.net, prde.autotask.net, pres.autotask.net or to the"
        " lookup host itself",
        url=f"{returned.scheme}://{returned.netloc}",
    )


def _port(scheme: str, port: int | None) -> int | None:
    if port is not None:
        return port
    return {"https": 443, "http": 80}.get(scheme)


class ZoneResolver:
    """Looks the zone up on first use and caches it (`ttl_s`, default 12 h) per client."""

    def __init__(
        self,
        fetch_json: Callable[[str], Any],
        zone_lookup_url: str,
        username: str,
        *,
        ttl_s: float = 12 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch_json = fetch_json
        self._lookup_url = zone_lookup_url
        self._username = username
        self._ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        # Requests started together (the tenant's metadata is read in parallel) wait for one
        # lookup instead of each making their own.
        self._lookup_lock = threading.Lock()
        self._cached: ZoneInfo | None = None
        self._cached_at = 0.0
        self.lookups = 0

    def get(self) -> ZoneInfo:
        """The cached zone, looked up when missing or expired."""
        cached = self._fresh()
        if cached is not None:
            return cached
        with self._lookup_lock:
            return self._fresh() or self._lookup()

    def _fresh(self) -> ZoneInfo | None:
        with self._lock:
            if self._cached is not None and self._clock() - self._cached_at < self._ttl_s:
                return self._cached
            return None

    def refresh(self) -> ZoneInfo:
        """Look the zone up now and cache the answer."""
        with self._lookup_lock:
            return self._lookup()

    def _lookup(self) -> ZoneInfo:
        body = self._fetch_json(zone_lookup_address(self._lookup_url, self._username))
        zone = _parse(body)
        check_zone_url(zone.url, self._lookup_url)
        with self._lock:
            self._cached = zone
            self._cached_at = self._clock()
            self.lookups += 1
        return zone

    def invalidate(self) -> None:
        """Forget the cached zone."""
        with self._lock:
            self._cached = None


def _parse(body: Any) -> ZoneInfo:
    if not isinstance(body, dict):
        raise ProtocolError("zoneInformation answered without a JSON object")
    lowered = {str(k).lower(): v for k, v in body.items()}
    url = lowered.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ProtocolError("zoneInformation answered without a url")
    ci = lowered.get("ci")
    web_url = lowered.get("weburl")
    return ZoneInfo(
        zone_name=str(lowered.get("zonename") or ""),
        url=url.strip(),
        web_url=web_url if isinstance(web_url, str) else None,
        ci=ci if isinstance(ci, int) and not isinstance(ci, bool) else None,
    )

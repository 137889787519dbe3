"""Helpers of the client tests: a scriptable fake Autotask for `httpx.MockTransport`."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import httpx

from billbridge.autotask import AutotaskClient, ClientConfig

SECRET = "s3cr3t-Vq9-never-show"
LOOKUP = "https://webservices.autotask.net/atservicesrest"
ZONE = "https://webservices5.autotask.net/ATServicesRest/"
BASE = "https://webservices5.autotask.net/ATServicesRest/V1.0"

Answer = httpx.Response | Callable[[httpx.Request], httpx.Response]


def config(**overrides: Any) -> ClientConfig:
    """Settings for tests on the fake: no threshold polling, no picklist checks."""
    values: dict[str, Any] = {
        "username": "api@tenant.example",
        "secret": SECRET,
        "integration_code": "INTEGRATION-CODE-27-CHARS-XX",
        "threshold_check_every": 0,
        "validate_picklists": False,
        **overrides,
    }
    return ClientConfig(**values)


def reply(status: int = 200, body: Any = None, **headers: str) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers=headers)
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


class FakeAutotask:
    """Answers the zone lookup, then scripted answers per (method, path regex), in order."""

    def __init__(self, *zones: str) -> None:
        self.zones = list(zones or [ZONE])
        self.requests: list[httpx.Request] = []
        self.lookups = 0
        self._routes: list[tuple[str, re.Pattern[str], list[Answer]]] = []

    def on(self, method: str, path: str, *answers: Answer) -> FakeAutotask:
        """Answer `method` on paths matching `path` with `answers` (the last one repeats)."""
        self._routes.append((method, re.compile(path, re.IGNORECASE), list(answers)))
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if "zoneinformation" in request.url.path.lower():
            zone = self.zones[min(self.lookups, len(self.zones) - 1)]
            self.lookups += 1
            return reply(200, {"zoneName": "Z", "url": zone, "webUrl": "https://ww5", "ci": 5})
        for method, pattern, answers in self._routes:
            if method == request.method and pattern.search(str(request.url)):
                answer = answers.pop(0) if len(answers) > 1 else answers[0]
                return answer(request) if callable(answer) else answer
        return reply(404, "<html>no route</html>")

    def sent(self, method: str | None = None, path: str = "") -> list[httpx.Request]:
        """Requests other than zone lookups, optionally filtered."""
        return [
            r
            for r in self.requests
            if "zoneinformation" not in r.url.path.lower()
            and (method is None or r.method == method)
            and path.lower() in r.url.path.lower()
        ]


class Sleeps(list[float]):
    """A fake `time.sleep` that records instead of sleeping, and the clock it moves."""

    now = 1000.0

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def client_for(
    fake: FakeAutotask, sleeps: Sleeps | None = None, **overrides: Any
) -> AutotaskClient:
    sleeps = sleeps if sleeps is not None else Sleeps()
    return AutotaskClient(
        config(**overrides), transport=httpx.MockTransport(fake), sleep=sleeps, clock=sleeps.clock
    )

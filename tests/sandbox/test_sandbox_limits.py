"""Autotask's limits, latency and fault injection in the sandbox (docs/sandbox.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from billbridge.sandbox import FaultSpec, SandboxOptions, create_app, start_in_background
from billbridge.sandbox.transport import InProcessTransport
from tests.sandbox.sandbox_helpers import AUTH, V1, Api

SEARCH = {"search": '{"filter":[{"op":"gte","field":"id","value":0}]}'}


def in_process(options: SandboxOptions) -> Api:
    app = create_app(options)
    client = httpx.Client(transport=InProcessTransport(app), base_url="http://sandbox.test")
    return Api(client, app.state.runtime)


def concurrently(count: int, request: Callable[[httpx.Client], httpx.Response]) -> list[Any]:
    """Send `count` requests at the same moment, each on its own connection."""
    barrier = threading.Barrier(count)
    clients = [httpx.Client(timeout=30) for _ in range(count)]

    def run(client: httpx.Client) -> httpx.Response:
        barrier.wait()
        return request(client)

    try:
        with ThreadPoolExecutor(count) as pool:
            return list(pool.map(run, clients))
    finally:
        for client in clients:
            client.close()


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[Any]:
    with start_in_background(SandboxOptions(port=0, latency_ms=700)) as sandbox:
        yield sandbox


def test_a_fourth_concurrent_request_on_one_endpoint_is_refused(slow_sandbox: Any) -> None:
    url = f"{slow_sandbox.base_url}/v1.0/Companies/query"
    before = slow_sandbox.runtime.limits.thread_refusals
    answers = concurrently(6, lambda c: c.get(url, params=SEARCH, headers=AUTH))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 200, 200, 500, 500, 500]
    for refused in (a for a in answers if a.status_code == 500):
        (message,) = refused.json()["errors"]
        assert "Thread Threshold Exceeded" in message and "Itgenatr005" in message
    assert slow_sandbox.runtime.limits.thread_refusals - before == 3


def test_the_limit_is_per_endpoint(slow_sandbox: Any) -> None:
    base = f"{slow_sandbox.base_url}/v1.0"
    paths = ["Companies/query", "Products/query", "Contracts/query"] * 3
    order = iter(paths)
    lock = threading.Lock()

    def request(client: httpx.Client) -> httpx.Response:
        with lock:
            path = next(order)
        return client.get(f"{base}/{path}", params=SEARCH, headers=AUTH)

    answers = concurrently(9, request)
    assert [a.status_code for a in answers] == [200] * 9


def test_every_answer_takes_the_latency(slow_sandbox: Any) -> None:
    started = time.perf_counter()
    response = httpx.get(f"{slow_sandbox.base_url}/v1.0/zoneInformation?user=x")
    assert response.status_code == 500
    assert time.perf_counter() - started >= 0.7


def test_the_window_is_rolling() -> None:
    from billbridge.sandbox.limits import RequestLimits

    now = [0.0]
    limits = RequestLimits(threshold=2, timeframe_minutes=1, clock=lambda: now[0])
    assert limits.count() and limits.count()
    assert not limits.count()  # the third within a minute is refused
    now[0] = 30.0
    assert limits.current_count() == 3
    now[0] = 60.5
    assert limits.current_count() == 0
    assert limits.count()


def test_threshold_information_counts_every_request() -> None:
    api = in_process(SandboxOptions(request_threshold=6, request_timeframe_minutes=30))
    zone = api.client.get(f"{V1}/zoneInformation", params={"user": AUTH["UserName"]})
    assert zone.status_code == 200  # not counted: unauthenticated
    api.ok("GET", "/Version")
    assert api.call("GET", "/Nope").status_code == 404  # counted
    api.ok("GET", "/Companies/1")
    answer = api.ok("GET", "/ThresholdInformation")
    assert answer == {
        "externalRequestThreshold": 6,
        "requestThresholdTimeframe": 30,
        "currentTimeframeRequestCount": 4,
    }
    api.ok("GET", "/Version")
    api.ok("GET", "/Version")
    refused = api.call("GET", "/Version")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert "threshold" in refused.json()["errors"][0]
    api.runtime.close()


def statuses(api: Api, count: int) -> list[int]:
    return [api.call("GET", "/Companies/query", params=SEARCH).status_code for _ in range(count)]


def test_faults_are_repeatable_with_a_seed() -> None:
    spec = FaultSpec.parse("error500=0.3,throttle=0.2,seed=11")
    first, second = in_process(SandboxOptions(faults=spec)), in_process(SandboxOptions(faults=spec))
    sequence = statuses(first, 40)
    assert sequence == statuses(second, 40)
    assert {200, 429, 500} == set(sequence)
    other = in_process(SandboxOptions(faults=FaultSpec.parse("error500=0.3,throttle=0.2,seed=12")))
    assert statuses(other, 40) != sequence


def test_fault_answers() -> None:
    api = in_process(SandboxOptions(faults=FaultSpec(throttle=1.0, retry_after=3)))
    throttled = api.call("GET", "/Version")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "3"
    api = in_process(SandboxOptions(faults=FaultSpec(error500=1.0)))
    failed = api.call("POST", "/Companies", {"companyName": "never written"})
    assert (failed.status_code, failed.json()) == (500, {"Message": "An error has occurred."})


def test_error500_does_nothing_and_lost_writes_anyway() -> None:
    for fault, written in (("error500", False), ("lost", True)):
        api = in_process(SandboxOptions(faults=FaultSpec.parse(f"{fault}=1,seed=1")))
        api.runtime.faults.spec = None  # set up without faults
        company = api.company(name=f"{fault} owner")
        api.runtime.faults.spec = FaultSpec.parse(f"{fault}=1,seed=1")
        response = api.call("POST", "/Contracts", contract(company))
        assert (response.status_code, response.json()) == (
            500,
            {"Message": "An error has occurred."},
        )
        api.runtime.faults.spec = None
        found = api.query("Contracts", {"op": "eq", "field": "companyID", "value": company})
        assert len(found) == (1 if written else 0), fault


def test_lost_applies_to_writes_only() -> None:
    api = in_process(SandboxOptions(faults=FaultSpec(lost=1.0)))
    assert api.call("GET", "/Companies/query", params=SEARCH).status_code == 200
    assert api.call("POST", "/Companies/query", {"filter": []}).status_code == 200


def test_zone_information_is_never_faulted() -> None:
    api = in_process(SandboxOptions(faults=FaultSpec(error500=0.5, throttle=0.5)))
    for _ in range(20):
        zone = api.client.get(f"{V1}/zoneInformation", params={"user": AUTH["UserName"]})
        assert zone.status_code == 200


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("error500=2", "between 0 and 1"),
        ("boom=0.1", "unknown fault 'boom'"),
        ("error500", "expected NAME=VALUE"),
        ("seed=x", "not an integer"),
        ("error500=0.7,throttle=0.5", "must not exceed 1"),
        ("", "empty"),
    ],
)
def test_bad_fault_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultSpec.parse(spec)


def contract(company: int) -> dict[str, Any]:
    return {
        "companyID": company,
        "contractName": "M365",
        "contractType": 7,
        "contractPeriodType": 1,
        "startDate": "2024-10-01T12:00:00Z",
        "endDate": "2025-09-30T12:00:00Z",
        "status": 1,
        "timeReportingRequiresStartAndStopTimes": 0,
    }

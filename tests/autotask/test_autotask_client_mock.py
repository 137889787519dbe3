"""The client's failure paths, driven by a scripted fake over `httpx.MockTransport`."""

from __future__ import annotations

import itertools
import json
import logging
import traceback

import httpx
import pytest

from billbridge.autotask import (
    AuthenticationError,
    AutotaskClient,
    ClientUsageError,
    F,
    NotFoundError,
    PaginationLoopError,
    ProtocolError,
    ServerError,
    ThresholdInfo,
    ThrottledError,
    UnknownOutcomeError,
    ValidationError,
)
from billbridge.autotask.throttle import ThresholdGovernor
from tests.autotask.autotask_helpers import (
    BASE,
    LOOKUP,
    SECRET,
    Answer,
    FakeAutotask,
    Sleeps,
    client_for,
    config,
    reply,
)

GENERIC = {"Message": "An error has occurred."}
THREAD = {"errors": ["Thread Threshold Exceeded ... (Itgenatr005)"]}
COMPANY = {"item": {"id": 5, "companyName": "Contoso"}}


def raise_(exc_type: type[httpx.TransportError]) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)

    return answer


# -- retries only where safe -------------------------------------------------------------------


def test_reads_are_retried_with_backoff_and_jitter() -> None:
    fake = FakeAutotask().on(
        "GET", "/Companies/5", reply(500, GENERIC), reply(503), reply(200, COMPANY)
    )
    sleeps = Sleeps()
    with client_for(fake, sleeps) as client:
        assert client.get("Companies", 5) == COMPANY["item"]
        assert client.stats.retries == 2
    assert len(fake.sent("GET")) == 3
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_retries_are_bounded() -> None:
    fake = FakeAutotask().on("POST", "/Companies/query", reply(502))
    with client_for(fake, max_attempts=3) as client, pytest.raises(ServerError):
        list(client.query("Companies"))
    assert len(fake.sent("POST")) == 3


@pytest.mark.parametrize(
    "failure",
    [reply(500, GENERIC), reply(502, "<html>bad gateway</html>"), reply(504),
     raise_(httpx.ReadTimeout), raise_(httpx.RemoteProtocolError), raise_(httpx.WriteError)],
)  # fmt: skip
def test_a_write_that_may_have_happened_is_never_resent(failure: Answer) -> None:
    fake = FakeAutotask().on("POST", "/Companies$", failure, reply(200, {"itemId": 7}))
    with client_for(fake) as client, pytest.raises(UnknownOutcomeError) as caught:
        client.create("Companies", {"companyName": "x"})
    assert len(fake.sent("POST")) == 1
    assert caught.value.kind == "unknown_outcome"
    assert not caught.value.retriable


@pytest.mark.parametrize("method", ["PATCH"])
def test_updates_are_not_resent_either(method: str) -> None:
    fake = FakeAutotask().on(method, "/Contracts/9/Charges$", reply(500, GENERIC))
    with client_for(fake) as client, pytest.raises(UnknownOutcomeError):
        client.update_child("Contracts", 9, "Charges", {"id": 3, "unitQuantity": 2})
    assert len(fake.sent(method)) == 1


def test_a_write_refused_before_sending_is_retried() -> None:
    fake = FakeAutotask().on(
        "POST", "/Companies$", raise_(httpx.ConnectError), raise_(httpx.ConnectTimeout),
        reply(200, {"itemId": 7}),
    )  # fmt: skip
    with client_for(fake) as client:
        assert client.create("Companies", {"companyName": "x"}) == 7
    assert len(fake.requests) == 4  # zone + 3 attempts, of which 2 never connected


def test_writes_are_retried_after_429_and_thread_limit() -> None:
    fake = FakeAutotask().on(
        "POST", "/Products$", reply(429, {"errors": ["busy"]}, **{"Retry-After": "7"}),
        reply(500, THREAD), reply(200, {"itemId": 11}),
    )  # fmt: skip
    sleeps = Sleeps()
    with client_for(fake, sleeps) as client:
        assert client.create("Products", {"name": "x"}) == 11
        snapshot = client.stats.snapshot()
    assert sleeps[0] == 7.0  # Retry-After honoured
    assert len(sleeps) == 2
    assert snapshot.retry_after_waits == 1
    assert len(fake.sent("POST")) == 3


def test_retry_after_holds_every_request_of_the_client() -> None:
    clock = [100.0]
    sleeps = Sleeps()

    def sleep(seconds: float) -> None:
        sleeps(seconds)
        clock[0] += seconds

    fake = FakeAutotask()
    fake.on("GET", "/Companies/1", reply(429, **{"Retry-After": "30"}), reply(200, COMPANY))
    client = AutotaskClient(
        config(), transport=httpx.MockTransport(fake), sleep=sleep, clock=lambda: clock[0]
    )
    client._pause.pause(30)  # as after a 429 on another thread
    assert client.get("Companies", 1) == COMPANY["item"]
    assert sleeps[:2] == [30.0, 30.0]
    client.close()


def test_an_excessive_retry_after_is_raised_not_waited() -> None:
    fake = FakeAutotask().on("GET", "/Companies/1", reply(429, **{"Retry-After": "3600"}))
    sleeps = Sleeps()
    with client_for(fake, sleeps) as client, pytest.raises(ThrottledError) as caught:
        client.get("Companies", 1)
    assert caught.value.retry_after == 3600
    assert len(fake.sent()) == 1


def test_validation_errors_are_not_retried_and_keep_autotask_messages() -> None:
    messages = ["Missing Required Field: phone.", "Missing Required Field: companyType."]
    fake = FakeAutotask().on("POST", "/Companies$", reply(500, {"errors": messages}))
    with client_for(fake) as client, pytest.raises(ValidationError) as caught:
        client.create("Companies", {"companyName": "x"})
    assert caught.value.errors == messages
    assert len(fake.sent("POST")) == 1


def test_a_200_write_without_item_id_is_an_unknown_outcome() -> None:
    fake = FakeAutotask().on("POST", "/Companies$", reply(200, {"ok": True}))
    with client_for(fake) as client, pytest.raises(UnknownOutcomeError):
        client.create("Companies", {"companyName": "x"})


# -- secrets -------------------------------------------------------------------------------------


def test_secrets_never_appear_in_errors_reprs_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"errors": [f"bad secret {SECRET}"]}
    fake = FakeAutotask().on("POST", "/Companies$", reply(500, echo))
    fake.on("GET", "/Companies/1", raise_(httpx.ReadTimeout))
    captured: list[BaseException] = []
    with client_for(fake, max_attempts=2) as client:
        assert SECRET not in repr(client) + repr(client.config) + str(client.config)
        for call in (
            lambda: client.create("Companies", {"companyName": "x"}),
            lambda: client.get("Companies", 1),
        ):
            with pytest.raises(Exception) as caught:
                call()
            captured.append(caught.value)
    for error in captured:
        text = str(error) + repr(error) + "".join(traceback.format_exception(error))
        assert SECRET not in text
    assert SECRET not in caplog.text
    assert fake.sent()[0].headers["Secret"] == SECRET  # it is sent, as a header only


def test_headers_and_impersonation_only_on_writes() -> None:
    fake = FakeAutotask().on("GET", "/Companies/1", reply(200, COMPANY))
    fake.on("POST", "/Companies$", reply(200, {"itemId": 2}))
    with client_for(fake, impersonation_resource_id=29682885) as client:
        client.get("Companies", 1)
        client.create("Companies", {"companyName": "x"})
    lookup, read, write = fake.requests
    assert "secret" not in lookup.headers and "username" not in lookup.headers
    assert read.headers["ApiIntegrationCode"] == "INTEGRATION-CODE-27-CHARS-XX"
    assert read.headers["UserName"] == "api@tenant.example"
    assert "ImpersonationResourceId" not in read.headers
    assert write.headers["ImpersonationResourceId"] == "29682885"
    assert write.headers["Content-Type"] == "application/json"
    assert str(write.url) == f"{BASE}/Companies"


def test_impersonation_only_on_entities_that_support_it() -> None:
    fake = FakeAutotask()
    fake.on("POST", "/Products$", reply(200, {"itemId": 3}))
    fake.on("POST", "/Contracts$", reply(200, {"itemId": 4}))
    fake.on("POST", "/Contracts/4/Charges$", reply(200, {"itemId": 5}))
    fake.on("PATCH", "/Contracts/4/Charges$", reply(200, {"itemId": 5}))
    with client_for(fake, impersonation_resource_id=29682885) as client:
        client.create("Products", {"name": "p"})
        client.create("Contracts", {"contractName": "c"})
        client.create_child("Contracts", 4, "Charges", {"name": "x"})
        client.update_child("Contracts", 4, "Charges", {"id": 5, "name": "y"})
    product, contract, charge, update = fake.sent()
    assert product.headers["ImpersonationResourceId"] == "29682885"
    for request in (contract, charge, update):
        assert "ImpersonationResourceId" not in request.headers, request.url


# -- zone ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "accepted"),
    [
        ("https://webservices12.autotask.net/ATServicesRest/", True),
        ("https://webservices.autotask.net/ATServicesRest/", True),
        ("https://webservices29.autotask.net/ATServicesRest/", True),
        ("https://prde.autotask.net/ATServicesRest/", True),  # German pre-release zone
        ("https://PRES.autotask.net/ATServicesRest/", True),  # Spanish pre-release zone
        ("https://evil.example.com/ATServicesRest/", False),
        ("https://prdex.autotask.net/ATServicesRest/", False),
        ("https://pres.autotask.net.evil.com/ATServicesRest/", False),
        ("https://ww5.autotask.net/ATServicesRest/", False),  # the web UI, not the API
        ("http://prde.autotask.net/ATServicesRest/", False),
        ("https://webservices5.autotask.net.evil.com/ATServicesRest/", False),
        ("http://webservices5.autotask.net/ATServicesRest/", False),  # never plain HTTP
        ("https://webservices5.autotask.net:8443/ATServicesRest/", False),
    ],
)
def test_zone_host_allow_list(zone: str, accepted: bool) -> None:
    fake = FakeAutotask(zone).on("GET", "/Version", reply(200, {"majorVersion": "1"}))
    with client_for(fake) as client:
        if accepted:
            client.version()
            sent = str(fake.sent()[0].url).lower()
            assert sent.startswith(zone.rstrip("/").lower() + "/v1.0/")
        else:
            with pytest.raises(ProtocolError, match="untrusted host"):
                client.version()
            assert fake.sent() == []  # no credentials went anywhere


@pytest.mark.parametrize(
    ("lookup", "zone", "accepted"),
    [
        ("http://127.0.0.1:8765/atservicesrest", "http://127.0.0.1:8765/ATServicesRest/", True),
        ("http://127.0.0.1:8765/atservicesrest", "http://127.0.0.1:8766/ATServicesRest/", False),
        ("http://127.0.0.1:8765/atservicesrest", "https://127.0.0.1:8765/ATServicesRest/", False),
        ("http://localhost:8765/atservicesrest", "http://127.0.0.1:8765/ATServicesRest/", False),
    ],
)
def test_the_lookup_host_itself_is_trusted(lookup: str, zone: str, accepted: bool) -> None:
    fake = FakeAutotask(zone).on("GET", "/Version", reply(200, {"build": "x"}))
    with client_for(fake, zone_lookup_url=lookup) as client:
        if accepted:
            assert client.version().build == "x"
        else:
            with pytest.raises(ProtocolError):
                client.version()


def test_zone_is_cached_and_looked_up_without_credentials() -> None:
    fake = FakeAutotask().on("GET", "/Companies/", reply(200, COMPANY))
    with client_for(fake) as client:
        client.get("Companies", 1)
        client.get("Companies", 2)
        assert client.zone().api_base == BASE
    assert fake.lookups == 1
    assert str(fake.requests[0].url) == f"{LOOKUP}/v1.0/zoneInformation?user=api@tenant.example"


def test_looked_up_again_once_on_401() -> None:
    moved = "https://webservices6.autotask.net/ATServicesRest/"
    fake = FakeAutotask("https://webservices5.autotask.net/ATServicesRest/", moved)
    fake.on("GET", "webservices5.*/Companies/1", reply(401))
    fake.on("GET", "webservices6.*/Companies/1", reply(200, COMPANY))
    with client_for(fake) as client:
        assert client.get("Companies", 1) == COMPANY["item"]
    assert fake.lookups == 2


def test_a_401_in_the_same_zone_is_raised_after_one_lookup() -> None:
    fake = FakeAutotask().on("POST", "/Companies$", reply(401))
    with client_for(fake) as client, pytest.raises(AuthenticationError):
        client.create("Companies", {"companyName": "x"})
    assert fake.lookups == 2
    assert len(fake.sent("POST")) == 1


def test_an_unknown_user_fails_the_zone_lookup_as_authentication() -> None:
    def zone(request: httpx.Request) -> httpx.Response:
        return reply(500, {"errors": ["Zone information could not be determined"]})

    transport = httpx.MockTransport(zone)
    with (
        AutotaskClient(config(), transport=transport) as client,
        pytest.raises(AuthenticationError) as caught,
    ):
        client.get("Companies", 1)
    assert caught.value.kind == "fatal"


def test_an_early_zone_lookup_saves_the_first_request_its_lookup() -> None:
    fake = FakeAutotask().on("GET", "/Companies/1", reply(200, COMPANY))
    with client_for(fake) as client:
        client.look_up_zone_early()
        assert client.get("Companies", 1) is not None
        assert client.get("Companies", 1) is not None
    assert fake.lookups == 1
    assert "zoneinformation" in fake.requests[0].url.path.lower()


def test_a_failed_early_zone_lookup_is_raised_by_the_first_request() -> None:
    lookups: list[httpx.Request] = []

    def zone(request: httpx.Request) -> httpx.Response:
        lookups.append(request)
        return reply(500, {"errors": ["Zone information could not be determined"]})

    with (
        AutotaskClient(config(), transport=httpx.MockTransport(zone)) as client,
        pytest.raises(AuthenticationError),
    ):
        client.look_up_zone_early()
        client.get("Companies", 1)
    assert len(lookups) == 2  # the early one, quiet, then the first request's own


# -- paging ----------------------------------------------------------------------------------------


def page(ids: list[int], next_url: str | None) -> httpx.Response:
    return reply(
        200,
        {"items": [{"id": i} for i in ids],
         "pageDetails": {"count": len(ids), "requestCount": 500, "prevPageUrl": None,
                         "nextPageUrl": next_url}},
    )  # fmt: skip


def test_pages_are_followed_by_reposting_the_same_body() -> None:
    next_1 = f"{BASE}/Companies/query/next?paging=p1&search=x"
    next_2 = f"{BASE}/Companies/query/next?paging=p2&search=x"
    fake = FakeAutotask()
    fake.on("POST", "query/next\\?paging=p2", page([5], None))
    fake.on("POST", "query/next\\?paging=p1", page([3, 4], next_2))
    fake.on("POST", "/Companies/query$", page([1, 2], next_1))
    with client_for(fake) as client:
        ids = [c["id"] for c in client.query("Companies", [F.eq("isActive", True)])]
    assert ids == [1, 2, 3, 4, 5]
    bodies = [json.loads(r.content) for r in fake.sent("POST")]
    assert len(bodies) == 3 and bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["filter"] == [{"op": "eq", "field": "isActive", "value": True}]


def test_a_paging_loop_is_detected() -> None:
    loop = f"{BASE}/Companies/query/next?paging=same"
    fake = FakeAutotask()
    fake.on("POST", "paging=same", page([3], loop))
    fake.on("POST", "/Companies/query$", page([1, 2], loop))
    with client_for(fake) as client, pytest.raises(PaginationLoopError):
        list(client.query("Companies"))
    assert len(fake.sent("POST")) == 2


def test_a_page_repeating_records_is_a_loop() -> None:
    fake = FakeAutotask()
    fake.on("POST", "paging=2", page([1, 2], f"{BASE}/Companies/query/next?paging=3"))
    fake.on("POST", "/Companies/query$", page([1, 2], f"{BASE}/Companies/query/next?paging=2"))
    with client_for(fake) as client, pytest.raises(PaginationLoopError):
        list(client.query("Companies"))


def test_next_page_on_another_host_is_refused() -> None:
    fake = FakeAutotask().on("POST", "/Companies/query$", page([1], "https://evil.test/next"))
    with client_for(fake) as client, pytest.raises(ProtocolError, match="another host"):
        list(client.query("Companies"))
    assert all("evil" not in str(r.url) for r in fake.requests)


# -- local validation ----------------------------------------------------------------------------


def test_invalid_requests_are_refused_before_sending() -> None:
    fake = FakeAutotask()
    with client_for(fake) as client:
        with pytest.raises(ClientUsageError):
            client.query("Companies", [F.eq("a", 1), F.udf_eq("X", "1"), F.udf_eq("Y", "2")])
        with pytest.raises(ClientUsageError):
            client.query("Companies", max_records=1000)
        with pytest.raises(ClientUsageError, match="entity name"):
            client.get("Companies/1/../x", 1)
        with pytest.raises(ClientUsageError, match="integer 'id'"):
            client.update("Companies", {"companyName": "no id"})
        with pytest.raises(ClientUsageError):
            client.query_in("Contracts", "id", [1], batch_size=501)
    assert fake.requests == []


def test_get_missing_and_unknown_route() -> None:
    fake = FakeAutotask().on("GET", "/Companies/404", reply(200, {"item": None}))
    with client_for(fake) as client:
        assert client.get("Companies", 404) is None
        with pytest.raises(NotFoundError):
            client.get("Tickets", 1)


def test_query_in_sends_one_query_per_batch() -> None:
    fake = FakeAutotask().on("POST", "/Contracts/query$", page([], None))
    values = [f"s{i}" for i in range(450)]
    with client_for(fake) as client:
        assert list(client.query_in("Contracts", "Subscription ID", values, udf=True)) == []
    sizes = [len(json.loads(r.content)["filter"][0]["value"]) for r in fake.sent("POST")]
    assert sizes == [200, 200, 50]
    assert json.loads(fake.sent("POST")[0].content)["filter"][0]["udf"] is True


# -- threshold pacing ----------------------------------------------------------------------------


class FakeThreshold:
    def __init__(self, *counts: int) -> None:
        self.counts = list(counts)
        self.reads = 0

    def __call__(self) -> ThresholdInfo:
        count = self.counts[min(self.reads, len(self.counts) - 1)]
        self.reads += 1
        return ThresholdInfo(10_000, 60, count)


def governor(
    read: FakeThreshold, sleeps: Sleeps, clock: list[float], **kw: float
) -> ThresholdGovernor:
    def sleep(seconds: float) -> None:
        sleeps(seconds)
        clock[0] += seconds

    return ThresholdGovernor(
        read,
        share=kw.get("share", 0.5),
        check_every=int(kw.get("check_every", 100)),
        check_interval_s=60,
        max_wait_s=kw.get("max_wait_s", 600),
        sleep=sleep,
        clock=lambda: clock[0],
    )


def test_no_pacing_while_well_under_the_share() -> None:
    sleeps, clock = Sleeps(), [0.0]
    g = governor(FakeThreshold(1000), sleeps, clock)
    for _ in range(50):
        g.before_request()
    assert sleeps == []


def test_pacing_grows_as_the_share_is_approached() -> None:
    sleeps, clock = Sleeps(), [0.0]
    g = governor(FakeThreshold(4500), sleeps, clock, check_every=1000)
    for _ in range(5):
        g.before_request()
    assert sleeps and all(s > 0 for s in sleeps[1:])
    spacing = [b - a for a, b in itertools.pairwise(sleeps)]
    assert all(s >= -1e-9 for s in spacing)  # waits never shrink as usage climbs


def test_waits_when_the_share_is_used_up_then_goes_on() -> None:
    sleeps, clock = Sleeps(), [0.0]
    read = FakeThreshold(5000, 5000, 3000)
    g = governor(read, sleeps, clock)
    g.before_request()
    assert sleeps == [60.0, 60.0]
    assert read.reads == 3


def test_raises_throttled_when_the_share_stays_used_up() -> None:
    sleeps, clock = Sleeps(), [0.0]
    g = governor(FakeThreshold(9000), sleeps, clock, max_wait_s=180)
    with pytest.raises(ThrottledError, match="share"):
        g.before_request()
    assert sum(sleeps) == 180


def test_threshold_is_read_periodically_through_the_client() -> None:
    answer = {"externalRequestThreshold": 10000, "requestThresholdTimeframe": 60,
              "currentTimeframeRequestCount": 12}  # fmt: skip
    fake = FakeAutotask().on("GET", "/ThresholdInformation", reply(200, answer))
    fake.on("GET", "/Companies/", reply(200, COMPANY))
    with client_for(fake, threshold_check_every=5) as client:
        for index in range(12):
            client.get("Companies", index)
    reads = fake.sent("GET", "ThresholdInformation")
    assert len(reads) == 3  # before the 1st, 6th and 11th request


def test_requests_started_together_share_one_zone_lookup() -> None:
    from concurrent.futures import ThreadPoolExecutor

    fake = FakeAutotask().on("GET", "/Companies/1", reply(200, COMPANY))
    with client_for(fake) as client, ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: client.get("Companies", 1), range(8)))
    assert fake.lookups == 1
    assert all(c is not None for c in found)

"""`MicrosoftHttp` over real HTTP: the token request's throttling and wrong URLs, URLs that
cannot be requested, and no secret from a URL in any message or log line."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from billbridge.microsoft.client import PartnerCenterClient
from billbridge.microsoft.errors import (
    CredentialsError,
    MalformedResponseError,
    MicrosoftError,
    ThrottledError,
    UnavailableError,
    UrlSettingError,
    shown_url,
)
from billbridge.microsoft.http import MicrosoftHttp
from billbridge.microsoft.settings import GRAPH_SCOPE, MicrosoftSettings
from billbridge.pulling import pull_partner_center
from tests.microsoft.conftest import PullFactory
from tests.microsoft.test_cli_pull import _run

SECRET = "sandbox-partner-secret"
TOKEN = {"token_type": "Bearer", "expires_in": 3599, "access_token": "t0ken"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: object = field(default_factory=dict)
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class TinyServer:
    """A local HTTP server answering each request with the next scripted `Answer` (the last
    one again when the script runs out), recording the paths it was asked for."""

    origin: str
    script: list[Answer]
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def tiny_server() -> Iterator[TinyServer]:
    state = TinyServer("", [Answer(200, TOKEN)])

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            state.paths.append(self.path)
            answer = state.script.pop(0) if len(state.script) > 1 else state.script[0]
            body = json.dumps(answer.body).encode()
            self.send_response(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def _settings(authority_url: str, **changes: object) -> MicrosoftSettings:
    values: dict[str, object] = {
        "tenant_id": "tenant-1",
        "client_id": "client-1",
        "client_secret": SecretStr(SECRET),
        "authority_url": authority_url,
        "graph_url": authority_url,
        "api_url": authority_url,
    }
    return MicrosoftSettings(**(values | changes))  # type: ignore[arg-type]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _assert_hidden(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    for shown in (str(error), repr(error), caplog.text):
        assert SECRET not in shown


# -- the token request ----------------------------------------------------------------------


def test_a_throttled_token_request_is_waited_out_as_retry_after_asks(
    tiny_server: TinyServer,
) -> None:
    tiny_server.script[:] = [Answer(429, {}, (("Retry-After", "1"),)), Answer(200, TOKEN)]
    sleeps: list[float] = []
    with MicrosoftHttp(_settings(tiny_server.origin), sleep=sleeps.append) as http:
        assert http.token(GRAPH_SCOPE) == "t0ken"
    assert sleeps == [1.0]
    assert tiny_server.paths == ["/tenant-1/oauth2/v2.0/token"] * 2


def test_a_token_request_throttled_for_real_time_succeeds(tiny_server: TinyServer) -> None:
    tiny_server.script[:] = [
        Answer(429, {}, (("Retry-After", "0"),)),
        Answer(503, {}, (("Retry-After", "0"),)),
        Answer(200, TOKEN),
    ]
    with MicrosoftHttp(_settings(tiny_server.origin)) as http:
        assert http.token(GRAPH_SCOPE) == "t0ken"
    assert len(tiny_server.paths) == 3


def test_token_throttling_that_never_ends_is_bounded_and_retriable(
    tiny_server: TinyServer,
) -> None:
    tiny_server.script[:] = [Answer(429, {}, (("Retry-After", "30"),))]
    sleeps: list[float] = []
    settings = _settings(tiny_server.origin, throttle_wait_s=100.0)
    with (
        MicrosoftHttp(settings, sleep=sleeps.append) as http,
        pytest.raises(ThrottledError, match="the app token request") as raised,
    ):
        http.token(GRAPH_SCOPE)
    assert raised.value.kind == "retriable" and raised.value.status == 429
    assert sleeps == [30.0, 30.0, 30.0]


def test_a_token_404_names_authority_url(
    tiny_server: TinyServer, caplog: pytest.LogCaptureFixture
) -> None:
    tiny_server.script[:] = [Answer(404, {"error": "not found"})]
    caplog.set_level(logging.DEBUG)
    with (
        MicrosoftHttp(_settings(f"{tiny_server.origin}/wrong")) as http,
        pytest.raises(UrlSettingError) as raised,
    ):
        http.token(GRAPH_SCOPE)
    message = str(raised.value)
    assert "partner_center.authority_url" in message
    assert "client_secret" not in message and "tenant_id" not in message
    assert raised.value.kind == "fatal" and raised.value.status == 404
    _assert_hidden(raised.value, caplog)


def test_an_unknown_tenant_answered_404_with_aadsts_still_names_tenant_id(
    tiny_server: TinyServer,
) -> None:
    body = {"error": "invalid_request", "error_description": "AADSTS90002: Tenant not found."}
    tiny_server.script[:] = [Answer(404, body)]
    with (
        MicrosoftHttp(_settings(tiny_server.origin)) as http,
        pytest.raises(CredentialsError, match=r"partner_center\.tenant_id"),
    ):
        http.token(GRAPH_SCOPE)


def test_a_wrong_authority_path_at_the_emulator_exits_2_naming_authority_url(
    make_pull: PullFactory,
) -> None:
    pulling = make_pull()
    wrong = pulling.settings.partner_center.authority_url.replace("/login", "/nowhere")
    with pytest.raises(UrlSettingError, match=r"partner_center\.authority_url"):
        pull_partner_center(
            pulling.store, pulling.with_partner_center(authority_url=wrong), today=pulling.today
        )
    code, out, err = _run(pulling.write_config(authority_url=wrong), "pull", "partner-center")
    assert code == 2, err
    assert "partner_center.authority_url" in err and "client_secret" not in err
    assert SECRET not in out + err


def test_the_emulator_s_unknown_tenant_still_names_tenant_id(make_pull: PullFactory) -> None:
    pulling = make_pull()
    settings = pulling.with_partner_center(tenant_id="11111111-1111-1111-1111-111111111111")
    with pytest.raises(CredentialsError, match=r"partner_center\.tenant_id") as raised:
        pull_partner_center(pulling.store, settings, today=pulling.today)
    assert "authority_url" not in str(raised.value)


# -- URLs that cannot be requested ----------------------------------------------------------


@pytest.mark.parametrize(
    "authority_url",
    [
        f"http://127.0.0.1:{SECRET}/microsoft/login",
        f"http://[{SECRET}]/microsoft/login",
        f"ftp://{SECRET}/login",
    ],
)
def test_an_authority_url_httpx_refuses_is_fatal_and_not_quoted(
    authority_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sleeps: list[float] = []
    # Settings are refused at load; MicrosoftSettings built another way reach the client.
    with (
        MicrosoftHttp(_settings(authority_url), sleep=sleeps.append) as http,
        pytest.raises(UrlSettingError) as raised,
    ):
        http.token(GRAPH_SCOPE)
    assert raised.value.kind == "fatal" and raised.value.url == ""
    assert "partner_center.authority_url" in str(raised.value)
    assert sleeps == []  # refused at once: retrying cannot mend a URL
    _assert_hidden(raised.value, caplog)


def test_a_graph_url_httpx_refuses_names_graph_url(
    tiny_server: TinyServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    graph = f"http://127.0.0.1:{SECRET}/graph"
    with (
        MicrosoftHttp(_settings(tiny_server.origin, graph_url=graph)) as http,
        pytest.raises(UrlSettingError, match=r"partner_center\.graph_url") as raised,
    ):
        http.call("GET", f"{graph}/invoices", scope=GRAPH_SCOPE, what="the invoice list")
    _assert_hidden(raised.value, caplog)


def test_a_blob_url_httpx_refuses_fails_that_blob_only(
    tiny_server: TinyServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"https://blob.example:{SECRET}/c/b.json.gz?sig=s"
    with (
        MicrosoftHttp(_settings(tiny_server.origin)) as http,
        pytest.raises(MalformedResponseError) as raised,
        http.blob(url, "b.json.gz"),
    ):
        pass
    assert raised.value.kind == "rejected"
    _assert_hidden(raised.value, caplog)


# -- URLs in messages and logs --------------------------------------------------------------


def test_user_info_and_query_never_reach_a_message_or_the_logs(
    tiny_server: TinyServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tiny_server.script[:] = [Answer(404, {})]
    host = tiny_server.origin.removeprefix("http://")
    with (
        MicrosoftHttp(_settings(f"http://bb:{SECRET}@{host}/login")) as http,
        pytest.raises(UrlSettingError) as raised,
    ):
        http.token(GRAPH_SCOPE)
    assert raised.value.url == f"http://{host}/login/tenant-1/oauth2/v2.0/token"
    assert "HTTP Request" in caplog.text  # httpx did log the request
    _assert_hidden(raised.value, caplog)


def test_an_unreachable_url_with_user_info_is_retriable_and_hidden(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sleeps: list[float] = []
    url = f"http://bb:{SECRET}@127.0.0.1:{_closed_port()}/login"
    with (
        MicrosoftHttp(_settings(url), sleep=sleeps.append) as http,
        pytest.raises(UnavailableError) as raised,
    ):
        http.token(GRAPH_SCOPE)
    assert raised.value.kind == "retriable" and len(sleeps) == 2
    _assert_hidden(raised.value, caplog)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://bb:{SECRET}@h.example:8811/p?sig={SECRET}", "https://h.example:8811/p"),
        (f"https://{SECRET}@h.example/p#{SECRET}", "https://h.example/p"),
        (f"http://127.0.0.1:{SECRET}/microsoft/login", "http://127.0.0.1:***/microsoft/login"),
        (f"http://[{SECRET}]:1/x", "http://[***]:1/x"),
        (f"http://[::1]:{SECRET}/x", "http://[::1]:***/x"),
        ("http://[::1]:8811/x", "http://[::1]:8811/x"),
        (f"bb:{SECRET}@h.example/p", "h.example/p"),
        ("https://graph.microsoft.com/v1.0/x", "https://graph.microsoft.com/v1.0/x"),
    ],
)
def test_shown_url_keeps_only_what_cannot_be_a_secret(url: str, shown: str) -> None:
    assert shown_url(url) == shown
    assert SECRET not in str(MicrosoftError("failed", status=500, url=url))


def test_the_client_reads_partner_center_s_error_description(tiny_server: TinyServer) -> None:
    found = {
        "code": 3000,
        "description": "Partner Organization with partner_id 9999999 could not be found",
        "data": [],
        "source": "PartnerFD",
    }
    tiny_server.script = [Answer(200, TOKEN), Answer(400, found)]
    client = PartnerCenterClient(_settings(tiny_server.origin), sleep=lambda _: None)
    with client, pytest.raises(MalformedResponseError) as raised:
        client.invoices()
    assert "3000" in str(raised.value)
    assert "could not be found" in str(raised.value)

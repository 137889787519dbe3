"""The web admin's security rules, over real HTTP: sessions, cookies, CSRF, login throttle,
and secrets that never reach a page."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from starlette.routing import Route

from billbridge.config import AutotaskSettings, DatabaseSettings, Settings, WebSettings
from billbridge.store import Store
from billbridge.web import create_web_app
from billbridge.web.app import routes
from billbridge.web.security import LoginThrottle
from tests.web.conftest import PASSWORD, SESSION_SECRET, ServedApp, World, csrf_of, login

PAGES = [
    "/",
    "/organizations",
    "/organizations?show=unlinked&q=fab",
    "/organizations/6a1f2c3e-0002-4c1e-9a7e-222222222222",
    "/reports",
    "/reports/bb-2026-10-contoso",
    "/runs",
    "/runs/1",
    "/runs/1.json",
    "/settings",
    "/doctor",
]


def post_routes(world: World) -> list[str]:
    """Every POST route of the app, with real ids in place of its parameters."""
    values = {
        "organization_id": world.organization_id("Contoso Ltd"),
        "report_id": "bb-2026-10-contoso",
    }
    found = []
    for route in routes():
        if isinstance(route, Route) and route.methods and "POST" in route.methods:
            path = re.sub(
                r"{(\w+)(:\w+)?}", lambda m: values[m.group(1)], route.path
            )  # {name} or {name:path}
            found.append(path)
    return found


@pytest.fixture
def anonymous(admin_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=admin_url, follow_redirects=False, timeout=30) as client:
        yield client


@pytest.mark.parametrize("path", PAGES)
def test_pages_without_a_session_redirect_to_the_login_form(
    anonymous: httpx.Client, path: str
) -> None:
    response = anonymous.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


def test_posts_without_a_session_are_refused(shared_world: World, anonymous: httpx.Client) -> None:
    paths = post_routes(shared_world)
    assert "/logout" in paths and "/reports/export" in paths and len(paths) >= 6
    for path in paths:
        response = anonymous.post(path, data={"csrf_token": "anything", "company_id": "1"})
        assert response.status_code in (401, 403), path
        assert "billbridge_session" not in response.headers.get("set-cookie", "")


def test_a_forged_session_cookie_is_no_session(anonymous: httpx.Client) -> None:
    anonymous.cookies.set("billbridge_session", "made-up.signature")
    assert anonymous.get("/").status_code == 303


def test_the_right_password_opens_a_session_with_safe_cookie_flags(
    anonymous: httpx.Client, admin_url: str
) -> None:
    response = login(anonymous, admin_url)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("billbridge_session=")
    )
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags
    assert "samesite=lax" in flags or "samesite=strict" in flags
    assert "path=/" in flags
    assert "secure" not in flags  # plain http here: a Secure cookie would never come back
    assert anonymous.get("/").status_code == 200


def test_the_session_cookie_is_secure_behind_https(anonymous: httpx.Client) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1, as from a reverse proxy on the host.
    https = {"X-Forwarded-Proto": "https"}
    form = anonymous.get("/login", headers=https)
    login_cookie = form.headers["set-cookie"]
    assert "secure" in login_cookie.lower()
    # httpx keeps a Secure cookie to itself over http; hand it over as the proxy would.
    anonymous.cookies.clear()
    response = anonymous.post(
        "/login",
        data={"password": PASSWORD, "csrf_token": csrf_of(form.text)},
        headers={**https, "Cookie": login_cookie.split(";")[0]},
    )
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("billbridge_session=")
    )
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_a_wrong_password_is_refused(anonymous: httpx.Client, admin_url: str) -> None:
    response = login(anonymous, admin_url, password="wrong " + PASSWORD)
    assert response.status_code == 401
    assert "Wrong password" in response.text
    assert "billbridge_session" not in response.headers.get("set-cookie", "")
    assert anonymous.get("/").status_code == 303
    assert login(anonymous, admin_url, password="").status_code == 401


def test_the_login_form_needs_its_own_token(anonymous: httpx.Client) -> None:
    anonymous.get("/login")
    assert anonymous.post("/login", data={"password": PASSWORD}).status_code == 403
    wrong = {"password": PASSWORD, "csrf_token": "not-the-token"}
    assert anonymous.post("/login", data=wrong).status_code == 403
    form = anonymous.get("/login")
    anonymous.cookies.clear()  # a form posted from another site has no login cookie
    response = anonymous.post(
        "/login", data={"password": PASSWORD, "csrf_token": csrf_of(form.text)}
    )
    assert response.status_code == 403


def test_after_login_only_local_pages_are_followed(anonymous: httpx.Client) -> None:
    for target, expected in [
        ("/reports?state=due", "/reports?state=due"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ]:
        anonymous.cookies.clear()
        form = anonymous.get("/login", params={"next": target})
        response = anonymous.post(
            "/login",
            data={"password": PASSWORD, "csrf_token": csrf_of(form.text), "next": target},
        )
        assert response.headers["location"] == expected, target


def test_every_post_refuses_a_missing_or_wrong_csrf_token(
    shared_world: World, logged_in: httpx.Client
) -> None:
    before = _links(shared_world), _runs(shared_world)
    for path in post_routes(shared_world):
        for data in ({}, {"csrf_token": ""}, {"csrf_token": "0" * 43}):
            response = logged_in.post(path, data={**data, "company_id": "10001", "due": "1"})
            assert response.status_code == 403, (path, data)
            assert "CSRF" in response.text
    assert (_links(shared_world), _runs(shared_world)) == before
    assert logged_in.get("/").status_code == 200  # still logged in: logout was refused too


def test_a_session_token_does_not_work_for_another_session(
    admin_url: str, logged_in: httpx.Client
) -> None:
    with httpx.Client(base_url=admin_url, follow_redirects=False, timeout=30) as other:
        login(other, admin_url)
        theirs = csrf_of(other.get("/").text)
        mine = csrf_of(logged_in.get("/").text)
        assert theirs != mine
        assert logged_in.post("/logout", data={"csrf_token": theirs}).status_code == 403


def test_logout_ends_the_session_for_good(admin_url: str, logged_in: httpx.Client) -> None:
    cookie = logged_in.cookies["billbridge_session"]
    token = csrf_of(logged_in.get("/").text)
    response = logged_in.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303 and response.headers["location"] == "/login?out=1"
    assert logged_in.get("/").status_code == 303
    with httpx.Client(base_url=admin_url, follow_redirects=False, timeout=30) as replay:
        replay.cookies.set("billbridge_session", cookie)
        assert replay.get("/").status_code == 303
        assert replay.post("/logout", data={"csrf_token": token}).status_code == 401


def test_pages_carry_security_headers(logged_in: httpx.Client) -> None:
    response = logged_in.get("/")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "script-src" not in response.headers["content-security-policy"]  # none: default-src
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert "<script" not in response.text


def test_repeated_wrong_passwords_are_slowed_and_then_refused(shared_world: World) -> None:
    url = shared_world.serve(throttle=LoginThrottle(max_failures=3, base_delay_s=0.05)).url
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        for _ in range(3):
            assert login(client, url, password="guess").status_code == 401
        refused = login(client, url)  # even the right one, for a while
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "Too many wrong passwords" in refused.text
        assert client.get("/").status_code == 303


def test_no_secret_reaches_any_page(shared_world: World, logged_in: httpx.Client) -> None:
    secrets = _secrets(shared_world)
    for path in [*PAGES, "/login", "/organizations?show=linked", "/nope"]:
        _assert_clean(logged_in.get(path).text, secrets, path)


def test_no_secret_reaches_a_page_when_autotask_refuses_the_credentials(
    shared_world: World,
) -> None:
    """With a wrong secret, every Autotask call fails: the errors shown must not echo it."""
    wrong_secret = "S3cr3t-XYZZY-do-not-show"
    settings = dataclasses.replace(
        shared_world.settings,
        autotask=AutotaskSettings(
            zone_lookup_url=shared_world.sandbox.zone_lookup_url,
            username=shared_world.sandbox.username,
            secret=SecretStr(wrong_secret),
            integration_code=SecretStr("INTEGRATION-CODE-do-not-show"),
        ),
        web=WebSettings(
            admin_password=SecretStr("another password, do not show"),
            session_secret=SecretStr("another session secret, do not show"),
        ),
    )
    url = shared_world.serve(settings).url
    secrets = [
        wrong_secret,
        "INTEGRATION-CODE-do-not-show",
        "another password, do not show",
        "another session secret, do not show",
    ]
    fabrikam = shared_world.organization_id("Fabrikam, Inc.")
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        assert login(client, url, password="another password, do not show").status_code == 303
        report = client.get("/reports/bb-2026-10-contoso")
        assert "The plan could not be made" in report.text
        doctor = client.get("/doctor")
        assert "failing" in doctor.text
        token = csrf_of(client.get("/").text)
        exported = client.post(
            "/reports/bb-2026-10-contoso/export", data={"csrf_token": token}, follow_redirects=True
        )
        assert "The export did not run" in exported.text
        linked = client.post(
            f"/organizations/{fabrikam}/link",
            data={"csrf_token": token, "company_id": "10002"},
            follow_redirects=True,
        )
        assert "Not linked" in linked.text
        for path in [*PAGES, f"/organizations/{fabrikam}"]:
            _assert_clean(client.get(path).text, secrets, path)
        for page in (report, doctor, exported, linked):
            _assert_clean(page.text, secrets, str(page.url))


def _secrets(world: World) -> list[str]:
    integration = world.settings.autotask.integration_code
    assert integration is not None
    return [PASSWORD, SESSION_SECRET, integration.get_secret_value()]


def _assert_clean(html: str, secrets: list[str], where: str) -> None:
    for secret in secrets:
        assert secret not in html, f"{where} shows a secret"
        assert secret.replace("&", "&amp;") not in html, f"{where} shows a secret"


def _links(world: World) -> dict[str, int | None]:
    with world.store.transaction() as uow:
        return {o.organization_id: o.autotask_company_id for o in uow.organizations.all()}


def _runs(world: World) -> int:
    with world.store.transaction() as uow:
        return len(uow.runs.recent(1000))


def _untrusting(world: World) -> World:
    """The world's settings with no trusted proxy, as `serve` runs by default."""
    web = world.settings.web.model_copy(update={"trusted_proxies": ()})
    return dataclasses.replace(world, settings=dataclasses.replace(world.settings, web=web))


def test_a_forged_forwarded_for_does_not_escape_the_throttle(shared_world: World) -> None:
    plain = _untrusting(shared_world).settings
    url = shared_world.serve(plain, throttle=LoginThrottle(max_failures=3, base_delay_s=0.01)).url
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        for n in range(3):
            client.headers["X-Forwarded-For"] = f"198.51.100.{n}"  # a new "address" each time
            assert login(client, url, password="guess").status_code == 401
        client.headers["X-Forwarded-For"] = "198.51.100.99"
        assert login(client, url, password="guess").status_code == 429
        https = client.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert "secure" not in https.headers["set-cookie"].lower()  # not believed either


def test_an_attacker_behind_the_trusted_proxy_cannot_lock_the_owner_out(
    shared_world: World,
) -> None:
    throttle = LoginThrottle(
        max_failures=5, alert_failures=10, alert_max_failures=2, base_delay_s=0.01, max_delay_s=0.01
    )
    url = shared_world.serve(throttle=throttle).url
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as attacker:
        for n in range(40):  # many addresses, as the proxy reports them
            attacker.headers["X-Forwarded-For"] = f"198.51.100.{n % 20}"
            status = login(attacker, url, password=f"guess-{n}").status_code
            assert status in (401, 429)
        assert throttle.on_alert()
        assert login(attacker, url).status_code == 429  # two wrong ones on alert: locked
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as owner:
        owner.headers["X-Forwarded-For"] = "203.0.113.7"
        assert login(owner, url).status_code == 303
        assert owner.get("/").status_code == 200


@pytest.mark.parametrize("password", ["", "   "])
def test_an_empty_admin_password_opens_nothing(shared_world: World, password: str) -> None:
    web = shared_world.settings.web.model_copy(update={"admin_password": SecretStr(password)})
    url = shared_world.serve(
        dataclasses.replace(shared_world.settings, web=web),
        throttle=LoginThrottle(base_delay_s=0.01),
    ).url
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        assert login(client, url, password=password).status_code == 401
        assert client.get("/").status_code == 303


@pytest.mark.parametrize(
    "path",
    [
        "/runs/99999999999999999999999",
        "/runs/99999999999999999999999.json",
        "/runs/9223372036854775808",
        "/runs/-1",
        "/runs/0",
        "/runs/1e3",
        "/runs/%C2%B2",  # a superscript two: str.isdigit() says yes, int() says no
        "/runs/abc",
        "/reports/%00",
        "/reports/a%00b",
        "/reports/-1",
        "/reports/99999999999999999999999",
        "/reports/" + "x" * 5000,
        "/organizations/%00",
        "/organizations/%1b%5b31m",
        "/organizations/" + "y" * 5000,
    ],
)
def test_odd_ids_are_not_found(logged_in: httpx.Client, path: str) -> None:
    response = logged_in.get(path)
    assert response.status_code == 404, (path, response.status_code)
    assert "Something went wrong" not in response.text


@pytest.mark.postgres
def test_odd_ids_are_not_found_on_postgresql_too(postgres_url: str) -> None:
    # PostgreSQL refuses a NUL byte in a string parameter with an error, not a miss.
    settings = dataclasses.replace(
        Settings.defaults(),
        database=DatabaseSettings(url=postgres_url),
        web=WebSettings(admin_password=SecretStr(PASSWORD)),
    )
    store = Store(postgres_url)
    served = ServedApp(create_web_app(settings, store), settings)
    try:
        with httpx.Client(base_url=served.url, follow_redirects=False, timeout=30) as client:
            assert login(client, served.url).status_code == 303
            for path in ("/reports/%00", "/organizations/a%00", "/runs/99999999999999999999999"):
                assert client.get(path).status_code == 404, path
            assert client.get("/reports/no-such-report").status_code == 404
    finally:
        served.stop()
        store.close()

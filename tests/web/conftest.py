"""The web admin served by uvicorn over real HTTP, on a sandbox tenant seeded with the demo data.

The world is the demo's month-end on 2026-11-10: twelve organizations, September's and
October's reports due, most organizations linked by exact name; "Fabrikam, Inc." has a
company ("Fabrikam Inc") that is only suggested, and Coho Winery has none in Autotask.
"""

from __future__ import annotations

import csv
import dataclasses
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette

from billbridge.autotask import AutotaskClient, F
from billbridge.config import Settings, WebSettings
from billbridge.demo import demo_files
from billbridge.export.connection import client_from_settings
from billbridge.export.daily import DailyCheck
from billbridge.importing import import_organizations, import_price_list, import_reports
from billbridge.sandbox import RunningSandbox, SandboxOptions, start_in_background
from billbridge.store import Store
from billbridge.web import create_web_app
from billbridge.web.security import LoginThrottle
from billbridge.web.server import proxy_options
from tests.export.conftest import settings_for

PASSWORD = "Tr0ub4dor&3-web-admin"
SESSION_SECRET = "session-secret-4b9f7e2a91c3"
TODAY = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
SUGGESTED_ONLY = {"Fabrikam, Inc.": "Fabrikam Inc"}
"""Organizations whose company exists under another name: linked from a suggestion."""
WITHOUT_COMPANY = {"Coho Winery"}
TRUSTED_PROXY = "127.0.0.1"


class ServedApp:
    """An ASGI app served by uvicorn in a thread on a free port."""

    def __init__(self, app: Starlette, settings: Settings) -> None:
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=1,
            **proxy_options(settings),  # forwarded headers as `serve` believes them
        )
        self.app = app
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="web-admin", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the web admin did not start")
            time.sleep(0.01)
        self.port = int(self._server.servers[0].sockets[0].getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@dataclass
class World:
    sandbox: RunningSandbox
    settings: Settings
    store: Store
    client: AutotaskClient
    companies: dict[str, int]
    workdir: Path
    served: list[ServedApp] = dataclasses.field(default_factory=list)

    def organization_id(self, name: str) -> str:
        with self.store.transaction() as uow:
            return next(o.organization_id for o in uow.organizations.all() if o.name == name)

    def serve(self, settings: Settings | None = None, **options: object) -> ServedApp:
        """The web admin of this world (or with other settings), served over HTTP."""
        chosen = settings or self.settings
        daily = DailyCheck(
            chosen.export.check_time,
            export=lambda day: None,
            has_run=lambda day: True,
            clock=lambda: TODAY,
        )
        app = create_web_app(
            chosen,
            self.store,
            daily=daily,
            clock=lambda: TODAY,
            **options,  # type: ignore[arg-type]
        )
        served = ServedApp(app, chosen)
        self.served.append(served)
        return served

    def close(self) -> None:
        for served in self.served:
            served.stop()
        self.client.close()
        self.store.close()
        self.sandbox.stop()


def build_world(workdir: Path) -> World:
    sandbox = start_in_background(SandboxOptions(port=0))
    settings = dataclasses.replace(
        settings_for(sandbox, workdir),
        web=WebSettings(
            admin_password=SecretStr(PASSWORD),
            session_secret=SecretStr(SESSION_SECRET),
            trusted_proxies=(TRUSTED_PROXY,),  # as behind a TLS proxy on the same host
        ),
    )
    store = Store(settings.database.url)
    client = client_from_settings(settings)
    files = demo_files()
    companies = _companies(client, files["organizations.csv"])
    import_organizations(store, [files["organizations.csv"]])
    import_price_list(store, [files["price-list.csv"]])
    import_reports(store, [files["reports-2026-09.csv"], files["reports-2026-10.csv"]])
    with store.transaction() as uow:
        for organization in uow.organizations.all():
            if organization.name in companies:
                uow.organizations.link(organization.organization_id, companies[organization.name])
    return World(sandbox, settings, store, client, companies, workdir)


def _companies(client: AutotaskClient, organizations: Path) -> dict[str, int]:
    """The demo's customers as Autotask companies, by organization name (linked ones only)."""
    owner = next(iter(client.query("Resources", [F.eq("isActive", True)])))["id"]
    kind = client.picklist_value("Companies", "companyType", "Customer")
    with organizations.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    linked: dict[str, int] = {}
    for row in rows:
        name = row["name"]
        if name in WITHOUT_COMPANY:
            continue
        body = {
            "companyName": SUGGESTED_ONLY.get(name, name),
            "companyType": kind,
            "ownerResourceID": owner,
            "phone": "+1 425 555 0100",
            "webAddress": f"https://www.{row['domain']}" if name not in SUGGESTED_ONLY else "",
        }
        company_id = client.create("Companies", body)
        if name not in SUGGESTED_ONLY:
            linked[name] = company_id
    # A namesake nobody should link to, so that suggestions have something to rank below.
    client.create(
        "Companies",
        {
            "companyName": "Fabrikam Logistics",
            "companyType": kind,
            "ownerResourceID": owner,
            "phone": "+1 425 555 0101",
        },
    )
    return linked


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    built = build_world(tmp_path)
    yield built
    built.close()


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for a module's tests that change nothing but sessions."""
    built = build_world(tmp_path_factory.mktemp("web"))
    yield built
    built.close()


@pytest.fixture(scope="module")
def admin_url(shared_world: World) -> str:
    # A lenient throttle: these tests try wrong passwords on purpose, and must not wait long.
    return shared_world.serve(throttle=LoginThrottle(base_delay_s=0.01, max_failures=1000)).url


def login(client: httpx.Client, base_url: str, password: str = PASSWORD) -> httpx.Response:
    """Log `client` in through the form, as a browser does (the form's token, then POST)."""
    form = client.get(f"{base_url}/login")
    token = csrf_of(form.text)
    return client.post(
        f"{base_url}/login", data={"password": password, "csrf_token": token, "next": "/"}
    )


def correct_contoso(world: World) -> None:
    """Import October's Contoso report again with 27 seats instead of 25 (a correction)."""
    text = demo_files()["reports-2026-10.csv"].read_text(encoding="utf-8").splitlines()
    rows = [r for r in text if r.startswith(("report_id", "bb-2026-10-contoso,"))]
    assert ",25,19.80," in rows[1]
    rows[1] = rows[1].replace(",25,19.80,", ",27,19.80,")
    source = world.workdir / "corrected.csv"
    source.write_text("\n".join(rows) + "\n", encoding="utf-8")
    import_reports(world.store, [source])


def csrf_of(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


@pytest.fixture
def logged_in(admin_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=admin_url, follow_redirects=False, timeout=30) as client:
        response = login(client, admin_url)
        assert response.status_code == 303, response.text
        yield client

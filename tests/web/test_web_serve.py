"""`billbridge serve`: the web admin and the daily check in one process, stopped by signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from billbridge.config import Settings, SettingsError
from billbridge.demo import demo_files
from billbridge.importing import import_organizations, import_price_list, import_reports
from billbridge.store import Store
from billbridge.web.server import daily_check
from tests.web.conftest import PASSWORD, TODAY, World, login


def test_the_daily_check_exports_what_is_due_and_the_dashboard_shows_it(world: World) -> None:
    daily = daily_check(world.settings, world.store, clock=lambda: TODAY)
    assert daily.is_overdue(TODAY)
    result = daily.run_once(TODAY.date())
    assert result is not None and result.run_id == 1
    assert {r.status for r in result.reports} == {"exported", "skipped"}
    assert not daily.is_overdue(TODAY)  # the day's check is recorded
    with world.store.transaction() as uow:
        [run] = uow.runs.recent(5)
    assert run.trigger == "daily" and run.today == TODAY.date()
    url = world.serve().url
    with httpx.Client(base_url=url, timeout=30) as client:
        login(client, url)
        html = client.get("/").text
    assert '<a href="/runs/1">Run 1</a>' in html and "succeeded" in html


def test_a_check_that_cannot_start_waits_before_trying_again(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    calls: list[float] = []

    def no_credentials(settings: Settings) -> object:
        calls.append(time.monotonic())
        raise SettingsError(["autotask.username: is not set"])

    stop = threading.Event()
    daily = daily_check(
        Settings.defaults(),
        store,
        client_factory=no_credentials,  # type: ignore[arg-type]
        clock=lambda: TODAY,
        retry_after_failure_s=0.2,
    )
    thread = threading.Thread(target=daily.run_forever, args=(stop,), kwargs={"poll_s": 0.05})
    thread.start()
    time.sleep(0.7)
    stop.set()
    thread.join(timeout=5)
    store.close()
    assert 2 <= len(calls) <= 5, "retried at once instead of after a pause"
    assert daily.last_error is not None and "autotask.username" in daily.last_error


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(
    world: World,
    path: Path,
    *,
    password: str | None = PASSWORD,
    billing_code: str = "Microsoft Licensing",
) -> Path:
    sandbox = world.sandbox
    path.write_text(
        f'[database]\nurl = "sqlite:///{path.parent / "serve.db"}"\n'
        f'[autotask]\nzone_lookup_url = "{sandbox.zone_lookup_url}"\n'
        f'username = "{sandbox.username}"\nsecret = "{sandbox.secret}"\n'
        f'integration_code = "{sandbox.integration_code}"\n'
        f'[export]\nproduct_billing_code = "{billing_code}"\ncheck_time = "00:00"\n'
        + (f'[web]\nadmin_password = "{password}"\n' if password is not None else ""),
        encoding="utf-8",
    )
    return path


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLBRIDGE_")}
    return {**env, "PYTHONUNBUFFERED": "1"}


@pytest.mark.slow
@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_runs_the_daily_check_and_stops_on_a_signal(
    world: World, tmp_path: Path, stop_with: signal.Signals
) -> None:
    config = _config(world, tmp_path / "billbridge.toml")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "billbridge", "--config", str(config), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_environment(),
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=30) as client:
            assert login(client, url).status_code == 303
            assert "Next daily check" in client.get("/").text
        # check_time 00:00 has passed today: the daily check ran at start, in this process
        store = Store(f"sqlite:///{tmp_path / 'serve.db'}")
        try:
            while True:
                with store.transaction() as uow:
                    if uow.runs.has_run("daily", datetime.now(UTC).date()):
                        break
                assert time.monotonic() < deadline, "the daily check did not run"
                time.sleep(0.1)
        finally:
            store.close()
        process.send_signal(stop_with)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert f"billbridge web admin at http://127.0.0.1:{port}/" in output
    assert "daily check at 00:00 UTC" in output
    assert "was missed while serve was not running, so it runs now" in output
    assert "billbridge serve stopped" in output
    assert PASSWORD not in output


@pytest.mark.parametrize("password", [None, "", "  "])
def test_serve_refuses_to_start_without_a_password(
    world: World, tmp_path: Path, password: str | None
) -> None:
    config = _config(world, tmp_path / "billbridge.toml", password=password)
    done = subprocess.run(
        [sys.executable, "-m", "billbridge", "--config", str(config), "serve", "--port", "1"],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=60,
    )
    assert done.returncode == 2
    assert "web.admin_password" in done.stderr
    assert ("is not set" if password is None else "is empty") in done.stderr


def _serve_until(config: Path, wanted: str, *, timeout_s: float = 40) -> str:
    """Run `serve` until its output has `wanted` (or it ends, or time is up); its output."""
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "billbridge", "--config", str(config)),
            *("serve", "--port", str(_free_port())),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_environment(),
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    deadline = time.monotonic() + timeout_s
    try:
        while wanted not in "".join(lines) and process.poll() is None:
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
    return "".join(lines)


def test_a_busy_store_is_one_line_in_the_log(world: World, tmp_path: Path) -> None:
    config = _config(world, tmp_path / "billbridge.toml")
    store = Store(f"sqlite:///{tmp_path / 'serve.db'}")
    try:
        with store.exclusive("export"):  # another export holds the lock
            output = _serve_until(config, "another export is running")
    finally:
        store.close()
    assert "another export is running" in output and "tries again in 5 min" in output
    assert "Traceback" not in output and "StoreBusyError" not in output, output
    [line] = [line for line in output.splitlines() if "another export is running" in line]
    assert "daily check" in line


def test_a_bad_setting_is_one_line_in_the_log(world: World, tmp_path: Path) -> None:
    config = _config(world, tmp_path / "billbridge.toml", billing_code="No Such Code")
    store = Store(f"sqlite:///{tmp_path / 'serve.db'}")
    try:  # linked organizations with reports due, so that the check gets to the billing code
        files = demo_files()
        import_organizations(store, [files["organizations.csv"]])
        import_price_list(store, [files["price-list.csv"]])
        import_reports(store, [files["reports-2026-09.csv"]])
        with store.transaction() as uow:
            for organization in uow.organizations.all():
                if organization.name in world.companies:
                    uow.organizations.link(
                        organization.organization_id, world.companies[organization.name]
                    )
    finally:
        store.close()
    output = _serve_until(config, "tries again in 5 min")
    assert "Traceback" not in output, output
    [line] = [line for line in output.splitlines() if "tries again" in line]
    assert "the daily check of" in line and "No Such Code" in line
    assert PASSWORD not in output and world.sandbox.secret not in output

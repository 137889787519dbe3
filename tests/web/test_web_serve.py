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


def _config(world: World, path: Path, *, password: bool = True) -> Path:
    sandbox = world.sandbox
    path.write_text(
        f'[database]\nurl = "sqlite:///{path.parent / "serve.db"}"\n'
        f'[autotask]\nzone_lookup_url = "{sandbox.zone_lookup_url}"\n'
        f'username = "{sandbox.username}"\nsecret = "{sandbox.secret}"\n'
        f'integration_code = "{sandbox.integration_code}"\n'
        '[export]\nproduct_billing_code = "Microsoft Licensing"\ncheck_time = "00:00"\n'
        + (f'[web]\nadmin_password = "{PASSWORD}"\n' if password else ""),
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
    assert "billbridge serve stopped" in output
    assert PASSWORD not in output


def test_serve_refuses_to_start_without_a_password(world: World, tmp_path: Path) -> None:
    config = _config(world, tmp_path / "billbridge.toml", password=False)
    done = subprocess.run(
        [sys.executable, "-m", "billbridge", "--config", str(config), "serve", "--port", "1"],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=60,
    )
    assert done.returncode == 2
    assert "web.admin_password" in done.stderr


def test_serve_says_when_the_port_is_taken(world: World, tmp_path: Path) -> None:
    config = _config(world, tmp_path / "billbridge.toml")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                *(sys.executable, "-m", "billbridge", "--config", str(config)),
                *("serve", "--port", str(port)),
            ],
            capture_output=True,
            text=True,
            env=_environment(),
            timeout=60,
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr

"""`billbridge pull partner-center` as a user runs it: a process, killed midway and rerun."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from billbridge.sandbox.microsoft import CLIENT_SECRET, MicrosoftFaults
from tests.microsoft.conftest import RECON_INVOICE, USAGE_INVOICE, Pull, PullFactory


def _billbridge(config: Path, *args: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BILLBRIDGE_")}
    return subprocess.Popen(
        [sys.executable, "-m", "billbridge", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=config.parent,
    )


def _run(config: Path, *args: str) -> tuple[int, str, str]:
    process = _billbridge(config, *args)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def _wait_for_exports(pulling: Pull, count: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(pulling.emulator.exports) < count:
        assert time.monotonic() < deadline, "the pull never started its exports"
        time.sleep(0.05)


def test_a_killed_pull_resumes_its_operations_without_new_exports(
    make_pull: PullFactory,
) -> None:
    pulling = make_pull(faults=MicrosoftFaults(operation_s=600, poll_after_s=1))
    config = pulling.write_config()
    process = _billbridge(config, "pull", "partner-center")
    try:
        _wait_for_exports(pulling, 2)
        time.sleep(0.3)  # it is polling now
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert sorted(pulling.exports_of(RECON_INVOICE)) == ["reconciliation", "usage"]

    pulling.emulator.set_faults(operation_s=0)
    code, out, err = _run(config, "pull", "partner-center", "--json")

    assert code == 0, err
    body = json.loads(out)
    assert body["summary"]["imported"] == 2
    first = next(i for i in body["invoices"] if i["invoice_id"] == RECON_INVOICE)
    assert first["exports_started"] == 0
    assert sorted(pulling.exports_of(RECON_INVOICE)) == ["reconciliation", "usage"]
    assert sorted(pulling.exports_of(USAGE_INVOICE)) == ["reconciliation", "usage"]


def test_the_table_and_a_rerun_that_has_nothing_to_do(make_pull: PullFactory) -> None:
    pulling = make_pull()
    config = pulling.write_config()
    code, out, err = _run(config, "pull", "partner-center", "--license-markup", "10")
    assert code == 0, err
    assert RECON_INVOICE in out and "imported" in out
    assert "invoices: 2 imported" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert CLIENT_SECRET not in out + err

    code, out, _ = _run(config, "pull", "partner-center")
    assert code == 0
    assert "Nothing new to pull" in out


def test_a_bad_secret_exits_2_without_showing_it(make_pull: PullFactory) -> None:
    pulling = make_pull()
    config = pulling.write_config(client_secret="n0t-the-secret")
    code, out, err = _run(config, "pull", "partner-center")
    assert code == 2
    assert "partner_center.client_secret is wrong" in err
    assert "n0t-the-secret" not in out + err


def test_missing_settings_are_named(make_pull: PullFactory, tmp_path: Path) -> None:
    pulling = make_pull()
    config = tmp_path / "empty.toml"
    config.write_text(f'[database]\nurl = "{pulling.settings.database.url}"\n')
    code, _, err = _run(config, "pull", "partner-center")
    assert code == 2
    assert "partner_center.client_secret: is not set" in err


def test_the_sandbox_serves_microsoft_and_prints_its_settings(tmp_path: Path) -> None:
    from tests.microsoft.conftest import RECON, USAGE

    files = ["--partner-center", str(RECON), "--partner-center", str(USAGE)]
    faults = ["--microsoft-faults", "throttle=5,slow=2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "billbridge", "sandbox", "--port", "0", *files, *faults],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    printed = []
    try:
        for line in process.stdout:
            printed.append(line.rstrip())
            if line.startswith("Stop with Ctrl-C"):
                break
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    text = "\n".join(printed)
    assert f"client_secret    = {CLIENT_SECRET}" in text
    assert f"invoices         = {RECON_INVOICE}, {USAGE_INVOICE}" in text
    assert "/microsoft/graph" in text
    assert "throttle=5" in text and "slow=2.0" in text


def test_the_sandbox_refuses_unknown_microsoft_faults(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "billbridge", "sandbox", "--microsoft-faults", "explode=1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert "unknown Microsoft fault 'explode'" in done.stderr

"""Hostile input files, as an attacker (or a very unlucky user) would give them: each refused
in bounded time and memory with a clear message, never a traceback or a hang.

The CLI runs in its own process, with a deadline and an address-space limit, so that a hang
or a runaway allocation fails the test instead of the machine."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

DEADLINE_S = 60
MEMORY_LIMIT = 1536 * 1024 * 1024


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_import(tmp_path: Path, kind: str, *files: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLBRIDGE_")}
    env["BILLBRIDGE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'state.db'}"
    return subprocess.run(
        [sys.executable, "-m", "billbridge", "import", kind, *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=DEADLINE_S,
        preexec_fn=_limit_memory,
        check=False,
    )


def assert_refused(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr
    for text in expected:
        assert text in done.stderr, done.stderr
    assert "nothing was imported" in done.stderr


@pytest.mark.parametrize("kind", ["organizations", "price-list", "reports"])
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path, kind: str) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    done = run_import(tmp_path, kind, fifo)
    assert_refused(done, f"{fifo}: is not a regular file (a pipe or a device)")


def test_a_link_to_dev_zero_is_refused_without_reading_it(tmp_path: Path) -> None:
    zero = tmp_path / "zero.json"
    zero.symlink_to("/dev/zero")
    done = run_import(tmp_path, "reports", zero)
    assert_refused(done, f"{zero}: is not a regular file")


def test_a_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert_refused(run_import(tmp_path, "organizations", folder), f"{folder}: is a folder")


def test_a_file_too_big_to_be_an_input_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:  # sparse: 200 MB that take no disk
        handle.truncate(200 * 1024 * 1024)
    assert_refused(run_import(tmp_path, "organizations", big), "is larger than 100 MB")


def test_twenty_mb_of_ten_million_bad_items_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "organizations.json"
    path.write_text("[" + ",".join(["1"] * 10_000_000) + "]")
    assert path.stat().st_size > 19_000_000
    done = run_import(tmp_path, "organizations", path)
    assert_refused(done, "has more than 2,000,000 values; split it")


def test_a_million_bad_items_print_fifty_problems_and_a_count(tmp_path: Path) -> None:
    path = tmp_path / "organizations.json"
    path.write_text("[" + ",".join(["1"] * 1_000_000) + "]")
    done = run_import(tmp_path, "organizations", path)
    assert_refused(done, "... and 999950 more", "error: 1000000 problems found")
    lines = done.stderr.splitlines()
    assert len(lines) == 52
    assert lines[0] == f"{path}:1: the file item 1 must be an object, not a number"


def test_a_million_bad_csv_rows_print_fifty_problems_and_a_count(tmp_path: Path) -> None:
    path = tmp_path / "organizations.csv"
    path.write_text("organization_id,name\n" + "a,b,c\n" * 1_000_000)
    done = run_import(tmp_path, "organizations", path)
    assert_refused(done, "... and 999950 more", "error: 1000000 problems found")
    assert len(done.stderr.splitlines()) == 52


def test_a_number_too_long_for_python_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "organizations.json"
    path.write_text(
        '[{"organization_id": "a", "name": "b", "autotask_company_id": ' + "9" * 5000 + "}]"
    )
    done = run_import(tmp_path, "organizations", path)
    assert_refused(done, f"{path}: broken JSON")


def test_json_objects_keep_their_lines_whatever_strings_hold(tmp_path: Path) -> None:
    # Braces inside strings and duplicate keys must not shift the line of later objects.
    path = tmp_path / "organizations.json"
    path.write_text(
        "[\n"
        '  {"organization_id": "a", "name": "{curly} \\"{quoted}\\"", "x": {"y": {}}},\n'
        '  {"organization_id": "b", "name": "B", "name": "B2"},\n'
        '  {"organization_id": "c", "name": "C", "active": "maybe"}\n'
        "]\n"
    )
    done = run_import(tmp_path, "organizations", path)
    assert_refused(
        done,
        f"{path}:2: x: unknown key",
        f"{path}:3: name: appears twice in the same object",
        f"{path}:4: active:",
    )

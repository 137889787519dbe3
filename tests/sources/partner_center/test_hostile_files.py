"""Hostile Partner Center files are refused in bounded time and memory, naming the file.

Each case runs `billbridge import partner-center` as its own process, as a user (or an
attacker) would, with a timeout and an address-space limit; the process's own peak RSS is read
from `wait4`. Before these refusals a FIFO blocked forever, `/dev/zero` grew memory without
bound and a gzip bomb (6 GiB from 6 MB) ended in `MemoryError` or ran for minutes.
"""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from billbridge.sources.partner_center import files
from billbridge.sources.problems import InputError

from .builders import (
    USAGE_COLUMNS,
    api_items,
    csv_text,
    json_lines,
    read,
    usage_row,
    write_csv,
)

_MIB = 1 << 20
_ADDRESS_SPACE = 4 << 30
"""Far below what the bombs inflate to: an import that read one whole would fail."""
_TIMEOUT = 120.0


@dataclass(frozen=True)
class Finished:
    code: int
    stderr: str
    seconds: float
    peak_rss_mib: float


def import_cli(tmp_path: Path, *paths: Path) -> Finished:
    """The command run in its own process, with its own peak RSS (from wait4)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLBRIDGE_")}
    env["BILLBRIDGE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'state.db'}"
    err = tmp_path / "stderr.txt"
    command = [sys.executable, "-m", "billbridge", "import", "partner-center", *map(str, paths)]
    start = time.monotonic()
    with err.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=_limit_address_space,
        )
        deadline = start + _TIMEOUT
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                os.wait4(process.pid, 0)
                pytest.fail(f"the import of {paths} did not end within {_TIMEOUT} s")
            time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    return Finished(
        process.returncode,
        err.read_text(),
        time.monotonic() - start,
        usage.ru_maxrss / 1024,
    )


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_ADDRESS_SPACE, _ADDRESS_SPACE))


def bomb(path: Path, member: bytes, copies: int) -> Path:
    """A valid usage header, then `copies` gzip members of `member` inflated: multi-member gzip
    is valid (Microsoft's blobs may have several members), so only the ratio gives it away."""
    packed = gzip.compress(member, 9)
    with path.open("wb") as out:
        out.write(gzip.compress(csv_text([], USAGE_COLUMNS).encode()))
        for _ in range(copies):
            out.write(packed)
    return path


def test_a_gzip_bomb_of_6_gib_from_6_mb_is_refused_quickly(tmp_path: Path) -> None:
    path = bomb(tmp_path / "usage.csv.gz", bytes(64 * _MIB), 96)
    assert path.stat().st_size < 8 * _MIB  # 6 GiB inflated
    done = import_cli(tmp_path, path)
    assert done.code == 2, done.stderr
    assert f"{path}: inflates more than {files.MAX_GZIP_RATIO} times" in done.stderr
    assert "gzip bomb" in done.stderr and "nothing was imported" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.seconds < 30
    assert done.peak_rss_mib < 512


def test_a_bomb_of_real_looking_rows_is_refused_before_any_row_is_read(tmp_path: Path) -> None:
    row = csv_text([usage_row()], USAGE_COLUMNS).split("\r\n", 1)[1].encode()
    rows = row * (32 * _MIB // len(row))
    path = bomb(tmp_path / "usage.csv.gz", rows, 64)  # 2 GiB of good rows, ~200x
    done = import_cli(tmp_path, path)
    assert done.code == 2, done.stderr
    assert f"{path}: inflates more than {files.MAX_GZIP_RATIO} times" in done.stderr
    assert done.stderr.count("\n") == 2  # the refusal and the summary: no row was reported
    assert done.seconds < 30
    assert done.peak_rss_mib < 512


def test_a_bomb_of_json_lines_is_refused_while_they_are_read_ahead(tmp_path: Path) -> None:
    """Graph's form, which the columnar reader inflates in a thread of its own: the refusal
    raised there is the command's."""
    line = json_lines(api_items([usage_row()])).encode()
    packed = gzip.compress(line * (32 * _MIB // len(line)), 9)
    path = tmp_path / "usage.json.gz"
    path.write_bytes(packed * 64)  # 2 GiB of good lines
    done = import_cli(tmp_path, path)
    assert done.code == 2, done.stderr
    assert f"{path}: inflates more than {files.MAX_GZIP_RATIO} times" in done.stderr
    assert done.stderr.count("\n") == 2  # the refusal and the summary: no line was reported
    assert "Traceback" not in done.stderr
    assert done.seconds < 30
    assert done.peak_rss_mib < 512


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "usage.csv"
    os.mkfifo(fifo)
    done = import_cli(tmp_path, fifo)
    assert done.code == 2, done.stderr
    assert f"{fifo}: is a FIFO (named pipe), not a regular file" in done.stderr
    assert done.seconds < 30


@pytest.mark.parametrize("name", ["usage.csv", "usage.csv.gz", "usage.json"])
def test_a_symlink_to_dev_zero_is_refused(tmp_path: Path, name: str) -> None:
    link = tmp_path / name
    link.symlink_to("/dev/zero")
    done = import_cli(tmp_path, link)
    assert done.code == 2, done.stderr
    assert f"{link}: is a device, not a regular file" in done.stderr
    assert done.seconds < 30
    assert done.peak_rss_mib < 512


def test_a_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "usage.csv"
    folder.mkdir()
    with pytest.raises(InputError, match="is a directory, not a regular file"):
        read(folder)


def test_a_line_longer_than_any_billing_file_has_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "usage.csv"
    header = csv_text([], USAGE_COLUMNS).encode()
    path.write_bytes(header + b"x" * (files.MAX_LINE_BYTES + 10))
    with pytest.raises(InputError) as raised:
        read(path)
    assert f"{path}: line 2 is longer than 16 MiB" in str(raised.value)


def test_a_json_document_too_big_to_parse_whole_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_JSON_DOCUMENT_BYTES", 1000)
    path = tmp_path / "items.json"
    path.write_text('{"items": [' + ",".join(['{"customerId": "x"}'] * 100) + "]}")
    with pytest.raises(InputError) as raised:
        read(path)
    assert f"{path}: is a JSON document of more than" in str(raised.value)


def test_a_real_export_inflating_less_than_the_cap_still_imports(tmp_path: Path) -> None:
    """Identical rows compress far better than real ones, yet under the ratio's threshold a
    small file is never refused, and several members are read to the end."""
    rows = [usage_row() for _ in range(2000)]
    data = csv_text(rows, USAGE_COLUMNS).encode()
    path = tmp_path / "usage.csv.gz"
    half = len(data) // 2
    cut = data.index(b"\r\n", half) + 2
    path.write_bytes(gzip.compress(data[:cut]) + gzip.compress(data[cut:]))
    assert len(data) / path.stat().st_size > files.MAX_GZIP_RATIO
    assert len(data) < files.GZIP_RATIO_FROM_BYTES
    result = read(path)
    assert len(result.reports) == 1
    plain = read(write_csv(tmp_path / "plain.csv", rows, USAGE_COLUMNS))
    assert result.reports[0].report == plain.reports[0].report


@pytest.mark.parametrize(
    ("content", "blank"),
    [
        (b"", True),
        (gzip.compress(b""), True),
        (gzip.compress(b"\n  \n") + gzip.compress(b""), True),
        (gzip.compress(b"") + gzip.compress(b'{"a": 1}\n'), False),
        (b'{"a": 1}\n', False),
        (b"\x1f\x8b not gzip at all", False),
    ],
)
def test_a_blank_file_is_told_from_one_with_rows_or_a_broken_one(
    tmp_path: Path, content: bytes, blank: bool
) -> None:
    """A pull leaves out a blob of no rows (the reader refuses an empty file) and gives the
    reader a broken one, which it reports."""
    path = tmp_path / "blob.json.gz"
    path.write_bytes(content)
    assert files.is_blank(path) is blank

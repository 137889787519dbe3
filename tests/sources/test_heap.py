"""Big buffers on the heap while inside, given back on leaving (glibc only).

Measured in a fresh interpreter: a long test process has freed memory of its own, which would
serve the chunks and hide the effect."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

_PROBE = """
import json, os
from pathlib import Path
from billbridge.sources.heap import active, big_buffers_on_heap

def rss():
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20

before = rss()
with big_buffers_on_heap():
    inside = active()
    for _ in range(4):  # chunks of 32 MiB made and dropped one after another
        chunk = bytes(32 * 2**20)
        del chunk
    kept = rss()
    with big_buffers_on_heap():  # nested: the outer one still holds
        pass
    still = active()
print(json.dumps([inside, still, active(), kept - before, rss() - before]))
"""


def test_inside_freed_chunks_stay_for_reuse_and_leaving_gives_them_back() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    )
    inside, still, after, kept, left = json.loads(done.stdout)
    assert inside and still and not after
    assert kept > 24  # the last chunk freed was kept on the heap for the next
    assert left < 16  # given back on leaving: a long-lived `serve` keeps nothing

"""Big buffers on the heap: glibc takes the thresholds, once per process."""

from __future__ import annotations

import platform

import pytest

from billbridge.sources.heap import keep_big_buffers


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_the_thresholds_once() -> None:
    assert keep_big_buffers() is True
    assert keep_big_buffers() is True  # cached: the second call changes nothing

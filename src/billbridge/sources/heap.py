"""Big buffers kept on the heap while a file is read in large chunks, so that each chunk
reuses the memory of the one before.

glibc serves an allocation above its mmap threshold (at most 32 MiB) from a fresh memory map
and unmaps it when it is freed. A file read in chunks of 16 MiB (the JSON lines of a usage
export, the gunzipped blobs of a pull) can then get new pages for every chunk, which the kernel
zeroes and faults in one at a time: on 1.7 GB of JSON lines a million page faults, 1.6 s of
system time, a fifth of the read. Inside `big_buffers_on_heap` such chunks come from the heap
and the freed memory stays for the next chunk (the trim threshold is raised with the mmap
threshold). On leaving, glibc's initial values are set again (as fixed values: its sliding
mmap threshold stays off, which only means more maps for allocations over 128 KiB) and the
freed memory is given back, so that a long-lived process (`serve`) does not keep it.
Elsewhere than on glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_ON_HEAP = 256 << 20
"""Allocations below this come from the heap: several chunks of 16 MiB and their copies."""
_DEFAULT = 128 << 10
"""glibc's initial mmap and trim thresholds."""
_lock = threading.Lock()
_users = 0


@functools.cache
def _libc() -> Any | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc (musl has neither)
        return None
    return libc


@contextmanager
def big_buffers_on_heap() -> Iterator[None]:
    """Big allocations from the heap while inside (nested and threaded uses share it)."""
    global _users
    libc = _libc()
    with _lock:
        _users += 1
        if libc is not None and _users == 1:
            libc.mallopt(_M_MMAP_THRESHOLD, _ON_HEAP)
            libc.mallopt(_M_TRIM_THRESHOLD, 2 * _ON_HEAP)
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if libc is not None and _users == 0:
                libc.mallopt(_M_MMAP_THRESHOLD, _DEFAULT)
                libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT)
                libc.malloc_trim(0)


def active() -> bool:
    """Whether big allocations come from the heap now (for tests)."""
    return _libc() is not None and _users > 0

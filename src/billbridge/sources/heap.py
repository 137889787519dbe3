"""Big buffers kept on the heap, so that a file read in large chunks reuses their memory.

glibc serves an allocation above its mmap threshold (at most 32 MiB) from a fresh memory map
and unmaps it when it is freed. A file read in chunks of 32 MiB (the JSON lines of a usage
export, the gunzipped blobs of a pull) then gets new pages for every chunk, which the kernel
zeroes and faults in one at a time: on 1.7 GB of JSON lines a million page faults, 1.6 s of
system time, a fifth of the read. Above the threshold set here the chunks come from the heap,
and the freed memory stays for the next chunk (the trim threshold is raised with it).

Process-wide and for the rest of the process; elsewhere than on glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

logger = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 256 << 20
"""Allocations below this come from the heap: several chunks of 32 MiB and their copies."""


@functools.cache
def keep_big_buffers() -> bool:
    """Raise glibc's mmap and trim thresholds once; True if it took."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    taken = bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, 2 * _THRESHOLD)
    )
    logger.debug("big buffers on the heap: %s", taken)
    return taken

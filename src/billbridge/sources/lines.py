"""Counting the newlines of big buffers (line numbers of files of a million rows)."""

from __future__ import annotations

_SHORT = 256
"""Below this many bytes a line on average, `bytes.count` is the cheaper way."""


def newlines(data: bytes | bytearray, end: int | None = None) -> int:
    """`data.count(b"\\n", 0, end)`, about twice as fast on lines of a few hundred bytes or more
    (billing rows): `find` jumps from newline to newline with memchr, where `count` compares
    byte by byte. On short lines (a Python step per line would cost more) it hands over to
    `count` after the first thousand."""
    stop = len(data) if end is None else end
    count = 0
    at = data.find(b"\n", 0, stop)
    while at >= 0:
        count += 1
        if count & 1023 == 0 and at < count * _SHORT:
            return count + data.count(b"\n", at + 1, stop)
        at = data.find(b"\n", at + 1, stop)
    return count

"""Newline counting agrees with `bytes.count` whatever the lines look like."""

from __future__ import annotations

import random

import pytest

from billbridge.sources.lines import newlines


def _lines(lengths: list[int]) -> bytes:
    return b"".join(b"x" * length + b"\n" for length in lengths)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"no newline",
        b"\n",
        b"\n\n\n",
        _lines([2000] * 3000) + b"tail",
        _lines([1] * 5000),  # short lines: handed over to count
        _lines([3000] * 1500 + [0] * 9000 + [3000] * 10),  # long, then blank lines
        bytes(random.Random(7).choice(b"ab\n") for _ in range(200_000)),
    ],
)
def test_it_counts_what_count_counts(data: bytes) -> None:
    assert newlines(data) == data.count(b"\n")
    assert newlines(bytearray(data)) == data.count(b"\n")


def test_it_stops_at_end() -> None:
    data = bytearray(_lines([500] * 4000))
    for end in (0, 1, 501, 502, 250_000, len(data) - 1):
        assert newlines(data, end) == data.count(b"\n", 0, end)

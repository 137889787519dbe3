"""Keys in chunks, so that `IN (...)` lists stay within every database's parameter limits."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

CHUNK = 500


def distinct_chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    """The distinct `values`, `size` at a time."""
    wanted = list(dict.fromkeys(values))
    for start in range(0, len(wanted), size):
        yield wanted[start : start + size]

"""Problems found in input files, collected so that all of them are reported at once."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input file, located precisely enough to fix it."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return (
            f"{where}: {self.column}: {self.message}" if self.column else f"{where}: {self.message}"
        )


MAX_KEPT = 1000
"""Problems kept in full; past this they are only counted, so that a file of millions of bad
rows costs neither gigabytes nor a screen per row."""


class InputError(Exception):
    """Input that cannot be imported; nothing of the command that read it was stored."""

    def __init__(self, problems: Iterable[Problem], count: int | None = None) -> None:
        self.problems = tuple(problems)
        self.count = max(count or 0, len(self.problems))
        """How many problems were found; `problems` may hold only the first of them."""
        super().__init__("\n".join(str(p) for p in self.problems[:50]))


class ProblemLog:
    """Collects problems while a reader carries on, so the user sees every problem in one go
    (the first `MAX_KEPT` in full, the rest counted)."""

    def __init__(self, *, keep: int = MAX_KEPT) -> None:
        self._problems: list[Problem] = []
        self._keep = keep
        self._count = 0

    def add(self, file: str | Path, line: int | None, column: str | None, message: str) -> None:
        self._count += 1
        if len(self._problems) < self._keep:
            self._problems.append(Problem(str(file), line, column, message))

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self._count += 1
            if len(self._problems) < self._keep:
                self._problems.append(problem)

    def sort_by(self, key: Callable[[Problem], int]) -> None:
        """The problems kept put in `key`'s order (stable: equal keys keep theirs)."""
        self._problems.sort(key=key)

    @property
    def problems(self) -> tuple[Problem, ...]:
        return tuple(self._problems)

    @property
    def count(self) -> int:
        """Every problem found, including those past `MAX_KEPT`."""
        return self._count

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count > 0

    def raise_if_any(self) -> None:
        if self._count:
            raise InputError(self._problems, self._count)

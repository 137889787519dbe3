"""What an import changed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class ChangeCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def __str__(self) -> str:
        return f"{self.created} new, {self.updated} updated, {self.unchanged} unchanged"

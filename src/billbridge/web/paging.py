"""Long lists in pages of a fixed size, with links that keep the page's other query values."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from billbridge.web.handlers import Ctx


@dataclass(frozen=True, slots=True)
class Pager:
    number: int
    size: int
    total: int
    params: tuple[tuple[str, str], ...]
    """The page's other query values, kept by the links to other pages."""

    @classmethod
    def of(cls, ctx: Ctx, total: int, size: int) -> Pager:
        text = ctx.query("page", "1")
        number = int(text) if text.isdigit() and int(text) > 0 else 1
        last = max((total + size - 1) // size, 1)
        params = tuple(
            (k, v)
            for k, v in ctx.request.query_params.multi_items()
            if k not in ("page", "refresh")
        )
        return cls(min(number, last), size, total, params)

    @property
    def start(self) -> int:
        return (self.number - 1) * self.size

    @property
    def stop(self) -> int:
        return min(self.start + self.size, self.total)

    @property
    def pages(self) -> int:
        return max((self.total + self.size - 1) // self.size, 1)

    def link(self, number: int) -> str:
        return "?" + urlencode((*self.params, ("page", str(number))))

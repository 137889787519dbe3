"""Paging through a query result by `pageDetails.nextPageUrl` (see docs/autotask.md).

Autotask returns at most 500 records per page and the URL of the next page; a query sent by
POST is continued by POSTing the same body to that URL. The URL is opaque. The paginator
stops when it is null, and refuses a URL it has already followed, a page made only of records
already seen, or a URL on another host than the one the credentials are meant for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from billbridge.autotask.errors import ClientUsageError, PaginationLoopError, ProtocolError

Fetch = Callable[[str], Mapping[str, Any]]


class Paginator:
    """Walks the pages of one query; iterate it to get each page's items."""

    def __init__(
        self, fetch: Fetch, first_url: str, *, origin: str | None = None, max_pages: int = 100_000
    ) -> None:
        """`first_url` may be relative to the API base; `origin` is then that base's URL."""
        self._fetch = fetch
        self._origin = _origin(origin or first_url)
        self._max_pages = max_pages
        self._seen_urls: set[str] = set()
        self._seen_ids: set[object] = set()
        self.next_url: str | None = first_url
        self.pages = 0
        self.records = 0

    @property
    def finished(self) -> bool:
        """True once the last page was read."""
        return self.next_url is None

    def advance(self) -> list[dict[str, Any]]:
        """Fetch the next page and return its items."""
        url = self.next_url
        if url is None:
            raise ClientUsageError("the last page was already read")
        if url in self._seen_urls:
            raise PaginationLoopError(
                "nextPageUrl points at a page already read", method="POST", url=url
            )
        if self.pages >= self._max_pages:
            raise PaginationLoopError(f"more than {self._max_pages} pages", url=url)
        self._seen_urls.add(url)
        body = self._fetch(url)
        items = body.get("items")
        if not isinstance(items, list):
            raise ProtocolError("query answer without an 'items' list", url=url)
        self.pages += 1
        self.records += len(items)
        self._check_repeat(items, url)
        self.next_url = self._next_url(body, url)
        return [item for item in items if isinstance(item, dict)]

    def __iter__(self) -> Iterator[list[dict[str, Any]]]:
        while not self.finished:
            yield self.advance()

    def _check_repeat(self, items: list[Any], url: str) -> None:
        ids = [item.get("id") for item in items if isinstance(item, dict)]
        known = [i for i in ids if i is not None]
        if known and all(i in self._seen_ids for i in known):
            raise PaginationLoopError("a page repeated records already read", url=url)
        self._seen_ids.update(known)

    def _next_url(self, body: Mapping[str, Any], url: str) -> str | None:
        details = body.get("pageDetails")
        if not isinstance(details, Mapping):
            return None
        next_url = details.get("nextPageUrl")
        if next_url in (None, ""):
            return None
        if not isinstance(next_url, str):
            raise ProtocolError("nextPageUrl is not a string", url=url)
        if _origin(next_url) != self._origin:
            raise ProtocolError(
                "nextPageUrl points at another host; refusing to send credentials there",
                url=_origin(next_url),
            )
        return next_url


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"

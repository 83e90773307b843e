"""Lists as iterators: every item, fetched one keyset page at a time as far as the caller
iterates (a page deep in a list costs what the first one does)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from itertools import islice
from typing import Generic, TypeVar

from flowpilot.client.models import Page

T = TypeVar("T")


class Pager(Generic[T]):
    """Every item of a list, fetched page by page (keyset pages: each costs the same however
    deep) only as far as you iterate. ``pages()`` gives the pages themselves."""

    def __init__(self, fetch: Callable[[str | None], Page[T]], cursor: str | None = None) -> None:
        self._fetch = fetch
        self._cursor = cursor

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.items

    def pages(self) -> Iterator[Page[T]]:
        cursor = self._cursor
        while True:
            page = self._fetch(cursor)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def first(self, n: int) -> list[T]:
        """The first ``n`` items (fetching no further page than needed)."""
        return list(islice(self, n))


class AsyncPager(Generic[T]):
    """Every item of a list, fetched page by page as far as you iterate (``async for``);
    ``pages()`` gives the pages themselves."""

    def __init__(
        self, fetch: Callable[[str | None], Awaitable[Page[T]]], cursor: str | None = None
    ) -> None:
        self._fetch = fetch
        self._cursor = cursor

    async def __aiter__(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.items:
                yield item

    async def pages(self) -> AsyncIterator[Page[T]]:
        cursor = self._cursor
        while True:
            page = await self._fetch(cursor)
            yield page
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def first(self, n: int) -> list[T]:
        """The first ``n`` items (fetching no further page than needed)."""
        found: list[T] = []
        if n <= 0:
            return found
        async for item in self:
            found.append(item)
            if len(found) == n:
                break
        return found

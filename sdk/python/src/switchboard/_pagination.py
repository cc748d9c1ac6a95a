"""Walking cursor-paged lists.

A list answers ``{"data": [...], "next_cursor": ...}``; the next page is asked
for with ``cursor=<next_cursor>`` until it is ``null``. A paginator fetches
pages lazily, only as the loop needs them.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Awaitable, Callable, Generic, Iterator, List, Optional, TypeVar

from ._models import Page

T = TypeVar("T")


def page_parser(item: Callable[[Any], T]) -> Callable[[Any], Page[T]]:
    """Reads a list answer, each item with ``item``."""

    def parse(body: Any) -> Page[T]:
        data = body.get("data") if isinstance(body, dict) else None
        cursor = body.get("next_cursor") if isinstance(body, dict) else None
        return Page(data=[item(d) for d in data or []], next_cursor=cursor or None)

    return parse


class SyncPaginator(Generic[T]):
    """Every item of a list, page after page: ``for item in paginator``.

    ``pages()`` yields whole :class:`Page` objects instead. Iterating again
    starts again from the first page.
    """

    def __init__(self, fetch: Callable[[Optional[str]], Page[T]], cursor: Optional[str] = None) -> None:
        self._fetch = fetch
        self._cursor = cursor

    def pages(self) -> Iterator[Page[T]]:
        cursor = self._cursor
        while True:
            page = self._fetch(cursor)
            yield page
            # A cursor that does not move would loop for ever; stop instead.
            if page.next_cursor is None or page.next_cursor == cursor:
                return
            cursor = page.next_cursor

    def __iter__(self) -> Iterator[T]:
        for page in self.pages():
            yield from page.data

    def to_list(self) -> List[T]:
        """Every item of every page, fetched now."""
        return list(self)


class AsyncPaginator(Generic[T]):
    """Every item of a list, page after page: ``async for item in paginator``.

    ``pages()`` yields whole :class:`Page` objects instead, and
    ``await paginator.to_list()`` collects every item.
    """

    def __init__(self, fetch: Callable[[Optional[str]], Awaitable[Page[T]]], cursor: Optional[str] = None) -> None:
        self._fetch = fetch
        self._cursor = cursor

    async def pages(self) -> AsyncIterator[Page[T]]:
        cursor = self._cursor
        while True:
            page = await self._fetch(cursor)
            yield page
            if page.next_cursor is None or page.next_cursor == cursor:
                return
            cursor = page.next_cursor

    async def _items(self) -> AsyncIterator[T]:
        async for page in self.pages():
            for item in page.data:
                yield item

    def __aiter__(self) -> AsyncIterator[T]:
        return self._items()

    async def to_list(self) -> List[T]:
        """Every item of every page, fetched now."""
        return [item async for item in self]

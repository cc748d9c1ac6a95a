"""Walking cursor pages with the synchronous client."""

from __future__ import annotations

from typing import Iterator, List

import pytest

from conftest import unique
from switchboard import ConnectedAccount, InvalidRequestError, Page, Switchboard


@pytest.fixture
def five_accounts(sb: Switchboard) -> Iterator[List[ConnectedAccount]]:
    """Five accounts of one identifier, told apart by label, in creation order."""
    conn = sb.connections.create(provider="notes")
    identifier = unique()
    try:
        yield [
            sb.accounts.create(connection_id=conn.id, identifier=identifier, label=label)
            for label in ("a", "b", "c", "d", "e")
        ]
    finally:
        sb.connections.delete(conn.id)


def test_iteration_walks_every_page(sb: Switchboard, five_accounts: List[ConnectedAccount]) -> None:
    identifier = five_accounts[0].identifier
    walked = [a.id for a in sb.accounts.list(identifier=identifier, limit=2)]
    assert walked == [a.id for a in five_accounts]

    pages = list(sb.accounts.list(identifier=identifier, limit=2).pages())
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [p.has_more for p in pages] == [True, True, False]
    assert (
        sb.accounts.list(identifier=identifier, limit=2).to_list() == sb.accounts.list(identifier=identifier).to_list()
    )


def test_one_page_at_a_time(sb: Switchboard, five_accounts: List[ConnectedAccount]) -> None:
    identifier = five_accounts[0].identifier
    first = sb.accounts.list_page(identifier=identifier, limit=3)
    assert isinstance(first, Page)
    assert [a.label for a in first.data] == ["a", "b", "c"] and first.next_cursor is not None
    second = sb.accounts.list_page(identifier=identifier, limit=3, cursor=first.next_cursor)
    assert [a.label for a in second] == ["d", "e"] and second.next_cursor is None

    # A paginator may start from a cursor, too.
    assert [a.label for a in sb.accounts.list(identifier=identifier, limit=1, cursor=first.next_cursor)] == ["d", "e"]


def test_connections_iterate_across_pages(sb: Switchboard) -> None:
    created = [sb.connections.create(provider="notes") for _ in range(3)]
    try:
        seen = [c.id for c in sb.connections.list(provider="notes", limit=1)]
        # Other tests' connections are gone; any left would only come before these.
        assert seen[-3:] == [c.id for c in created]
        assert len(list(sb.connections.list(provider="notes", limit=1).pages())) == len(seen)
    finally:
        for conn in created:
            sb.connections.delete(conn.id)


def test_iteration_is_lazy(sb: Switchboard, five_accounts: List[ConnectedAccount]) -> None:
    pager = sb.accounts.list(identifier=five_accounts[0].identifier, limit=2)
    first = next(iter(pager))
    assert first.id == five_accounts[0].id


def test_limit_out_of_range_is_refused(sb: Switchboard) -> None:
    with pytest.raises(InvalidRequestError, match="limit"):
        sb.connections.list_page(limit=500)

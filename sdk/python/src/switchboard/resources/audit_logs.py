"""``/v1/audit-logs``: the audit trail, newest first, and its export as JSON lines.

Events are written a moment after they happen, so an action's event may not
be listed by a call made right after it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, AsyncGenerator, Dict, Generator, List, Mapping, Optional, Union

from .._http import AsyncCore, Call, SyncCore, rfc3339
from .._models import AuditEvent, Page
from .._pagination import AsyncPaginator, SyncPaginator, page_parser

_PATH = "/v1/audit-logs"

#: A bound of ``since``/``until``: a datetime (naive ones are taken as UTC) or RFC 3339 text.
TimeBound = Union[datetime, str]


def _filters(
    connected_account_id: Optional[str],
    connection_id: Optional[str],
    identifier: Optional[str],
    provider: Optional[str],
    action: Optional[str],
    since: Optional[TimeBound],
    until: Optional[TimeBound],
) -> Dict[str, Optional[str]]:
    """The filters by their query names, times as RFC 3339 text."""
    return {
        "connected_account_id": connected_account_id,
        "connection_id": connection_id,
        "identifier": identifier,
        "provider": provider,
        "action": action,
        "since": rfc3339(since),
        "until": rfc3339(until),
    }


def _list(filters: Mapping[str, Optional[str]], limit: Optional[int], cursor: Optional[str]) -> Call[Page[AuditEvent]]:
    params: Dict[str, Any] = {**filters, "limit": limit, "cursor": cursor}
    return Call("GET", _PATH, page_parser(AuditEvent.from_dict), params=params)


def _export(filters: Mapping[str, Optional[str]]) -> Call[AuditEvent]:
    return Call(
        "GET",
        f"{_PATH}/export",
        AuditEvent.from_dict,
        params=dict(filters),
        headers={"Accept": "application/x-ndjson"},
    )


class AuditLogs:
    """The audit trail: changes to connections and accounts, authorizations, token refreshes and tool calls.

    Every filter is optional and they combine with *and*: ``since`` is
    inclusive, ``until`` exclusive. The routes need an admin key.
    """

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(
        self,
        *,
        connected_account_id: Optional[str] = None,
        connection_id: Optional[str] = None,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        action: Optional[str] = None,
        since: Optional[TimeBound] = None,
        until: Optional[TimeBound] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> SyncPaginator[AuditEvent]:
        """Every matching event, newest first, fetched page by page as the loop goes on."""
        filters = _filters(connected_account_id, connection_id, identifier, provider, action, since, until)
        return SyncPaginator(lambda c: self._core.send(_list(filters, limit, c)), cursor)

    def list_page(
        self,
        *,
        connected_account_id: Optional[str] = None,
        connection_id: Optional[str] = None,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        action: Optional[str] = None,
        since: Optional[TimeBound] = None,
        until: Optional[TimeBound] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Page[AuditEvent]:
        """One page of events, newest first; pass its ``next_cursor`` as ``cursor`` for the next (older) page."""
        filters = _filters(connected_account_id, connection_id, identifier, provider, action, since, until)
        return self._core.send(_list(filters, limit, cursor))

    def export(
        self,
        *,
        connected_account_id: Optional[str] = None,
        connection_id: Optional[str] = None,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        action: Optional[str] = None,
        since: Optional[TimeBound] = None,
        until: Optional[TimeBound] = None,
    ) -> Generator[AuditEvent, None, None]:
        """Every matching event, oldest first, read from the streamed JSON-lines export one line at a time.

        The request is sent when the loop starts, and the answer is never held
        whole, so exports of any size take little memory. The stream is
        closed when the loop ends; to leave it early, ``close()`` the
        generator (or use ``contextlib.closing``)::

            for event in sb.audit_logs.export(since=datetime(2026, 11, 1)):
                archive.write(event.raw)
        """
        filters = _filters(connected_account_id, connection_id, identifier, provider, action, since, until)
        return self._core.stream_lines(_export(filters))


class AsyncAuditLogs:
    """The asynchronous twin of :class:`AuditLogs`; ``export`` is walked with ``async for``."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    def list(
        self,
        *,
        connected_account_id: Optional[str] = None,
        connection_id: Optional[str] = None,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        action: Optional[str] = None,
        since: Optional[TimeBound] = None,
        until: Optional[TimeBound] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> AsyncPaginator[AuditEvent]:
        filters = _filters(connected_account_id, connection_id, identifier, provider, action, since, until)
        return AsyncPaginator(lambda c: self._core.send(_list(filters, limit, c)), cursor)

    async def list_page(
        self,
        *,
        connected_account_id: Optional[str] = None,
        connection_id: Optional[str] = None,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        action: Optional[str] = None,
        since: Optional[TimeBound] = None,
        until: Optional[TimeBound] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Page[AuditEvent]:
        filters = _filters(connected_account_id, connection_id, identifier, provider, action, since, until)
        return await self._core.send(_list(filters, limit, cursor))

    def export(
        self,
        *,
        connected_account_id: Optional[str] = None,
        connection_id: Optional[str] = None,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        action: Optional[str] = None,
        since: Optional[TimeBound] = None,
        until: Optional[TimeBound] = None,
    ) -> AsyncGenerator[AuditEvent, None]:
        """``async for event in sb.audit_logs.export(...)``: the events oldest first, streamed."""
        filters = _filters(connected_account_id, connection_id, identifier, provider, action, since, until)
        return self._core.stream_lines(_export(filters))


__all__: List[str] = ["AuditLogs", "AsyncAuditLogs", "TimeBound"]

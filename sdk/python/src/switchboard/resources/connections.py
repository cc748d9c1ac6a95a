"""``/v1/connections``: an application's registration with a provider."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

from .._http import AsyncCore, Call, SyncCore, segment, without_none
from .._models import Connection, DeletedConnection, Page
from .._pagination import AsyncPaginator, SyncPaginator, page_parser

_PATH = "/v1/connections"


def _create(
    provider: str,
    auth_type: Optional[str],
    credentials: Optional[Mapping[str, str]],
    scopes: Optional[Sequence[str]],
    config: Optional[Mapping[str, str]],
    managed: Optional[bool],
) -> Call[Connection]:
    body = without_none(
        {
            "provider": provider,
            "auth_type": auth_type,
            "credentials": dict(credentials) if credentials is not None else None,
            "scopes": list(scopes) if scopes is not None else None,
            "config": dict(config) if config is not None else None,
            "managed": managed,
        }
    )
    return Call("POST", _PATH, Connection.from_dict, body=body)


def _get(connection_id: str) -> Call[Connection]:
    return Call("GET", f"{_PATH}/{segment(connection_id)}", Connection.from_dict)


def _list(provider: Optional[str], limit: Optional[int], cursor: Optional[str]) -> Call[Page[Connection]]:
    params = {"provider": provider, "limit": limit, "cursor": cursor}
    return Call("GET", _PATH, page_parser(Connection.from_dict), params=params)


def _update(
    connection_id: str,
    credentials: Optional[Mapping[str, str]],
    scopes: Optional[Sequence[str]],
    config: Optional[Mapping[str, str]],
) -> Call[Connection]:
    body: Dict[str, Any] = without_none(
        {
            "credentials": dict(credentials) if credentials is not None else None,
            "scopes": list(scopes) if scopes is not None else None,
            "config": dict(config) if config is not None else None,
        }
    )
    return Call("PATCH", f"{_PATH}/{segment(connection_id)}", Connection.from_dict, body=body)


def _delete(connection_id: str) -> Call[DeletedConnection]:
    return Call("DELETE", f"{_PATH}/{segment(connection_id)}", DeletedConnection.from_dict)


class Connections:
    """Connections: one per provider an application uses, holding its OAuth client or settings.

    Credentials are write-only: no answer contains them (``has_credentials``
    says whether there are any).
    """

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def create(
        self,
        *,
        provider: str,
        auth_type: Optional[str] = None,
        credentials: Optional[Mapping[str, str]] = None,
        scopes: Optional[Sequence[str]] = None,
        config: Optional[Mapping[str, str]] = None,
        managed: Optional[bool] = None,
    ) -> Connection:
        """Registers a connection to ``provider``.

        OAuth 2.0 providers need ``credentials={"client_id", "client_secret"}``
        unless ``managed=True`` uses the operator's app. ``auth_type`` picks one
        of the provider's methods (default: the first its spec lists).
        """
        return self._core.send(_create(provider, auth_type, credentials, scopes, config, managed))

    def get(self, connection_id: str) -> Connection:
        return self._core.send(_get(connection_id))

    def list(
        self, *, provider: Optional[str] = None, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> SyncPaginator[Connection]:
        """Every connection (oldest first), fetched ``limit`` per page as the loop goes on."""
        return SyncPaginator(lambda c: self._core.send(_list(provider, limit, c)), cursor)

    def list_page(
        self, *, provider: Optional[str] = None, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> Page[Connection]:
        """One page of connections; pass its ``next_cursor`` as ``cursor`` for the next."""
        return self._core.send(_list(provider, limit, cursor))

    def update(
        self,
        connection_id: str,
        *,
        credentials: Optional[Mapping[str, str]] = None,
        scopes: Optional[Sequence[str]] = None,
        config: Optional[Mapping[str, str]] = None,
    ) -> Connection:
        """Replaces the fields given (each whole); those left as ``None`` stay as they are."""
        return self._core.send(_update(connection_id, credentials, scopes, config))

    def delete(self, connection_id: str) -> DeletedConnection:
        """Deletes the connection with all its connected accounts and their credentials."""
        return self._core.send(_delete(connection_id))


class AsyncConnections:
    """The asynchronous twin of :class:`Connections`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def create(
        self,
        *,
        provider: str,
        auth_type: Optional[str] = None,
        credentials: Optional[Mapping[str, str]] = None,
        scopes: Optional[Sequence[str]] = None,
        config: Optional[Mapping[str, str]] = None,
        managed: Optional[bool] = None,
    ) -> Connection:
        return await self._core.send(_create(provider, auth_type, credentials, scopes, config, managed))

    async def get(self, connection_id: str) -> Connection:
        return await self._core.send(_get(connection_id))

    def list(
        self, *, provider: Optional[str] = None, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> AsyncPaginator[Connection]:
        """Every connection, for ``async for``; pages are fetched as the loop goes on."""
        return AsyncPaginator(lambda c: self._core.send(_list(provider, limit, c)), cursor)

    async def list_page(
        self, *, provider: Optional[str] = None, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> Page[Connection]:
        return await self._core.send(_list(provider, limit, cursor))

    async def update(
        self,
        connection_id: str,
        *,
        credentials: Optional[Mapping[str, str]] = None,
        scopes: Optional[Sequence[str]] = None,
        config: Optional[Mapping[str, str]] = None,
    ) -> Connection:
        return await self._core.send(_update(connection_id, credentials, scopes, config))

    async def delete(self, connection_id: str) -> DeletedConnection:
        return await self._core.send(_delete(connection_id))


__all__: List[str] = ["Connections", "AsyncConnections"]

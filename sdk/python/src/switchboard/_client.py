"""The two clients: :class:`Switchboard` (blocking) and :class:`AsyncSwitchboard`."""

from __future__ import annotations

from types import TracebackType
from typing import Mapping, Optional, Type, Union

import httpx

from ._http import DEFAULT_TIMEOUT, AsyncCore, SyncCore
from .resources import (
    Accounts,
    AsyncAccounts,
    AsyncAuditLogs,
    AsyncConnections,
    AsyncConnectSessions,
    AsyncMcpLinks,
    AsyncProviders,
    AsyncTools,
    AsyncWebhooks,
    AuditLogs,
    Connections,
    ConnectSessions,
    McpLinks,
    Providers,
    Tools,
    Webhooks,
)

__all__ = ["Switchboard", "AsyncSwitchboard"]


class Switchboard:
    """A client of one Switchboard gateway.

    ``base_url`` defaults to ``$SWITCHBOARD_BASE_URL``, else
    ``http://127.0.0.1:8080``; ``api_key`` to ``$SWITCHBOARD_API_KEY``.
    ``timeout`` is in seconds (or an ``httpx.Timeout``). Pass ``http_client``
    to use a configured ``httpx.Client`` (proxies, custom transports); the
    SDK then leaves closing it to you.

    Use it as a context manager, or call :meth:`close`, to release its
    connections::

        with Switchboard(api_key="sb_...") as sb:
            sb.tools.execute(identifier="user-42", provider="slack", tool="send_message", parameters={...})
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: Union[float, httpx.Timeout, None] = DEFAULT_TIMEOUT,
        headers: Optional[Mapping[str, str]] = None,
        http_client: Optional[httpx.Client] = None,
    ) -> None:
        self._core = SyncCore(base_url, api_key, timeout=timeout, headers=headers, http_client=http_client)
        self.connections = Connections(self._core)
        self.accounts = Accounts(self._core)
        self.connect_sessions = ConnectSessions(self._core)
        self.providers = Providers(self._core)
        self.tools = Tools(self._core)
        self.mcp_links = McpLinks(self._core)
        self.webhooks = Webhooks(self._core)
        self.audit_logs = AuditLogs(self._core)

    @property
    def base_url(self) -> str:
        return self._core.config.base_url

    def close(self) -> None:
        self._core.close()

    def __enter__(self) -> "Switchboard":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Switchboard(base_url={self.base_url!r})"


class AsyncSwitchboard:
    """The asynchronous client: the same resources and methods as :class:`Switchboard`, awaitable.

    Lists are walked with ``async for``::

        async with AsyncSwitchboard(api_key="sb_...") as sb:
            async for account in sb.accounts.list(identifier="user-42"):
                ...
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: Union[float, httpx.Timeout, None] = DEFAULT_TIMEOUT,
        headers: Optional[Mapping[str, str]] = None,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> None:
        self._core = AsyncCore(base_url, api_key, timeout=timeout, headers=headers, http_client=http_client)
        self.connections = AsyncConnections(self._core)
        self.accounts = AsyncAccounts(self._core)
        self.connect_sessions = AsyncConnectSessions(self._core)
        self.providers = AsyncProviders(self._core)
        self.tools = AsyncTools(self._core)
        self.mcp_links = AsyncMcpLinks(self._core)
        self.webhooks = AsyncWebhooks(self._core)
        self.audit_logs = AsyncAuditLogs(self._core)

    @property
    def base_url(self) -> str:
        return self._core.config.base_url

    async def close(self) -> None:
        await self._core.close()

    async def __aenter__(self) -> "AsyncSwitchboard":
        return self

    async def __aexit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncSwitchboard(base_url={self.base_url!r})"

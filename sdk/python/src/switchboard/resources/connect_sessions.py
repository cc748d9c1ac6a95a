"""``/v1/connect-sessions``: a hosted page where a user connects accounts."""

from __future__ import annotations

from typing import List, Optional, Sequence

from .._http import AsyncCore, Call, SyncCore, without_none
from .._models import ConnectSession


def _create(
    identifier: str, connection_ids: Optional[Sequence[str]], redirect_url: Optional[str]
) -> Call[ConnectSession]:
    body = without_none(
        {
            "identifier": identifier,
            "connection_ids": list(connection_ids) if connection_ids is not None else None,
            "redirect_url": redirect_url,
        }
    )
    return Call("POST", "/v1/connect-sessions", ConnectSession.from_dict, body=body)


class ConnectSessions:
    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def create(
        self,
        *,
        identifier: str,
        connection_ids: Optional[Sequence[str]] = None,
        redirect_url: Optional[str] = None,
    ) -> ConnectSession:
        """A link (30 minutes, one browser) to a page where ``identifier``'s user connects accounts.

        The page offers ``connection_ids`` (default: every connection) with an
        OAuth button or a credentials form each, and links back to ``redirect_url``.
        """
        return self._core.send(_create(identifier, connection_ids, redirect_url))


class AsyncConnectSessions:
    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def create(
        self,
        *,
        identifier: str,
        connection_ids: Optional[Sequence[str]] = None,
        redirect_url: Optional[str] = None,
    ) -> ConnectSession:
        return await self._core.send(_create(identifier, connection_ids, redirect_url))


__all__: List[str] = ["ConnectSessions", "AsyncConnectSessions"]

"""``/v1/mcp-links``: MCP server URLs for one end user each.

Written from the public contract (``POST /v1/mcp-links`` ``{identifier,
providers?, tools?, expires_in_s?}`` → ``{url, id, ...}``; ``DELETE
/v1/mcp-links/{id}`` revokes); a gateway without the route answers
:class:`~switchboard.NotFoundError`.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence

from .._http import AsyncCore, Call, SyncCore, segment, without_none
from .._models import DeletedMcpLink, McpLink

_PATH = "/v1/mcp-links"


def _create(
    identifier: str,
    providers: Optional[Sequence[str]],
    tools: Optional[Sequence[str]],
    expires_in_s: Optional[int],
) -> Call[McpLink]:
    body = without_none(
        {
            "identifier": identifier,
            "providers": list(providers) if providers is not None else None,
            "tools": list(tools) if tools is not None else None,
            "expires_in_s": expires_in_s,
        }
    )
    return Call("POST", _PATH, McpLink.from_dict, body=body)


def _delete(link_id: str) -> Call[DeletedMcpLink]:
    def parse(body: Any) -> DeletedMcpLink:
        # The answer may be empty; the link asked for is the one deleted.
        answer = dict(body) if isinstance(body, dict) else {}
        answer.setdefault("id", link_id)
        return DeletedMcpLink.from_dict(answer)

    return Call("DELETE", f"{_PATH}/{segment(link_id)}", parse)


class McpLinks:
    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def create(
        self,
        identifier: str,
        *,
        providers: Optional[Sequence[str]] = None,
        tools: Optional[Sequence[str]] = None,
        expires_in_s: Optional[int] = None,
    ) -> McpLink:
        """An MCP server URL acting for ``identifier``, limited to ``providers`` and ``tools`` when given.

        The URL's token authenticates its holder: hand it only to that user's agent.
        """
        return self._core.send(_create(identifier, providers, tools, expires_in_s))

    def delete(self, link_id: str) -> DeletedMcpLink:
        """Revokes the link; its URL stops working."""
        return self._core.send(_delete(link_id))


class AsyncMcpLinks:
    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def create(
        self,
        identifier: str,
        *,
        providers: Optional[Sequence[str]] = None,
        tools: Optional[Sequence[str]] = None,
        expires_in_s: Optional[int] = None,
    ) -> McpLink:
        return await self._core.send(_create(identifier, providers, tools, expires_in_s))

    async def delete(self, link_id: str) -> DeletedMcpLink:
        return await self._core.send(_delete(link_id))


__all__: List[str] = ["McpLinks", "AsyncMcpLinks"]

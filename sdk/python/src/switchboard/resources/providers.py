"""``/v1/providers``: the providers loaded from the gateway's specs now."""

from __future__ import annotations

from typing import Any, List

from .._http import AsyncCore, Call, SyncCore, segment
from .._models import Provider
from .._pagination import page_parser


def _list_answer(body: Any) -> List[Provider]:
    # The catalog is answered whole (next_cursor is always null).
    return page_parser(Provider.from_dict)(body).data


def _list() -> Call[List[Provider]]:
    return Call("GET", "/v1/providers", _list_answer)


def _get(provider: str) -> Call[Provider]:
    return Call("GET", f"/v1/providers/{segment(provider)}", Provider.from_dict)


class Providers:
    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def list(self) -> List[Provider]:
        """Every loaded provider, in key order (summary fields only)."""
        return self._core.send(_list())

    def get(self, provider: str) -> Provider:
        """One provider with its details: auth methods, credential fields, config settings, setup."""
        return self._core.send(_get(provider))


class AsyncProviders:
    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def list(self) -> List[Provider]:
        return await self._core.send(_list())

    async def get(self, provider: str) -> Provider:
        return await self._core.send(_get(provider))


__all__ = ["Providers", "AsyncProviders"]

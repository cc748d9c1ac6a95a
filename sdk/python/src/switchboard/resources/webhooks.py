"""``/v1/webhooks``: endpoints the gateway tells of account events, and their deliveries.

Checking that a delivery really came from the gateway is
:func:`switchboard.webhooks.verify`.
"""

from __future__ import annotations

from typing import List, Optional, Sequence

from .._http import AsyncCore, Call, SyncCore, segment, without_none
from .._models import DeletedWebhook, Page, Webhook, WebhookCreated, WebhookDelivery
from .._pagination import AsyncPaginator, SyncPaginator, page_parser

_PATH = "/v1/webhooks"


def _create(url: str, events: Optional[Sequence[str]]) -> Call[WebhookCreated]:
    if isinstance(events, str):
        raise TypeError("events is a list of event types, such as ['account.revoked']")
    body = without_none({"url": url, "events": list(events) if events is not None else None})
    return Call("POST", _PATH, WebhookCreated.from_dict, body=body)


def _get(webhook_id: str) -> Call[Webhook]:
    return Call("GET", f"{_PATH}/{segment(webhook_id)}", Webhook.from_dict)


def _list(limit: Optional[int], cursor: Optional[str]) -> Call[Page[Webhook]]:
    return Call("GET", _PATH, page_parser(Webhook.from_dict), params={"limit": limit, "cursor": cursor})


def _delete(webhook_id: str) -> Call[DeletedWebhook]:
    return Call("DELETE", f"{_PATH}/{segment(webhook_id)}", DeletedWebhook.from_dict)


def _deliveries(webhook_id: str, limit: Optional[int], cursor: Optional[str]) -> Call[Page[WebhookDelivery]]:
    return Call(
        "GET",
        f"{_PATH}/{segment(webhook_id)}/deliveries",
        page_parser(WebhookDelivery.from_dict),
        params={"limit": limit, "cursor": cursor},
    )


class Webhooks:
    """Webhook endpoints: an account's events (connected, reauthorization required, revoked,
    refresh failed) POSTed to a URL of the application as they happen.
    """

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def create(self, url: str, *, events: Optional[Sequence[str]] = None) -> WebhookCreated:
        """Registers ``url`` (``https``, or ``http`` on a loopback host) for ``events`` (default: all four).

        The answer holds the endpoint's signing secret, shown this once: keep
        it to check deliveries with :func:`switchboard.webhooks.verify`.
        """
        return self._core.send(_create(url, events))

    def get(self, webhook_id: str) -> Webhook:
        return self._core.send(_get(webhook_id))

    def list(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> SyncPaginator[Webhook]:
        """Every endpoint, oldest first, fetched page by page as the loop goes on."""
        return SyncPaginator(lambda c: self._core.send(_list(limit, c)), cursor)

    def list_page(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[Webhook]:
        """One page of endpoints; pass its ``next_cursor`` as ``cursor`` for the next."""
        return self._core.send(_list(limit, cursor))

    def delete(self, webhook_id: str) -> DeletedWebhook:
        """Deletes the endpoint; its pending deliveries are dropped."""
        return self._core.send(_delete(webhook_id))

    def deliveries(
        self, webhook_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> SyncPaginator[WebhookDelivery]:
        """The endpoint's deliveries, newest first, each with its attempts, last answer and payload."""
        return SyncPaginator(lambda c: self._core.send(_deliveries(webhook_id, limit, c)), cursor)

    def deliveries_page(
        self, webhook_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> Page[WebhookDelivery]:
        """One page of the endpoint's deliveries, newest first."""
        return self._core.send(_deliveries(webhook_id, limit, cursor))


class AsyncWebhooks:
    """The asynchronous twin of :class:`Webhooks`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def create(self, url: str, *, events: Optional[Sequence[str]] = None) -> WebhookCreated:
        return await self._core.send(_create(url, events))

    async def get(self, webhook_id: str) -> Webhook:
        return await self._core.send(_get(webhook_id))

    def list(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> AsyncPaginator[Webhook]:
        return AsyncPaginator(lambda c: self._core.send(_list(limit, c)), cursor)

    async def list_page(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[Webhook]:
        return await self._core.send(_list(limit, cursor))

    async def delete(self, webhook_id: str) -> DeletedWebhook:
        return await self._core.send(_delete(webhook_id))

    def deliveries(
        self, webhook_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> AsyncPaginator[WebhookDelivery]:
        return AsyncPaginator(lambda c: self._core.send(_deliveries(webhook_id, limit, c)), cursor)

    async def deliveries_page(
        self, webhook_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> Page[WebhookDelivery]:
        return await self._core.send(_deliveries(webhook_id, limit, cursor))


__all__: List[str] = ["Webhooks", "AsyncWebhooks"]

"""``/v1/connected-accounts``: one end user's link to one provider."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from .._http import AsyncCore, Call, SyncCore, segment, without_none
from .._models import AuthUrl, ConnectedAccount, DeletedAccount, Page
from .._pagination import AsyncPaginator, SyncPaginator, page_parser

_PATH = "/v1/connected-accounts"

#: When an imported access token expires: an aware datetime, Unix seconds, or RFC 3339 text.
ExpiresAt = Union[datetime, int, float, str]


def _create(
    connection_id: str,
    identifier: str,
    identifier_type: Optional[str],
    label: Optional[str],
    metadata: Optional[Mapping[str, Any]],
) -> Call[ConnectedAccount]:
    body = without_none(
        {
            "connection_id": connection_id,
            "identifier": identifier,
            "identifier_type": identifier_type,
            "label": label,
            "metadata": dict(metadata) if metadata is not None else None,
        }
    )
    return Call("POST", _PATH, ConnectedAccount.from_dict, body=body)


def _get(account_id: str) -> Call[ConnectedAccount]:
    return Call("GET", f"{_PATH}/{segment(account_id)}", ConnectedAccount.from_dict)


def _filters(
    identifier: Optional[str],
    provider: Optional[str],
    status: Optional[str],
    connection_id: Optional[str],
    label: Optional[str],
) -> Dict[str, Optional[str]]:
    """The list filters by their query names."""
    return {
        "identifier": identifier,
        "provider": provider,
        "status": status,
        "connection_id": connection_id,
        "label": label,
    }


def _list(
    filters: Mapping[str, Optional[str]], limit: Optional[int], cursor: Optional[str]
) -> Call[Page[ConnectedAccount]]:
    params: Dict[str, Any] = {**filters, "limit": limit, "cursor": cursor}
    return Call("GET", _PATH, page_parser(ConnectedAccount.from_dict), params=params)


def _update(
    account_id: str,
    label: Optional[str],
    metadata: Optional[Mapping[str, Any]],
    config: Optional[Mapping[str, Any]],
) -> Call[ConnectedAccount]:
    body = without_none(
        {
            "label": label,
            "metadata": dict(metadata) if metadata is not None else None,
            "config": dict(config) if config is not None else None,
        }
    )
    return Call("PATCH", f"{_PATH}/{segment(account_id)}", ConnectedAccount.from_dict, body=body)


def _delete(account_id: str) -> Call[DeletedAccount]:
    return Call("DELETE", f"{_PATH}/{segment(account_id)}", DeletedAccount.from_dict)


def _auth_url(account_id: str, redirect_url: Optional[str], scopes: Optional[Sequence[str]]) -> Call[AuthUrl]:
    body = without_none({"redirect_url": redirect_url, "scopes": list(scopes) if scopes is not None else None})
    return Call("POST", f"{_PATH}/{segment(account_id)}/auth-url", AuthUrl.from_dict, body=body)


def _credentials(
    account_id: str, credentials: Optional[Mapping[str, Any]], fields: Mapping[str, Any]
) -> Call[ConnectedAccount]:
    body: Dict[str, Any] = {**(credentials or {}), **fields}
    if not body:
        raise ValueError("set_credentials needs the credentials, e.g. {'api_key': '...'}")
    return Call("POST", f"{_PATH}/{segment(account_id)}/credentials", ConnectedAccount.from_dict, body=body)


def _tokens(
    access_token: str,
    refresh_token: Optional[str],
    expires_at: Optional[ExpiresAt],
    scopes: Optional[Sequence[str]],
    token_type: Optional[str],
) -> Dict[str, Any]:
    if isinstance(expires_at, float):
        expires_at = int(expires_at)  # the gateway reads whole Unix seconds
    return without_none(
        {
            "access_token": access_token,
            "refresh_token": refresh_token,
            "expires_at": expires_at,
            "scopes": list(scopes) if scopes is not None else None,
            "token_type": token_type,
        }
    )


class Accounts:
    """Connected accounts: (connection, identifier, label) is unique, ``label`` defaults to ``default``."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    def create(
        self,
        *,
        connection_id: str,
        identifier: str,
        identifier_type: Optional[str] = None,
        label: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> ConnectedAccount:
        """Creates an account for ``identifier`` (``identifier_type`` ``user_id`` or ``org_id``).

        A second account for the same identifier on the same connection needs
        another ``label``; otherwise :class:`~switchboard.ConflictError` is
        raised, with the existing account's id in ``existing_id``.
        """
        return self._core.send(_create(connection_id, identifier, identifier_type, label, metadata))

    def get(self, account_id: str) -> ConnectedAccount:
        return self._core.send(_get(account_id))

    def list(
        self,
        *,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        status: Optional[str] = None,
        connection_id: Optional[str] = None,
        label: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> SyncPaginator[ConnectedAccount]:
        """Every account matching all the filters given, fetched page by page as the loop goes on."""
        filters = _filters(identifier, provider, status, connection_id, label)
        return SyncPaginator(lambda c: self._core.send(_list(filters, limit, c)), cursor)

    def list_page(
        self,
        *,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        status: Optional[str] = None,
        connection_id: Optional[str] = None,
        label: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Page[ConnectedAccount]:
        """One page of accounts; pass its ``next_cursor`` as ``cursor`` for the next."""
        filters = _filters(identifier, provider, status, connection_id, label)
        return self._core.send(_list(filters, limit, cursor))

    def update(
        self,
        account_id: str,
        *,
        label: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        config: Optional[Mapping[str, Any]] = None,
    ) -> ConnectedAccount:
        """Changes the label, replaces the metadata whole, or sets the account values the provider declares.

        ``config`` is merged into the values discovered at authorization; a
        ``None`` value inside it removes one.
        """
        return self._core.send(_update(account_id, label, metadata, config))

    def delete(self, account_id: str) -> DeletedAccount:
        """Deletes the account and its credentials, revoking its grant at the provider where the spec can."""
        return self._core.send(_delete(account_id))

    def get_auth_url(
        self, account_id: str, *, redirect_url: Optional[str] = None, scopes: Optional[Sequence[str]] = None
    ) -> AuthUrl:
        """A single-use authorization link (valid 10 minutes) for an OAuth 2.0 account's user.

        After the user approves, the browser goes to ``redirect_url`` with
        ``connected_account_id`` and ``status`` in the query.
        """
        return self._core.send(_auth_url(account_id, redirect_url, scopes))

    def set_credentials(
        self, account_id: str, credentials: Optional[Mapping[str, Any]] = None, /, **fields: Any
    ) -> ConnectedAccount:
        """Sets the account's credentials; it becomes ``active``.

        For ``api_key``, ``bearer`` and ``basic`` providers, the fields the
        provider lists (``{"api_key": ...}``, ``{"token": ...}``,
        ``{"username": ..., "password": ...}``), as a dict or as keywords. For
        OAuth 2.0 providers, tokens brought from another system
        (``{"access_token", "refresh_token"?, "expires_at"?, "scopes"?}``);
        :meth:`import_tokens` spells those out.
        """
        return self._core.send(_credentials(account_id, credentials, fields))

    def import_tokens(
        self,
        account_id: str,
        *,
        access_token: str,
        refresh_token: Optional[str] = None,
        expires_at: Optional[ExpiresAt] = None,
        scopes: Optional[Sequence[str]] = None,
        token_type: Optional[str] = None,
    ) -> ConnectedAccount:
        """Gives an OAuth 2.0 account tokens obtained elsewhere (a migration); it becomes ``active``.

        ``expires_at`` is when the access token expires; with a
        ``refresh_token`` the gateway refreshes it as usual. ``scopes`` are
        those the user granted (default: those the connection asks for).
        Account values the spec discovers are looked up with the token where
        possible; set the rest with :meth:`update` (``config=``).
        """
        body = _tokens(access_token, refresh_token, expires_at, scopes, token_type)
        return self._core.send(_credentials(account_id, body, {}))


class AsyncAccounts:
    """The asynchronous twin of :class:`Accounts`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    async def create(
        self,
        *,
        connection_id: str,
        identifier: str,
        identifier_type: Optional[str] = None,
        label: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> ConnectedAccount:
        return await self._core.send(_create(connection_id, identifier, identifier_type, label, metadata))

    async def get(self, account_id: str) -> ConnectedAccount:
        return await self._core.send(_get(account_id))

    def list(
        self,
        *,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        status: Optional[str] = None,
        connection_id: Optional[str] = None,
        label: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> AsyncPaginator[ConnectedAccount]:
        filters = _filters(identifier, provider, status, connection_id, label)
        return AsyncPaginator(lambda c: self._core.send(_list(filters, limit, c)), cursor)

    async def list_page(
        self,
        *,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        status: Optional[str] = None,
        connection_id: Optional[str] = None,
        label: Optional[str] = None,
        limit: Optional[int] = None,
        cursor: Optional[str] = None,
    ) -> Page[ConnectedAccount]:
        filters = _filters(identifier, provider, status, connection_id, label)
        return await self._core.send(_list(filters, limit, cursor))

    async def update(
        self,
        account_id: str,
        *,
        label: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        config: Optional[Mapping[str, Any]] = None,
    ) -> ConnectedAccount:
        return await self._core.send(_update(account_id, label, metadata, config))

    async def delete(self, account_id: str) -> DeletedAccount:
        return await self._core.send(_delete(account_id))

    async def get_auth_url(
        self, account_id: str, *, redirect_url: Optional[str] = None, scopes: Optional[Sequence[str]] = None
    ) -> AuthUrl:
        return await self._core.send(_auth_url(account_id, redirect_url, scopes))

    async def set_credentials(
        self, account_id: str, credentials: Optional[Mapping[str, Any]] = None, /, **fields: Any
    ) -> ConnectedAccount:
        return await self._core.send(_credentials(account_id, credentials, fields))

    async def import_tokens(
        self,
        account_id: str,
        *,
        access_token: str,
        refresh_token: Optional[str] = None,
        expires_at: Optional[ExpiresAt] = None,
        scopes: Optional[Sequence[str]] = None,
        token_type: Optional[str] = None,
    ) -> ConnectedAccount:
        body = _tokens(access_token, refresh_token, expires_at, scopes, token_type)
        return await self._core.send(_credentials(account_id, body, {}))


__all__: List[str] = ["Accounts", "AsyncAccounts", "ExpiresAt"]

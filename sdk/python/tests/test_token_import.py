"""Importing OAuth tokens into an account (``POST .../credentials`` on an oauth2 account).

Nothing is sent to the made-up provider: its spec discovers no account values,
has no revoke URL, and no tool is executed.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from conftest import Gateway, NotesAccount, unique
from switchboard import AsyncSwitchboard, InvalidRequestError, Switchboard


def test_import_tokens_activates_an_oauth_account(sb: Switchboard, studio_connection: str) -> None:
    account = sb.accounts.create(connection_id=studio_connection, identifier=unique())
    assert account.status == "pending" and not account.has_credentials

    expires = datetime.now(timezone.utc) + timedelta(hours=1)
    imported = sb.accounts.import_tokens(
        account.id, access_token="at-123", refresh_token="rt-456", expires_at=expires, scopes=["read", "admin"]
    )
    assert imported.id == account.id
    assert imported.status == "active" and imported.has_credentials
    assert imported.scopes == ["read", "admin"]
    assert sb.accounts.get(account.id).status == "active"


def test_set_credentials_takes_tokens_too(sb: Switchboard, studio_connection: str) -> None:
    account = sb.accounts.create(connection_id=studio_connection, identifier=unique())
    expires_unix = int((datetime.now(timezone.utc) + timedelta(hours=1)).timestamp())
    imported = sb.accounts.set_credentials(account.id, {"access_token": "at", "expires_at": expires_unix})
    assert imported.status == "active"
    # Without scopes, those the connection asks for are taken as granted.
    assert set(imported.scopes) >= {"profile"}


def test_import_refuses_bad_tokens(sb: Switchboard, studio_connection: str) -> None:
    account = sb.accounts.create(connection_id=studio_connection, identifier=unique())
    with pytest.raises(InvalidRequestError, match="access_token"):
        sb.accounts.import_tokens(account.id, access_token="")
    with pytest.raises(InvalidRequestError, match="expires_at"):
        sb.accounts.import_tokens(account.id, access_token="at", expires_at="next tuesday")
    assert sb.accounts.get(account.id).status == "pending"


def test_api_key_accounts_take_no_tokens(sb: Switchboard, notes_account: NotesAccount) -> None:
    with pytest.raises(InvalidRequestError, match="access_token"):
        sb.accounts.import_tokens(notes_account.account_id, access_token="at")


@pytest.mark.anyio
async def test_async_import_tokens(gateway: Gateway, sb: Switchboard, studio_connection: str) -> None:
    account = sb.accounts.create(connection_id=studio_connection, identifier=unique())
    async with AsyncSwitchboard(base_url=gateway.url, api_key=gateway.api_key) as asb:
        imported = await asb.accounts.import_tokens(account.id, access_token="at", token_type="Bearer")
    assert imported.status == "active"

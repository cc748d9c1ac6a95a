"""The synchronous client against a real gateway: the whole path and every resource."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx

from conftest import Gateway, NotesAccount, unique
from switchboard import (
    AuthUrl,
    ConnectedAccount,
    Connection,
    ExecuteResult,
    NotFoundError,
    ReauthorizationRequiredError,
    Switchboard,
)


def test_happy_path_connection_account_credentials_execute(sb: Switchboard, gateway: Gateway) -> None:
    conn = sb.connections.create(provider="notes")
    try:
        assert isinstance(conn, Connection)
        assert conn.id.startswith("conn_")
        assert (conn.provider, conn.auth_type, conn.has_credentials) == ("notes", "api_key", False)
        assert isinstance(conn.created_at, datetime) and conn.created_at.tzinfo is not None

        identifier = unique()
        account = sb.accounts.create(
            connection_id=conn.id, identifier=identifier, identifier_type="user_id", metadata={"team": "ops"}
        )
        assert isinstance(account, ConnectedAccount)
        assert account.id.startswith("ca_")
        assert (account.status, account.label, account.metadata) == ("pending", "default", {"team": "ops"})

        account = sb.accounts.set_credentials(account.id, {"api_key": "demo-key"})
        assert account.status == "active" and account.has_credentials and account.is_active

        result = sb.tools.execute(
            connected_account_id=account.id, tool="create_note", parameters={"title": "Hello", "body": "from Python"}
        )
        assert isinstance(result, ExecuteResult)
        assert result.data["title"] == "Hello"
        note_id = result.data["note_id"]
        assert result.meta.provider == "notes" and result.meta.tool == "create_note"
        assert result.meta.connected_account_id == account.id
        assert result.meta.upstream_status == 201
        assert result.meta.request_id.startswith("req_")
        assert gateway.notes.notes[note_id]["body"] == "from Python"

        # By identifier and provider instead of the account id, with a qualified tool name.
        again = sb.tools.execute(
            identifier=identifier, provider="notes", tool="notes.get_note", parameters={"id": note_id}
        )
        assert again.data == {"id": note_id, "title": "Hello", "body": "from Python"}
        assert again.meta.connected_account_id == account.id
    finally:
        deleted = sb.connections.delete(conn.id)
    assert deleted.deleted and deleted.id == conn.id and deleted.connected_accounts_deleted == 1
    assert deleted.revoked_at_provider == 0, "the notes API has no revocation endpoint"


def test_connections_get_update_delete(sb: Switchboard) -> None:
    conn = sb.connections.create(provider="studio", credentials={"client_id": "a", "client_secret": "b"})
    assert conn.auth_type == "oauth2" and conn.has_credentials and conn.scopes == []
    assert sb.connections.get(conn.id) == conn

    updated = sb.connections.update(conn.id, scopes=["profile", "email"])
    assert updated.scopes == ["profile", "email"] and updated.has_credentials
    assert sb.connections.get(conn.id).scopes == ["profile", "email"]

    assert sb.connections.delete(conn.id).connected_accounts_deleted == 0
    try:
        sb.connections.get(conn.id)
    except NotFoundError as error:
        assert conn.id in error.message
    else:
        raise AssertionError("a deleted connection is still found")


def test_accounts_get_update_list_delete(sb: Switchboard, notes_account: NotesAccount) -> None:
    account = sb.accounts.get(notes_account.account_id)
    assert account.identifier == notes_account.identifier and account.provider == "notes"

    updated = sb.accounts.update(account.id, label="work", metadata={"plan": "pro"})
    assert (updated.label, updated.metadata) == ("work", {"plan": "pro"})

    found = list(sb.accounts.list(identifier=notes_account.identifier, status="active"))
    assert [a.id for a in found] == [account.id]
    assert list(sb.accounts.list(identifier=notes_account.identifier, status="pending")) == []

    deleted = sb.accounts.delete(account.id)
    assert deleted.deleted and deleted.id == account.id and deleted.revoked_at_provider is False
    assert list(sb.accounts.list(identifier=notes_account.identifier)) == []


def test_get_auth_url_for_an_oauth_account(sb: Switchboard, gateway: Gateway, studio_connection: str) -> None:
    account = sb.accounts.create(connection_id=studio_connection, identifier=unique())
    auth = sb.accounts.get_auth_url(account.id, redirect_url="https://app.example/done", scopes=["admin"])
    assert isinstance(auth, AuthUrl) and str(auth) == auth.url
    assert auth.state_expires_at is not None and auth.state_expires_at > datetime.now(auth.state_expires_at.tzinfo)

    # The link is the gateway's start page; its Continue button leads the
    # browser on to the provider, binding the flow to that browser.
    assert auth.url.startswith(f"{gateway.url}/v1/oauth/start/")
    with httpx.Client() as browser:
        assert "Continue to Studio" in browser.get(auth.url).text
        response = browser.post(auth.url)
    assert response.status_code == 303 and "sb_oauth_" in response.headers["set-cookie"]
    url = urlsplit(response.headers["location"])
    assert (url.scheme, url.netloc, url.path) == ("https", "studio.example", "/oauth/authorize")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == "studio-client"
    assert query["redirect_uri"] == f"{gateway.url}/v1/oauth/callback"
    assert query["scope"] == "read,write,profile,admin"
    assert query["code_challenge_method"] == "S256" and query["code_challenge"]
    assert query["access_type"] == "offline" and query["state"]

    # Without arguments too; each link has its own state.
    assert sb.accounts.get_auth_url(account.id).url != auth.url


def test_pending_oauth_account_needs_reauthorization_with_a_link(sb: Switchboard, studio_connection: str) -> None:
    account = sb.accounts.create(connection_id=studio_connection, identifier=unique())
    try:
        sb.tools.execute(connected_account_id=account.id, tool="get_site")
    except ReauthorizationRequiredError as error:
        assert error.status == 409 and error.provider == "studio"
        assert error.account_status == "pending" and error.connected_account_id == account.id
        assert error.auth_url is not None and "/v1/oauth/start/" in error.auth_url
    else:
        raise AssertionError("a pending account executed a tool")


def test_providers_list_and_get(sb: Switchboard) -> None:
    providers = sb.providers.list()
    assert [p.provider for p in providers] == ["notes", "studio"]
    notes = providers[0]
    assert notes.display_name == "Notes (demo)" and notes.auth_type == "api_key"
    assert notes.tools == ["create_note", "get_note", "list_notes"]
    assert notes.description is None  # summaries carry no details

    detail = sb.providers.get("notes")
    assert detail.description == "A local demo API for trying the gateway."
    assert detail.credential_fields is not None and detail.credential_fields["api_key"].secret
    assert detail.auth_methods is not None and detail.auth_methods[0].auth_type == "api_key"
    studio = sb.providers.get("studio")
    assert studio.default_scopes == ["read", "write"]


def test_connect_session(sb: Switchboard, gateway: Gateway, notes_account: NotesAccount) -> None:
    session = sb.connect_sessions.create(
        identifier=notes_account.identifier,
        connection_ids=[notes_account.connection_id],
        redirect_url="https://app.example/back",
    )
    assert session.url.startswith(f"{gateway.url}/connect/")
    assert session.expires_at is not None


def test_ids_are_escaped_in_paths(sb: Switchboard) -> None:
    # An id with a slash must not reach another route.
    try:
        sb.connections.get("conn_x/../../v1/providers")
    except NotFoundError:
        pass
    else:
        raise AssertionError("the id changed the route")

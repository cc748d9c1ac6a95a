"""Typed errors: each error code raises its own class, carrying the envelope."""

from __future__ import annotations

import socket

import pytest

from conftest import Gateway, NotesAccount, unique
from switchboard import (
    ConflictError,
    FieldError,
    InvalidParametersError,
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    ReauthorizationRequiredError,
    Switchboard,
    SwitchboardConnectionError,
    SwitchboardError,
    UnauthenticatedError,
)


def test_not_found(sb: Switchboard) -> None:
    with pytest.raises(NotFoundError) as caught:
        sb.connections.get("conn_doesnotexist")
    error = caught.value
    assert isinstance(error, SwitchboardError)
    assert (error.code, error.status) == ("not_found", 404)
    assert error.message == "no connection `conn_doesnotexist`"
    assert error.request_id is not None and error.request_id.startswith("req_")
    assert error.details == {} and error.provider is None and error.retry_after_s is None
    assert "not_found: no connection" in str(error) and error.request_id in str(error)


def test_not_found_provider_with_suggestion(sb: Switchboard) -> None:
    with pytest.raises(NotFoundError, match="did you mean `notes`"):
        sb.connections.create(provider="notse")


def test_invalid_parameters_lists_each_field(sb: Switchboard, notes_account: NotesAccount) -> None:
    with pytest.raises(InvalidParametersError) as caught:
        sb.tools.execute(
            connected_account_id=notes_account.account_id, tool="create_note", parameters={"title": 5, "colour": "red"}
        )
    error = caught.value
    assert (error.code, error.status, error.provider) == ("invalid_parameters", 422, "notes")
    assert [f.field for f in error.fields] == ["/title", "/colour"]
    assert all(isinstance(f, FieldError) and f.message for f in error.fields)


def test_conflict_names_the_existing_account(sb: Switchboard, notes_account: NotesAccount) -> None:
    with pytest.raises(ConflictError) as caught:
        sb.accounts.create(connection_id=notes_account.connection_id, identifier=notes_account.identifier)
    assert caught.value.status == 409
    assert caught.value.existing_id == notes_account.account_id


def test_conflict_between_accounts_lists_candidates(sb: Switchboard, notes_account: NotesAccount) -> None:
    other = sb.accounts.create(
        connection_id=notes_account.connection_id, identifier=notes_account.identifier, label="work"
    )
    sb.accounts.set_credentials(other.id, api_key="demo-key")
    with pytest.raises(ConflictError) as caught:
        sb.tools.execute(identifier=notes_account.identifier, provider="notes", tool="list_notes")
    candidates = {c.id: c.label for c in caught.value.candidates}
    assert candidates == {notes_account.account_id: "default", other.id: "work"}
    # The label picks one.
    result = sb.tools.execute(identifier=notes_account.identifier, provider="notes", label="work", tool="list_notes")
    assert result.meta.connected_account_id == other.id


def test_provider_error_from_the_providers_404(sb: Switchboard, notes_account: NotesAccount) -> None:
    with pytest.raises(ProviderError) as caught:
        sb.tools.execute(identifier=notes_account.identifier, provider="notes", tool="get_note", parameters={"id": 99})
    error = caught.value
    assert (error.code, error.status) == ("provider_error", 502)
    assert (error.provider, error.upstream_status) == ("notes", 404)
    assert error.message == "no note 99"
    assert (error.provider_message, error.provider_code) == ("no note 99", "not_found")


def test_wrong_provider_key_means_reauthorization(sb: Switchboard, gateway: Gateway) -> None:
    # The mock checks X-Api-Key; the gateway turns its 401 into reauthorization_required.
    conn = sb.connections.create(provider="notes")
    try:
        account = sb.accounts.create(connection_id=conn.id, identifier=unique())
        sb.accounts.set_credentials(account.id, api_key="not-the-key")
        with pytest.raises(ReauthorizationRequiredError) as caught:
            sb.tools.execute(connected_account_id=account.id, tool="list_notes")
        assert caught.value.upstream_status == 401 and caught.value.provider == "notes"
    finally:
        sb.connections.delete(conn.id)


def test_unauthenticated_with_a_wrong_api_key(gateway: Gateway) -> None:
    with Switchboard(base_url=gateway.url, api_key="sb_wrong") as wrong:
        with pytest.raises(UnauthenticatedError) as caught:
            wrong.providers.list()
    assert (caught.value.code, caught.value.status) == ("unauthenticated", 401)
    assert caught.value.message == "the API key is not valid"


def test_invalid_request(sb: Switchboard) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        sb.tools.list(format="xml")  # type: ignore[call-overload]
    assert caught.value.status == 400 and "unknown format" in caught.value.message
    with pytest.raises(InvalidRequestError, match="identifier"):
        sb.tools.execute(tool="list_notes", identifier="someone")


def test_unknown_tool(sb: Switchboard, notes_account: NotesAccount) -> None:
    with pytest.raises(NotFoundError, match="did you mean `get_note`"):
        sb.tools.execute(connected_account_id=notes_account.account_id, tool="get_nte")


def test_unreachable_gateway_is_a_connection_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Switchboard(base_url=f"http://127.0.0.1:{port}", api_key="k", timeout=5) as client:
        with pytest.raises(SwitchboardConnectionError) as caught:
            client.providers.list()
    assert caught.value.status is None and caught.value.request_id is None
    assert caught.value.code == "connection_error"
    assert not isinstance(caught.value, NotFoundError)

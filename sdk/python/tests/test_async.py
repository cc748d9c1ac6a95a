"""The asynchronous client: the same path, awaited, and ``async for`` over pages."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator, List

import pytest

from conftest import Gateway, NotesAccount, unique
from hook_receiver import HookReceiver
from switchboard import (
    AsyncSwitchboard,
    AuditEvent,
    ConflictError,
    InvalidParametersError,
    NotFoundError,
    ProviderError,
    ReauthorizationRequiredError,
    UnauthenticatedError,
    WebhookDelivery,
)
from switchboard.webhooks import verify

pytestmark = pytest.mark.anyio


@pytest.fixture
async def asb(gateway: Gateway) -> AsyncIterator[AsyncSwitchboard]:
    async with AsyncSwitchboard(base_url=gateway.url, api_key=gateway.api_key, timeout=30) as client:
        yield client


async def test_happy_path(asb: AsyncSwitchboard, gateway: Gateway) -> None:
    conn = await asb.connections.create(provider="notes")
    try:
        identifier = unique()
        account = await asb.accounts.create(connection_id=conn.id, identifier=identifier, identifier_type="org_id")
        assert (account.status, account.identifier_type) == ("pending", "org_id")
        account = await asb.accounts.set_credentials(account.id, api_key="demo-key")
        assert account.status == "active"

        result = await asb.tools.execute(
            connected_account_id=account.id, tool="create_note", parameters={"title": "Async"}
        )
        assert result.data["title"] == "Async" and result.meta.upstream_status == 201
        fetched = await asb.tools.execute(
            identifier=identifier, provider="notes", tool="notes__get_note", parameters={"id": result.data["note_id"]}
        )
        assert fetched.data["title"] == "Async"

        assert (await asb.accounts.get(account.id)).last_used_at is not None
        assert (await asb.connections.get(conn.id)).id == conn.id
        assert (await asb.connections.update(conn.id, config={})).config == {}
        assert (await asb.accounts.update(account.id, label="second")).label == "second"
        assert [p.provider for p in await asb.providers.list()] == ["notes", "studio"]
        assert (await asb.providers.get("studio")).auth_type == "oauth2"
        session = await asb.connect_sessions.create(identifier=identifier)
        assert session.url.startswith(gateway.url)
        assert (await asb.accounts.delete(account.id)).deleted
    finally:
        assert (await asb.connections.delete(conn.id)).deleted


async def test_async_for_walks_pages(asb: AsyncSwitchboard) -> None:
    conn = await asb.connections.create(provider="notes")
    try:
        identifier = unique()
        created = [
            await asb.accounts.create(connection_id=conn.id, identifier=identifier, label=f"l{i}") for i in range(5)
        ]
        walked = [a.id async for a in asb.accounts.list(identifier=identifier, limit=2)]
        assert walked == [a.id for a in created]
        sizes = [len(page) async for page in asb.accounts.list(identifier=identifier, limit=2).pages()]
        assert sizes == [2, 2, 1]
        assert len(await asb.accounts.list(connection_id=conn.id, limit=3).to_list()) == 5
        page = await asb.accounts.list_page(identifier=identifier, limit=4)
        assert len(page.data) == 4 and page.has_more
        conns = [c.id async for c in asb.connections.list(provider="notes", limit=1)]
        assert conn.id in conns
    finally:
        await asb.connections.delete(conn.id)


async def test_async_errors(asb: AsyncSwitchboard, gateway: Gateway, notes_account: NotesAccount) -> None:
    with pytest.raises(NotFoundError):
        await asb.accounts.get("ca_missing")
    with pytest.raises(ConflictError) as conflict:
        await asb.accounts.create(connection_id=notes_account.connection_id, identifier=notes_account.identifier)
    assert conflict.value.existing_id == notes_account.account_id
    with pytest.raises(InvalidParametersError) as invalid:
        await asb.tools.execute(connected_account_id=notes_account.account_id, tool="get_note", parameters={"id": "x"})
    assert [f.field for f in invalid.value.fields] == ["/id"]
    with pytest.raises(ProviderError) as provider:
        await asb.tools.execute(connected_account_id=notes_account.account_id, tool="get_note", parameters={"id": 99})
    assert provider.value.upstream_status == 404
    async with AsyncSwitchboard(base_url=gateway.url, api_key="sb_wrong") as wrong:
        with pytest.raises(UnauthenticatedError):
            await wrong.connections.list_page()


async def test_async_auth_url_and_reauthorization(asb: AsyncSwitchboard, studio_connection: str) -> None:
    account = await asb.accounts.create(connection_id=studio_connection, identifier=unique())
    auth = await asb.accounts.get_auth_url(account.id)
    assert "/v1/oauth/start/" in auth.url
    with pytest.raises(ReauthorizationRequiredError) as caught:
        await asb.tools.execute(connected_account_id=account.id, tool="get_site")
    assert caught.value.auth_url is not None


async def test_async_tool_calls(asb: AsyncSwitchboard, notes_account: NotesAccount) -> None:
    openai_call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "notes__create_note", "arguments": '{"title": "A"}'},
    }
    message = await asb.tools.execute_tool_call(openai_call, identifier=notes_account.identifier)
    assert message["tool_call_id"] == "call_1" and json.loads(message["content"])["title"] == "A"  # type: ignore[typeddict-item]

    block = {"type": "tool_use", "id": "toolu_1", "name": "notes__get_note", "input": {"id": 99}}
    result = await asb.tools.execute_tool_call(block, identifier=notes_account.identifier)
    assert result["is_error"] is True  # type: ignore[typeddict-item]
    assert json.loads(result["content"])["error"]["code"] == "provider_error"  # type: ignore[typeddict-item]

    tools = await asb.tools.list(provider="notes", format="anthropic")
    assert tools[0]["name"] == "notes__create_note"


async def test_async_webhooks_and_audit_trail(asb: AsyncSwitchboard, receiver: HookReceiver) -> None:
    hook = await asb.webhooks.create(f"{receiver.url}/async", events=["account.connected"])
    conn = await asb.connections.create(provider="notes")
    try:
        assert (await asb.webhooks.get(hook.id)) == hook.webhook
        assert hook.id in [w.id async for w in asb.webhooks.list(limit=1)]
        assert hook.id in [w.id for w in await asb.webhooks.list_page(limit=200)]

        account = await asb.accounts.create(connection_id=conn.id, identifier=unique())
        await asb.accounts.set_credentials(account.id, api_key="demo-key")
        # The receiver runs in a thread: wait for it without blocking the loop.
        received = await asyncio.to_thread(
            receiver.wait_for, lambda r: r.json()["data"]["connected_account_id"] == account.id
        )
        assert verify(hook.secret, received.body, received.headers).data.connected_account_id == account.id

        delivered: List[WebhookDelivery] = []
        for _ in range(400):
            delivered = [d async for d in asb.webhooks.deliveries(hook.id) if d.status == "delivered"]
            if delivered:
                break
            await asyncio.sleep(0.05)
        assert [d.id for d in delivered] == [received.header("webhook-id")]
        assert [d.id for d in await asb.webhooks.deliveries_page(hook.id, limit=1)] == [delivered[0].id]

        events: List[AuditEvent] = []
        for _ in range(400):
            events = await asb.audit_logs.list(connected_account_id=account.id, limit=1).to_list()
            if any(e.action == "account.credentials_set" for e in events):
                break
            await asyncio.sleep(0.05)
        assert [e.action for e in events] == ["account.credentials_set", "account.created"]
        page = await asb.audit_logs.list_page(connected_account_id=account.id, limit=1)
        assert page.has_more and page.data[0].id == events[0].id
        exported = [e.id async for e in asb.audit_logs.export(connected_account_id=account.id, since=conn.created_at)]
        assert exported == [e.id for e in reversed(events)]
    finally:
        assert (await asb.webhooks.delete(hook.id)).deleted
        await asb.connections.delete(conn.id)
    with pytest.raises(NotFoundError):
        await asb.webhooks.get(hook.id)

"""Webhooks against a real gateway: registering an endpoint, a signed delivery of an account
event to a local receiver, checking it with the SDK's verifier, and the delivery records.
"""

from __future__ import annotations

import base64
import os
from datetime import datetime
from typing import Callable, Iterator, List, Optional

import pytest

from conftest import unique
from hook_receiver import HookReceiver, Received, eventually
from switchboard import (
    InvalidRequestError,
    NotFoundError,
    Switchboard,
    Webhook,
    WebhookCreated,
    WebhookDelivery,
    WebhookVerificationError,
)
from switchboard.webhooks import verify


@pytest.fixture
def connection_id(sb: Switchboard) -> Iterator[str]:
    conn = sb.connections.create(provider="notes")
    try:
        yield conn.id
    finally:
        sb.connections.delete(conn.id)


def connect_account(sb: Switchboard, connection_id: str, identifier: Optional[str] = None) -> str:
    """A notes account given its API key, which makes it active: ``account.connected``."""
    account = sb.accounts.create(connection_id=connection_id, identifier=identifier or unique())
    assert sb.accounts.set_credentials(account.id, api_key="demo-key").status == "active"
    return account.id


def about(account_id: str) -> Callable[[Received], bool]:
    """Matches the deliveries of events of this account."""
    return lambda r: bool(r.json()["data"]["connected_account_id"] == account_id)


def delivery_of(sb: Switchboard, webhook_id: str, account_id: str, status: str) -> Optional[WebhookDelivery]:
    for delivery in sb.webhooks.deliveries(webhook_id):
        if delivery.payload.data.connected_account_id == account_id and delivery.status == status:
            return delivery
    return None


def test_an_account_event_is_delivered_signed(sb: Switchboard, receiver: HookReceiver, connection_id: str) -> None:
    hook = sb.webhooks.create(f"{receiver.url}/hooks/switchboard", events=["account.connected"])
    try:
        assert isinstance(hook, WebhookCreated)
        assert hook.id.startswith("wh_") and hook.secret.startswith("whsec_")
        assert len(base64.b64decode(hook.secret[len("whsec_") :])) == 32
        assert (hook.url, hook.events) == (f"{receiver.url}/hooks/switchboard", ["account.connected"])
        assert isinstance(hook.created_at, datetime)
        assert hook.secret not in repr(hook), "the secret is kept out of logs"

        fetched = sb.webhooks.get(hook.id)
        assert isinstance(fetched, Webhook) and fetched == hook.webhook
        assert "secret" not in fetched.raw, "the secret is shown only once"
        assert hook.id in [w.id for w in sb.webhooks.list(limit=1)]

        account_id = connect_account(sb, connection_id)
        received = receiver.wait_for(about(account_id))
        assert received.path == "/hooks/switchboard"
        assert received.header("content-type") == "application/json"
        assert (received.header("webhook-id") or "").startswith("msg_")

        # The SDK's verifier accepts it, with the headers as they came ...
        event = verify(hook.secret, received.body, received.headers)
        assert event.type == "account.connected"
        assert event.data.connected_account_id == account_id
        assert (event.data.connection_id, event.data.provider) == (connection_id, "notes")
        assert (event.data.label, event.data.status, event.data.reason) == ("default", "active", None)
        assert event.timestamp is not None and event.timestamp.tzinfo is not None
        # ... or as a dict with names in any case, and the body as text.
        as_dict = {name.upper(): value for name, value in received.headers}
        assert verify(hook.secret, received.body.decode(), as_dict) == event

        # A body changed on the way, and a secret that is not the endpoint's, are refused.
        tampered = received.body.replace(b'"active"', b'"revoked"')
        assert tampered != received.body
        with pytest.raises(WebhookVerificationError, match="matches"):
            verify(hook.secret, tampered, received.headers)
        other_secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        with pytest.raises(WebhookVerificationError, match="matches"):
            verify(other_secret, received.body, received.headers)
        replayed = [(k, v) for k, v in received.headers if k.lower() != "webhook-timestamp"]
        replayed.append(("webhook-timestamp", str(int(received.header("webhook-timestamp") or 0) - 3600)))
        with pytest.raises(WebhookVerificationError):
            verify(hook.secret, received.body, replayed)

        # The gateway's record of it.
        delivery = eventually(lambda: delivery_of(sb, hook.id, account_id, "delivered"), what="a delivered record")
        assert delivery.id == received.header("webhook-id")
        assert (delivery.webhook_id, delivery.event_type, delivery.attempts) == (hook.id, "account.connected", 1)
        assert (delivery.last_response_status, delivery.last_error, delivery.next_attempt_at) == (204, None, None)
        assert delivery.delivered_at is not None and delivery.last_attempt_at is not None
        assert delivery.payload == event
    finally:
        deleted = sb.webhooks.delete(hook.id)
    assert deleted.deleted and deleted.id == hook.id
    with pytest.raises(NotFoundError):
        sb.webhooks.get(hook.id)
    assert hook.id not in [w.id for w in sb.webhooks.list()]


def test_deliveries_are_listed_newest_first_across_pages(
    sb: Switchboard, receiver: HookReceiver, connection_id: str
) -> None:
    hook = sb.webhooks.create(receiver.url, events=["account.connected", "account.revoked"])
    try:
        assert hook.events == ["account.connected", "account.revoked"]
        accounts: List[str] = [connect_account(sb, connection_id) for _ in range(3)]
        for account_id in accounts:
            receiver.wait_for(about(account_id))

        def all_delivered() -> Optional[List[WebhookDelivery]]:
            listed = sb.webhooks.deliveries(hook.id, limit=2).to_list()
            return listed if len(listed) == 3 and all(d.status == "delivered" for d in listed) else None

        listed = eventually(all_delivered, what="three delivered records")
        assert [d.payload.data.connected_account_id for d in listed] == accounts[::-1]
        assert [len(page) for page in sb.webhooks.deliveries(hook.id, limit=2).pages()] == [2, 1]
        first = sb.webhooks.deliveries_page(hook.id, limit=2)
        assert first.has_more and [d.id for d in first] == [d.id for d in listed[:2]]
        rest = sb.webhooks.deliveries_page(hook.id, limit=2, cursor=first.next_cursor)
        assert [d.id for d in rest] == [listed[2].id] and not rest.has_more
    finally:
        sb.webhooks.delete(hook.id)


def test_a_failed_attempt_stays_pending_until_retried(sb: Switchboard, connection_id: str) -> None:
    failing = HookReceiver(statuses=[503])
    hook = sb.webhooks.create(f"{failing.url}/down")
    try:
        # Without events, all four.
        assert sorted(hook.events) == [
            "account.connected",
            "account.reauthorization_required",
            "account.refresh_failed",
            "account.revoked",
        ]
        account_id = connect_account(sb, connection_id)
        failing.wait_for(about(account_id))

        def attempted() -> Optional[WebhookDelivery]:
            found = delivery_of(sb, hook.id, account_id, "pending")
            return found if found is not None and found.attempts > 0 else None

        delivery = eventually(attempted, what="the failed attempt recorded")
        assert (delivery.status, delivery.attempts, delivery.last_response_status) == ("pending", 1, 503)
        assert delivery.last_error == "the endpoint answered 503" and delivery.delivered_at is None
        assert delivery.next_attempt_at is not None and delivery.last_attempt_at is not None
        assert delivery.next_attempt_at > delivery.last_attempt_at
    finally:
        sb.webhooks.delete(hook.id)
        failing.close()
    with pytest.raises(NotFoundError):
        sb.webhooks.deliveries_page(hook.id)


def test_create_refuses_what_the_gateway_cannot_send_to(sb: Switchboard) -> None:
    with pytest.raises(InvalidRequestError, match="https"):
        sb.webhooks.create("http://hooks.example/switchboard")
    with pytest.raises(InvalidRequestError, match="unknown event"):
        sb.webhooks.create("https://hooks.example/switchboard", events=["account.disconnected"])
    with pytest.raises(TypeError):
        sb.webhooks.create("https://hooks.example/switchboard", events="account.revoked")
    with pytest.raises(NotFoundError):
        sb.webhooks.delete("wh_missing")

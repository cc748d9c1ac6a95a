"""What the SDK sends and how it reads answers, checked without a gateway.

Through httpx's mock transport: MCP links, which the gateway does not serve
yet, against the contract's description; the exact bodies of token import and
credentials; and answers a healthy gateway does not give (no envelope, a code
this SDK does not know, a client timeout).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Tuple

import httpx
import pytest

from switchboard import (
    AsyncSwitchboard,
    McpLink,
    RateLimitedError,
    Switchboard,
    SwitchboardError,
    SwitchboardTimeoutError,
)
from switchboard._models import parse_timestamp

ACCOUNT: Dict[str, Any] = {
    "id": "ca_1", "connection_id": "conn_1", "provider": "studio", "identifier": "u", "identifier_type": "user_id",
    "label": "default", "status": "active", "status_reason": None, "status_changed_at": "2026-11-25T17:01:52.763Z",
    "scopes": ["read"], "metadata": {}, "config": {}, "has_credentials": True, "last_used_at": None,
    "created_at": "2026-11-25T17:01:52.763Z", "updated_at": "2026-11-25T17:01:52.763Z",
}  # fmt: skip


class Recorder:
    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: List[httpx.Request] = []
        self._answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._answer(request)

    def body(self, index: int = -1) -> Dict[str, Any]:
        body: Dict[str, Any] = json.loads(self.requests[index].content)
        return body


def client(answer: Callable[[httpx.Request], httpx.Response]) -> Tuple[Switchboard, Recorder]:
    recorder = Recorder(answer)
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    return Switchboard(base_url="http://gw.test/prefix/", api_key="sb_k", http_client=http), recorder


def test_mcp_links_create_and_delete() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(
                201, json={"id": "mcp_1", "url": "http://gw.test/mcp/t0ken", "expires_at": "2026-12-01T00:00:00Z"}
            )
        return httpx.Response(200, json={"id": "mcp_1", "deleted": True})

    sb, rec = client(answer)
    link = sb.mcp_links.create("user-42", providers=["notes"], tools=["notes.create_note"], expires_in_s=3600)
    assert isinstance(link, McpLink) and (link.id, link.url) == ("mcp_1", "http://gw.test/mcp/t0ken")
    assert link.expires_at == datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert (rec.requests[0].method, rec.requests[0].url.path) == ("POST", "/prefix/v1/mcp-links")
    assert rec.body(0) == {
        "identifier": "user-42",
        "providers": ["notes"],
        "tools": ["notes.create_note"],
        "expires_in_s": 3600,
    }
    assert rec.requests[0].headers["authorization"] == "Bearer sb_k"

    assert sb.mcp_links.create("user-7") and rec.body() == {"identifier": "user-7"}
    deleted = sb.mcp_links.delete("mcp_1")
    assert deleted.deleted and deleted.id == "mcp_1"
    assert (rec.requests[-1].method, rec.requests[-1].url.path) == ("DELETE", "/prefix/v1/mcp-links/mcp_1")


def test_mcp_link_delete_with_an_empty_answer() -> None:
    sb, _ = client(lambda request: httpx.Response(204))
    assert sb.mcp_links.delete("mcp_9").id == "mcp_9"


def test_import_tokens_and_set_credentials_bodies() -> None:
    sb, rec = client(lambda request: httpx.Response(200, json=ACCOUNT))
    expiry = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
    account = sb.accounts.import_tokens(
        "ca_1", access_token="at", refresh_token="rt", expires_at=expiry, scopes=["read"]
    )
    assert account.status == "active"
    assert rec.requests[0].url.path == "/prefix/v1/connected-accounts/ca_1/credentials"
    assert rec.body(0) == {
        "access_token": "at",
        "refresh_token": "rt",
        "expires_at": "2026-11-26T12:00:00Z",
        "scopes": ["read"],
    }

    sb.accounts.import_tokens("ca_1", access_token="at", expires_at=1764158400.7)
    assert rec.body() == {"access_token": "at", "expires_at": 1764158400}
    sb.accounts.set_credentials("ca_1", {"access_token": "at", "refresh_token": "rt"})
    assert rec.body() == {"access_token": "at", "refresh_token": "rt"}
    sb.accounts.set_credentials("ca_1", username="u", password="p")
    assert rec.body() == {"username": "u", "password": "p"}
    with pytest.raises(ValueError):
        sb.accounts.set_credentials("ca_1")


def test_unknown_code_and_retry_after_header() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/providers"):
            body = {"error": {"code": "brand_new", "message": "m", "request_id": "req_1", "details": {"x": 1}}}
            return httpx.Response(418, json=body)
        body = {"error": {"code": "rate_limited", "message": "slow down", "request_id": "req_2", "details": {}}}
        return httpx.Response(429, json=body, headers={"Retry-After": "17"})

    sb, _ = client(answer)
    with pytest.raises(SwitchboardError) as unknown:
        sb.providers.list()
    assert type(unknown.value) is SwitchboardError
    assert (unknown.value.code, unknown.value.status, unknown.value.details) == ("brand_new", 418, {"x": 1})
    with pytest.raises(RateLimitedError) as limited:
        sb.connections.list_page()
    assert limited.value.retry_after_s == 17


def test_an_answer_without_envelope() -> None:
    sb, _ = client(lambda r: httpx.Response(502, text="<html>Bad Gateway</html>", headers={"x-request-id": "req_p"}))
    with pytest.raises(SwitchboardError) as caught:
        sb.providers.list()
    assert (caught.value.code, caught.value.status, caught.value.request_id) == ("unexpected_response", 502, "req_p")
    assert "Bad Gateway" in caught.value.message


def test_client_timeout() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    sb, _ = client(answer)
    with pytest.raises(SwitchboardTimeoutError) as caught:
        sb.providers.list()
    assert caught.value.code == "timeout" and isinstance(caught.value.__cause__, httpx.ReadTimeout)


def test_api_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_API_KEY", "sb_env")
    monkeypatch.setenv("SWITCHBOARD_BASE_URL", "http://env.test:9")
    with Switchboard() as sb:
        assert sb.base_url == "http://env.test:9"
    monkeypatch.delenv("SWITCHBOARD_API_KEY")
    with pytest.raises(ValueError, match="API key"):
        Switchboard()


@pytest.mark.anyio
async def test_async_mcp_links() -> None:
    recorder = Recorder(lambda r: httpx.Response(201, json={"id": "mcp_2", "url": "http://gw.test/mcp/x"}))
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        sb = AsyncSwitchboard(base_url="http://gw.test", api_key="k", http_client=http)
        link = await sb.mcp_links.create("u", expires_in_s=60)
        assert link.url == "http://gw.test/mcp/x" and recorder.body() == {"identifier": "u", "expires_in_s": 60}
        await sb.close()  # leaves the application's client open
        assert not http.is_closed


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2026-11-25T17:01:52.763Z", datetime(2026, 11, 25, 17, 1, 52, 763000, tzinfo=timezone.utc)),
        ("2026-11-25T18:20:00Z", datetime(2026, 11, 25, 18, 20, tzinfo=timezone.utc)),
        ("2026-11-25T18:20:00.1+00:00", datetime(2026, 11, 25, 18, 20, 0, 100000, tzinfo=timezone.utc)),
        (None, None),
        ("yesterday", None),
    ],
)
def test_timestamps(text: Any, expected: Any) -> None:
    assert parse_timestamp(text) == expected

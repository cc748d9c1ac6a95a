"""The audit export's stream, and what the audit and webhook calls send, checked without a gateway.

The export must hand out each event as soon as its line has arrived, without
waiting for (or holding) the rest of the body; these answers are served chunk by
chunk through httpx's mock transport, with lines split across chunks.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, AsyncIterator, Dict, Iterator, List

import httpx
import pytest

from switchboard import AsyncSwitchboard, AuditEvent, InvalidRequestError, Switchboard, SwitchboardError


def event(n: int) -> Dict[str, Any]:
    return {
        "id": f"evt_{n:026d}", "at": f"2026-11-26T09:00:0{n}.000Z", "action": "tool.executed", "actor": "key-1",
        "request_id": f"req_{n}", "connected_account_id": "ca_1", "connection_id": "conn_1", "identifier": "u",
        "provider": "notes", "tool": "list_notes", "outcome": "success", "upstream_status": 200, "duration_ms": n,
        "reason": None,
    }  # fmt: skip


def chunks_of(lines: List[bytes]) -> List[bytes]:
    """The body cut at odd places: mid-line, and with several lines in one chunk."""
    body = b"".join(lines)
    cuts = [0, 7, len(lines[0]) + 3, len(body) - 5, len(body)]
    return [body[a:b] for a, b in zip(cuts, cuts[1:])]


def test_export_yields_each_event_before_the_body_has_ended() -> None:
    lines = [json.dumps(event(n)).encode() + b"\n" for n in range(1, 4)]
    served: List[int] = []
    requests: List[httpx.Request] = []

    def body() -> Iterator[bytes]:
        for i, chunk in enumerate(chunks_of(lines)):
            served.append(i)
            yield chunk

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200, headers={"content-type": "application/x-ndjson"}, content=body())

    sb = Switchboard(
        base_url="http://gw.test", api_key="k", http_client=httpx.Client(transport=httpx.MockTransport(answer))
    )
    stream = sb.audit_logs.export(
        identifier="u", since=datetime(2026, 11, 1, tzinfo=timezone.utc), until="2026-12-01T00:00:00Z"
    )
    assert requests == [], "nothing is sent before the loop starts"
    first = next(stream)
    assert isinstance(first, AuditEvent) and first.duration_ms == 1
    assert served == [0, 1], "the first event came out before the rest of the body was read"
    assert [e.duration_ms for e in stream] == [2, 3]
    assert served == [0, 1, 2, 3]

    request = requests[0]
    assert request.url.path == "/v1/audit-logs/export"
    assert dict(request.url.params) == {
        "identifier": "u",
        "since": "2026-11-01T00:00:00Z",
        "until": "2026-12-01T00:00:00Z",
    }
    assert request.headers["accept"] == "application/x-ndjson"


def test_export_errors() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if "since" in request.url.params:
            envelope = {"code": "invalid_request", "message": "since must be an RFC 3339 time", "details": {}}
            return httpx.Response(400, json={"error": {**envelope, "request_id": "req_x"}})
        return httpx.Response(200, content=iter([json.dumps(event(1)).encode() + b"\n\n", b"<html>oops</html>\n"]))

    sb = Switchboard(
        base_url="http://gw.test", api_key="k", http_client=httpx.Client(transport=httpx.MockTransport(answer))
    )
    with pytest.raises(InvalidRequestError) as refused:
        list(sb.audit_logs.export(since="soon"))
    assert refused.value.request_id == "req_x"

    stream = sb.audit_logs.export()
    assert next(stream).id == event(1)["id"]  # the blank line is skipped
    with pytest.raises(SwitchboardError) as broken:
        next(stream)
    assert broken.value.code == "unexpected_response" and broken.value.body == "<html>oops</html>"


def test_list_filters_are_sent_as_query_values() -> None:
    seen: List[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [event(2), event(1)], "next_cursor": None})

    sb = Switchboard(
        base_url="http://gw.test", api_key="k", http_client=httpx.Client(transport=httpx.MockTransport(answer))
    )
    since = datetime(2026, 11, 26, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    page = sb.audit_logs.list_page(action="tool.executed", since=since, until=datetime(2026, 11, 27), limit=2)
    assert [e.duration_ms for e in page] == [2, 1]
    assert dict(seen[0].url.params) == {
        "action": "tool.executed",
        "since": "2026-11-26T09:30:00Z",  # in UTC
        "until": "2026-11-27T00:00:00Z",  # a naive datetime is taken as UTC
        "limit": "2",
    }


def test_webhook_calls() -> None:
    seen: List[httpx.Request] = []
    hook = {"id": "wh_1", "url": "https://app.example/h", "events": ["account.revoked"], "created_at": None}

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            return httpx.Response(201, json={**hook, "secret": "whsec_AAAA"})
        if request.url.path.endswith("/deliveries"):
            return httpx.Response(200, json={"data": [], "next_cursor": None})
        return httpx.Response(200, json={"id": "wh_1", "deleted": True})

    sb = Switchboard(
        base_url="http://gw.test", api_key="k", http_client=httpx.Client(transport=httpx.MockTransport(answer))
    )
    created = sb.webhooks.create("https://app.example/h", events=("account.revoked",))
    assert json.loads(seen[0].content) == {"url": "https://app.example/h", "events": ["account.revoked"]}
    assert created.secret == "whsec_AAAA" and "whsec_AAAA" not in repr(created)
    sb.webhooks.create("https://app.example/h")
    assert json.loads(seen[1].content) == {"url": "https://app.example/h"}
    assert sb.webhooks.deliveries("wh_1/x", limit=5).to_list() == []
    assert seen[2].url.raw_path == b"/v1/webhooks/wh_1%2Fx/deliveries?limit=5"
    assert sb.webhooks.delete("wh_1").deleted


@pytest.mark.anyio
async def test_async_export_streams_too() -> None:
    lines = [json.dumps(event(n)).encode() + b"\r\n" for n in range(1, 4)]
    served: List[int] = []

    async def body() -> AsyncIterator[bytes]:
        for i, chunk in enumerate(chunks_of(lines)):
            served.append(i)
            yield chunk

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        sb = AsyncSwitchboard(base_url="http://gw.test", api_key="k", http_client=http)
        stream = sb.audit_logs.export(connection_id="conn_1")
        first = await stream.__anext__()
        assert first.duration_ms == 1 and served == [0, 1]
        assert [e.duration_ms async for e in stream] == [2, 3]
        await stream.aclose()

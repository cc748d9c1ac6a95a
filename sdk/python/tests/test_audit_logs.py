"""The audit trail against a real gateway: filters, paging newest first, and the streamed export."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import List, Optional

import pytest

from conftest import NotesAccount
from hook_receiver import eventually
from switchboard import AuditEvent, InvalidRequestError, Switchboard


def account_events(sb: Switchboard, account: NotesAccount) -> List[AuditEvent]:
    """The account's events once its tool call has been written (events are written a moment later)."""

    def written() -> Optional[List[AuditEvent]]:
        events = sb.audit_logs.list(connected_account_id=account.account_id).to_list()
        return events if any(e.action == "tool.executed" for e in events) else None

    return eventually(written, what="the tool call's audit event")


def test_list_filters_and_pages_newest_first(sb: Switchboard, notes_account: NotesAccount) -> None:
    title = "Quarterly plan 7Q3"
    result = sb.tools.execute(
        connected_account_id=notes_account.account_id, tool="create_note", parameters={"title": title}
    )
    events = account_events(sb, notes_account)

    assert all(isinstance(e, AuditEvent) and e.id.startswith("evt_") for e in events)
    assert [e.id for e in events] == sorted((e.id for e in events), reverse=True), "newest first"
    actions = [e.action for e in events]
    assert actions[0] == "tool.executed"
    assert actions[-2:] == ["account.credentials_set", "account.created"]
    assert all(e.connected_account_id == notes_account.account_id for e in events)

    # One event per page, walked across pages: the same events.
    assert [e.id for e in sb.audit_logs.list(connected_account_id=notes_account.account_id, limit=1)] == [
        e.id for e in events
    ]
    pages = list(sb.audit_logs.list(connected_account_id=notes_account.account_id, limit=1).pages())
    assert [len(p) for p in pages] == [1] * len(events)
    first = sb.audit_logs.list_page(connected_account_id=notes_account.account_id, limit=2)
    assert first.has_more and [e.id for e in first] == [e.id for e in events[:2]]
    older = sb.audit_logs.list_page(connected_account_id=notes_account.account_id, limit=2, cursor=first.next_cursor)
    assert [e.id for e in older] == [e.id for e in events[2:4]]

    # The tool call, by action, with what it records (and nothing of its parameters).
    [call] = sb.audit_logs.list(connected_account_id=notes_account.account_id, action="tool.executed")
    assert (call.tool, call.outcome, call.upstream_status) == ("create_note", "success", 201)
    assert (call.provider, call.identifier, call.connection_id) == (
        "notes",
        notes_account.identifier,
        notes_account.connection_id,
    )
    assert call.actor == "key-1" and call.request_id == result.meta.request_id
    assert call.duration_ms is not None and call.duration_ms >= 0
    assert call.at is not None and call.at.tzinfo is not None
    assert title not in json.dumps(call.raw)

    # By the end user and the provider.
    by_user = sb.audit_logs.list(identifier=notes_account.identifier, provider="notes").to_list()
    assert {e.id for e in events} <= {e.id for e in by_user}

    # Times: datetimes (aware or naive UTC) or RFC 3339 text; since inclusive, until exclusive.
    assert list(sb.audit_logs.list(connection_id=notes_account.connection_id, since=call.at + timedelta(hours=1))) == []
    until = [e.id for e in sb.audit_logs.list(connected_account_id=notes_account.account_id, until=call.at)]
    assert call.id not in until and until == [e.id for e in events if e.at is not None and e.at < call.at]
    since_text = call.at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{call.at.microsecond // 1000:03d}Z"
    since = sb.audit_logs.list(connected_account_id=notes_account.account_id, since=since_text).to_list()
    assert call.id in [e.id for e in since]
    naive = call.at.astimezone(timezone.utc).replace(tzinfo=None)
    assert [e.id for e in sb.audit_logs.list(connected_account_id=notes_account.account_id, since=naive)] == [
        e.id for e in since
    ]


def test_export_streams_every_event_oldest_first(sb: Switchboard, notes_account: NotesAccount) -> None:
    sb.tools.execute(connected_account_id=notes_account.account_id, tool="list_notes")
    events = account_events(sb, notes_account)

    exported = list(sb.audit_logs.export(connected_account_id=notes_account.account_id))
    assert all(isinstance(e, AuditEvent) for e in exported)
    assert [e.id for e in exported] == [e.id for e in reversed(events)], "oldest first"
    assert exported[-1] == events[0]

    # The connection's events include its own creation as well as the account's.
    by_connection = [e.action for e in sb.audit_logs.export(connection_id=notes_account.connection_id)]
    assert by_connection[0] == "connection.created" and "tool.executed" in by_connection

    only_calls = list(
        sb.audit_logs.export(
            connected_account_id=notes_account.account_id,
            action="tool.executed",
            since=datetime.now(timezone.utc) - timedelta(hours=1),
        )
    )
    assert [e.tool for e in only_calls] == ["list_notes"]
    assert list(sb.audit_logs.export(identifier=notes_account.identifier, action="no.such.action")) == []

    # Leaving the loop early closes the stream.
    stream = sb.audit_logs.export(connected_account_id=notes_account.account_id)
    assert next(stream).id == exported[0].id
    stream.close()


def test_times_that_are_not_rfc3339_are_refused(sb: Switchboard) -> None:
    with pytest.raises(InvalidRequestError, match="since"):
        sb.audit_logs.list_page(since="yesterday")
    with pytest.raises(InvalidRequestError, match="until"):
        list(sb.audit_logs.export(until="26/11/2026"))
    with pytest.raises(TypeError):
        sb.audit_logs.list_page(since=1700000000)  # type: ignore[arg-type]

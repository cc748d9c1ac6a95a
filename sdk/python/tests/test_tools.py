"""The tool catalog in each format, and executing LLM tool calls."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from conftest import Gateway, NotesAccount
from switchboard import InvalidParametersError, ProviderError, Switchboard, Tool, UnauthenticatedError

NOTES_TOOLS = ["create_note", "get_note", "list_notes"]


def test_catalog_jsonschema(sb: Switchboard) -> None:
    tools = sb.tools.list(provider="notes")
    assert all(isinstance(t, Tool) for t in tools)
    assert [t.id for t in tools] == [f"notes.{name}" for name in NOTES_TOOLS]
    create = tools[0]
    assert (create.provider, create.name, create.llm_name) == ("notes", "create_note", "notes__create_note")
    assert create.input_schema["required"] == ["title"]
    assert create.output_schema["type"] == "object"
    assert create.description.startswith("Create a note")
    # Without a provider: every loaded provider's tools.
    assert {t.provider for t in sb.tools.list()} == {"notes", "studio"}


def test_catalog_openai(sb: Switchboard) -> None:
    tools = sb.tools.list(provider="notes", format="openai")
    assert [t["type"] for t in tools] == ["function"] * 3
    assert [t["function"]["name"] for t in tools] == [f"notes__{name}" for name in NOTES_TOOLS]
    assert tools[0]["function"]["parameters"]["properties"]["title"]["type"] == "string"


def test_catalog_anthropic(sb: Switchboard) -> None:
    tools = sb.tools.list("notes", "anthropic")
    assert [t["name"] for t in tools] == [f"notes__{name}" for name in NOTES_TOOLS]
    assert tools[1]["input_schema"]["required"] == ["id"]
    assert "function" not in tools[0]


def test_catalog_mcp(sb: Switchboard) -> None:
    tools = sb.tools.list(provider="notes", format="mcp")
    assert [t["name"] for t in tools] == [f"notes__{name}" for name in NOTES_TOOLS]
    assert tools[0]["title"] == "Notes (demo): create note"
    assert "inputSchema" in tools[0] and "outputSchema" in tools[0]


def test_openai_tool_call(sb: Switchboard, gateway: Gateway, notes_account: NotesAccount) -> None:
    call = {
        "id": "call_abc",
        "type": "function",
        "function": {"name": "notes__create_note", "arguments": json.dumps({"title": "From GPT"})},
    }
    message = sb.tools.execute_tool_call(identifier=notes_account.identifier, tool_call=call)
    assert message["role"] == "tool" and message["tool_call_id"] == "call_abc"  # type: ignore[typeddict-item]
    output = json.loads(message["content"])  # type: ignore[typeddict-item]
    assert output["title"] == "From GPT"
    assert gateway.notes.notes[output["note_id"]]["title"] == "From GPT"


def test_openai_sdk_object(sb: Switchboard, notes_account: NotesAccount) -> None:
    # The shape of openai's ChatCompletionMessageToolCall: attributes, not keys.
    call = SimpleNamespace(
        id="call_obj",
        type="function",
        function=SimpleNamespace(name="notes__list_notes", arguments=""),
    )
    message = sb.tools.execute_tool_call(call, identifier=notes_account.identifier)
    assert message == {"role": "tool", "tool_call_id": "call_obj", "content": message["content"]}  # type: ignore[typeddict-item]
    assert "notes" in json.loads(message["content"])  # type: ignore[typeddict-item]


def test_anthropic_tool_use(sb: Switchboard, notes_account: NotesAccount) -> None:
    block = {"type": "tool_use", "id": "toolu_01", "name": "notes__create_note", "input": {"title": "From Claude"}}
    result = sb.tools.execute_tool_call(block, identifier=notes_account.identifier)
    assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_01"  # type: ignore[typeddict-item]
    assert "is_error" not in result
    assert json.loads(result["content"])["title"] == "From Claude"  # type: ignore[typeddict-item]


def test_anthropic_error_is_an_error_result(sb: Switchboard, notes_account: NotesAccount) -> None:
    block = {"type": "tool_use", "id": "toolu_02", "name": "notes__create_note", "input": {"body": "no title"}}
    result = sb.tools.execute_tool_call(block, identifier=notes_account.identifier)
    assert result["is_error"] is True  # type: ignore[typeddict-item]
    error = json.loads(result["content"])["error"]  # type: ignore[typeddict-item]
    assert error["code"] == "invalid_parameters"
    assert error["details"]["fields"] == [{"field": "/title", "message": "is required"}]
    assert error["request_id"].startswith("req_")


def test_provider_error_and_unknown_user_are_error_results(sb: Switchboard, notes_account: NotesAccount) -> None:
    call = {"id": "c1", "function": {"name": "notes__get_note", "arguments": '{"id": 99}'}}
    error = json.loads(sb.tools.execute_tool_call(call, identifier=notes_account.identifier)["content"])["error"]  # type: ignore[typeddict-item]
    assert (error["code"], error["message"], error["upstream_status"]) == ("provider_error", "no note 99", 404)

    nobody = json.loads(sb.tools.execute_tool_call(call, identifier="nobody-at-all")["content"])["error"]  # type: ignore[typeddict-item]
    assert nobody["code"] == "not_found"


def test_arguments_that_are_not_json(sb: Switchboard, notes_account: NotesAccount) -> None:
    call = {"id": "c2", "type": "function", "function": {"name": "notes__create_note", "arguments": '{"title": '}}
    message = sb.tools.execute_tool_call(call, identifier=notes_account.identifier)
    error = json.loads(message["content"])["error"]  # type: ignore[typeddict-item]
    assert error["code"] == "invalid_parameters" and "not valid JSON" in error["message"]


def test_explicit_provider_and_account_id(sb: Switchboard, notes_account: NotesAccount) -> None:
    call = {"id": "c3", "function": {"name": "create_note", "arguments": '{"title": "bare name"}'}}
    by_provider = sb.tools.execute_tool_call(call, identifier=notes_account.identifier, provider="notes")
    assert json.loads(by_provider["content"])["title"] == "bare name"  # type: ignore[typeddict-item]
    by_id = sb.tools.execute_tool_call(call, connected_account_id=notes_account.account_id)
    assert json.loads(by_id["content"])["title"] == "bare name"  # type: ignore[typeddict-item]
    # A bare name with no provider to go on is the model's mistake: an error result.
    no_provider = sb.tools.execute_tool_call(call, identifier=notes_account.identifier)
    assert json.loads(no_provider["content"])["error"]["code"] == "invalid_request"  # type: ignore[typeddict-item]


def test_responses_api_function_call(sb: Switchboard, notes_account: NotesAccount) -> None:
    item = {"type": "function_call", "call_id": "fc_1", "name": "notes__list_notes", "arguments": "{}"}
    output = sb.tools.execute_tool_call(item, identifier=notes_account.identifier)
    assert output["type"] == "function_call_output" and output["call_id"] == "fc_1"  # type: ignore[typeddict-item]
    assert "notes" in json.loads(output["output"])  # type: ignore[typeddict-item]


def test_wrong_api_key_is_raised_not_returned(gateway: Gateway) -> None:
    call = {"id": "c4", "function": {"name": "notes__list_notes", "arguments": "{}"}}
    with Switchboard(base_url=gateway.url, api_key="sb_wrong") as wrong:
        with pytest.raises(UnauthenticatedError):
            wrong.tools.execute_tool_call(call, identifier="anyone")


def test_raise_on_error(sb: Switchboard, notes_account: NotesAccount) -> None:
    call = {"id": "c5", "function": {"name": "notes__get_note", "arguments": '{"id": 99}'}}
    with pytest.raises(ProviderError):
        sb.tools.execute_tool_call(call, identifier=notes_account.identifier, raise_on_error=True)
    broken = {"id": "c6", "function": {"name": "notes__get_note", "arguments": "{"}}
    with pytest.raises(InvalidParametersError, match="not valid JSON"):
        sb.tools.execute_tool_call(broken, identifier=notes_account.identifier, raise_on_error=True)


def test_not_a_tool_call_is_a_type_error(sb: Switchboard) -> None:
    with pytest.raises(TypeError):
        sb.tools.execute_tool_call({"role": "assistant", "content": "hi"}, identifier="someone")
    with pytest.raises(TypeError):
        sb.tools.execute_tool_call({"id": "x", "function": {"name": "notes__list_notes"}})

"""Turning an LLM's tool call into an execution, and its outcome into the
message the LLM expects back.

Three shapes are understood, as dicts or as the vendors' SDK objects:

- OpenAI Chat Completions: ``{"id", "type": "function", "function": {"name", "arguments"}}``
  → ``{"role": "tool", "tool_call_id", "content"}``;
- OpenAI Responses: ``{"type": "function_call", "call_id", "name", "arguments"}``
  → ``{"type": "function_call_output", "call_id", "output"}``;
- Anthropic Messages: ``{"type": "tool_use", "id", "name", "input"}``
  → ``{"type": "tool_result", "tool_use_id", "content", "is_error"?}``.

Tool names are the catalog's LLM names, ``provider__tool``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Literal, Mapping, Optional, Tuple, TypedDict, Union

from ._errors import SwitchboardConnectionError, SwitchboardError, UnauthenticatedError

__all__ = [
    "OpenAIToolMessage",
    "OpenAIFunctionCallOutput",
    "AnthropicToolResult",
    "ToolResultMessage",
    "ParsedToolCall",
    "parse_tool_call",
]


class OpenAIToolMessage(TypedDict):
    """A Chat Completions ``tool`` message answering one tool call."""

    role: Literal["tool"]
    tool_call_id: str
    content: str


class OpenAIFunctionCallOutput(TypedDict):
    """A Responses API input item answering one ``function_call``."""

    type: Literal["function_call_output"]
    call_id: str
    output: str


class _AnthropicToolResultRequired(TypedDict):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str


class AnthropicToolResult(_AnthropicToolResultRequired, total=False):
    """An Anthropic ``tool_result`` content block answering one ``tool_use`` block."""

    is_error: bool


ToolResultMessage = Union[OpenAIToolMessage, OpenAIFunctionCallOutput, AnthropicToolResult]

_Style = Literal["openai", "openai_responses", "anthropic"]


@dataclass(frozen=True)
class ParsedToolCall:
    """A tool call read from any of the shapes: who asked, for what, with which arguments.

    ``arguments_error`` is set (and ``arguments`` is ``None``) when an OpenAI
    call's argument text is not JSON, which a model does now and then.
    """

    style: _Style
    call_id: str
    name: str
    arguments: Optional[Any]
    arguments_error: Optional[str] = None

    def split_name(self, provider: Optional[str]) -> Tuple[Optional[str], str]:
        """``(provider, tool)`` from ``provider__tool`` (or ``provider.tool``); ``provider`` wins when given."""
        for separator in ("__", "."):
            head, found, tail = self.name.partition(separator)
            if found and head and tail:
                return (provider or head), tail
        return provider, self.name

    def result(self, content: str, is_error: bool) -> ToolResultMessage:
        """The message that answers this call with ``content``."""
        if self.style == "anthropic":
            block: AnthropicToolResult = {"type": "tool_result", "tool_use_id": self.call_id, "content": content}
            if is_error:
                block["is_error"] = True
            return block
        if self.style == "openai_responses":
            return {"type": "function_call_output", "call_id": self.call_id, "output": content}
        return {"role": "tool", "tool_call_id": self.call_id, "content": content}

    def success(self, data: Any) -> ToolResultMessage:
        return self.result(to_json_text(data), is_error=False)

    def failure(self, error: Union[SwitchboardError, Mapping[str, Any]]) -> ToolResultMessage:
        body = error.to_dict() if isinstance(error, SwitchboardError) else dict(error)
        return self.result(to_json_text({"error": body}), is_error=True)


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _as_dict(obj: Any) -> Any:
    """Pydantic models (the vendors' SDK objects) as plain data; anything else as it is."""
    dump = getattr(obj, "model_dump", None)
    return dump() if callable(dump) and not isinstance(obj, Mapping) else obj


def parse_tool_call(tool_call: Any) -> ParsedToolCall:
    """Reads a tool call in any of the understood shapes.

    Raises :class:`TypeError` for anything that is not a tool call: that is a
    mistake in the application, not something a model can correct.
    """
    kind = _field(tool_call, "type")
    if kind == "tool_use":
        call_id, name = _field(tool_call, "id"), _field(tool_call, "name")
        arguments: Any = _as_dict(_field(tool_call, "input"))
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise TypeError("an Anthropic tool_use block needs `id` and `name`")
        return ParsedToolCall("anthropic", call_id, name, {} if arguments is None else arguments)

    if kind == "function_call":
        call_id = _field(tool_call, "call_id")
        name, text = _field(tool_call, "name"), _field(tool_call, "arguments")
        style: _Style = "openai_responses"
    else:
        function = _field(tool_call, "function")
        if function is None:
            raise TypeError(
                "not a tool call: expected an OpenAI tool call ({'id', 'function': {'name', 'arguments'}}), "
                "an OpenAI Responses function_call, or an Anthropic tool_use block; "
                f"got {type(tool_call).__name__}"
            )
        call_id = _field(tool_call, "id")
        name, text = _field(function, "name"), _field(function, "arguments")
        style = "openai"
    if not isinstance(call_id, str) or not isinstance(name, str):
        raise TypeError("an OpenAI tool call needs an id and a function name")
    if text is None or (isinstance(text, str) and not text.strip()):
        return ParsedToolCall(style, call_id, name, {})
    if not isinstance(text, str):
        return ParsedToolCall(style, call_id, name, _as_dict(text))
    try:
        return ParsedToolCall(style, call_id, name, json.loads(text))
    except ValueError as exc:
        return ParsedToolCall(style, call_id, name, None, f"the arguments are not valid JSON: {exc}")


def to_json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def should_raise(error: SwitchboardError) -> bool:
    """Errors about the application's own link to the gateway, which no model can act on.

    A connection failure, a rejected API key, or an answer that is not the
    gateway's (a proxy's error page) is raised to the application; every other
    error concerns this one call and is handed to the model.
    """
    return isinstance(error, (SwitchboardConnectionError, UnauthenticatedError)) or error.code == "unexpected_response"


def local_error(code: str, message: str) -> Dict[str, Any]:
    """An error envelope for a problem found before the call was sent."""
    return {"code": code, "message": message, "details": {}}

"""``/v1/tools`` and ``/v1/tools/execute``: the tool catalog, and calling tools."""

from __future__ import annotations

from typing import Any, Dict, List, Literal, Mapping, Optional, Tuple, Union, overload

from .._errors import SwitchboardError, error_class
from .._http import AsyncCore, Call, SyncCore, without_none
from .._models import ExecuteResult, Tool
from .._pagination import page_parser
from .._tool_calls import ParsedToolCall, ToolResultMessage, local_error, parse_tool_call, should_raise

#: The catalog formats: the gateway's own, and the tool definitions of three LLM APIs.
ToolFormat = Literal["jsonschema", "openai", "anthropic", "mcp"]


def _list(provider: Optional[str], format: str) -> Call[List[Any]]:
    if format == "jsonschema":
        parse = page_parser(Tool.from_dict)
    else:
        # LLM formats are handed to the LLM's SDK as they are.
        parse = page_parser(lambda d: d)
    return Call("GET", "/v1/tools", lambda body: parse(body).data, params={"provider": provider, "format": format})


def _execute(
    tool: str,
    parameters: Optional[Mapping[str, Any]],
    connected_account_id: Optional[str],
    identifier: Optional[str],
    provider: Optional[str],
    label: Optional[str],
) -> Call[ExecuteResult]:
    body = without_none(
        {
            "connected_account_id": connected_account_id,
            "identifier": identifier,
            "provider": provider,
            "label": label,
            "tool": tool,
            "parameters": parameters,
        }
    )
    return Call("POST", "/v1/tools/execute", ExecuteResult.from_dict, body=body)


def _plan(
    tool_call: Any,
    identifier: Optional[str],
    provider: Optional[str],
    label: Optional[str],
    connected_account_id: Optional[str],
) -> Tuple[ParsedToolCall, Union[Call[ExecuteResult], Dict[str, Any]]]:
    """The parsed call, and either the execution to send or the error to answer at once."""
    if identifier is None and connected_account_id is None:
        raise TypeError("execute_tool_call needs identifier=... (or connected_account_id=...)")
    parsed = parse_tool_call(tool_call)
    if parsed.arguments_error is not None:
        return parsed, local_error("invalid_parameters", parsed.arguments_error)
    account_provider, _ = parsed.split_name(provider)
    if connected_account_id is None and account_provider is None:
        return parsed, local_error(
            "invalid_request",
            f"tool `{parsed.name}` names no provider; call tools by their catalog names, such as `notes__create_note`",
        )
    if connected_account_id is not None:
        # The account is named outright; its provider checks the tool's.
        return parsed, _execute(parsed.name, parsed.arguments, connected_account_id, None, None, None)
    return parsed, _execute(parsed.name, parsed.arguments, None, identifier, account_provider, label)


def error_from_envelope(envelope: Dict[str, Any]) -> SwitchboardError:
    """The exception for an error found before sending (arguments that are not JSON, no provider)."""
    return error_class(envelope["code"])(envelope["message"], code=envelope["code"], details=envelope.get("details"))


class Tools:
    """The tool catalog, and tool execution (also straight from an LLM's tool call)."""

    def __init__(self, core: SyncCore) -> None:
        self._core = core

    @overload
    def list(self, provider: Optional[str] = ..., format: Literal["jsonschema"] = ...) -> List[Tool]: ...
    @overload
    def list(
        self, provider: Optional[str] = ..., *, format: Literal["openai", "anthropic", "mcp"]
    ) -> List[Dict[str, Any]]: ...
    @overload
    def list(self, provider: Optional[str], format: Literal["openai", "anthropic", "mcp"]) -> List[Dict[str, Any]]: ...

    def list(self, provider: Optional[str] = None, format: ToolFormat = "jsonschema") -> Any:
        """The catalog, in provider order then spec order.

        ``jsonschema`` gives :class:`~switchboard.Tool` objects; ``openai``,
        ``anthropic`` and ``mcp`` give the tool definitions those APIs take, as
        dicts named ``provider__tool``, ready to pass as ``tools=``.
        """
        return self._core.send(_list(provider, format))

    def execute(
        self,
        *,
        tool: str,
        parameters: Optional[Mapping[str, Any]] = None,
        connected_account_id: Optional[str] = None,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        label: Optional[str] = None,
    ) -> ExecuteResult:
        """Executes ``tool`` for an account: by ``connected_account_id``, or by ``identifier`` and ``provider``
        (and ``label`` when the user has several accounts of that provider).

        Returns the tool's output in ``.data`` and the call's facts in
        ``.meta``; raises a :class:`~switchboard.SwitchboardError` subclass on
        any error.
        """
        return self._core.send(_execute(tool, parameters, connected_account_id, identifier, provider, label))

    def execute_tool_call(
        self,
        tool_call: Any,
        *,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        label: Optional[str] = None,
        connected_account_id: Optional[str] = None,
        raise_on_error: bool = False,
    ) -> ToolResultMessage:
        """Executes an LLM's tool call for ``identifier`` and returns the message that answers it.

        ``tool_call`` is an OpenAI tool call (or Responses ``function_call``)
        or an Anthropic ``tool_use`` block, as a dict or an SDK object; its name
        ``provider__tool`` gives the provider unless ``provider`` is passed.

        Errors of the call itself (bad arguments, a missing or disconnected
        account, the provider's refusal, ...) come back as an error result
        (``{"error": {code, message, details, ...}}`` as the content, and
        ``is_error`` for Anthropic) so the model can correct itself or tell the
        user, e.g. hand over ``details.auth_url``. Errors of the application's
        own link to the gateway (unreachable, wrong API key, an answer that is
        not the gateway's) are raised. ``raise_on_error=True`` raises every
        error instead.
        """
        parsed, plan = _plan(tool_call, identifier, provider, label, connected_account_id)
        if not isinstance(plan, Call):
            if raise_on_error:
                raise error_from_envelope(plan)
            return parsed.failure(plan)
        try:
            result = self._core.send(plan)
        except SwitchboardError as error:
            if raise_on_error or should_raise(error):
                raise
            return parsed.failure(error)
        return parsed.success(result.data)


class AsyncTools:
    """The asynchronous twin of :class:`Tools`."""

    def __init__(self, core: AsyncCore) -> None:
        self._core = core

    @overload
    async def list(self, provider: Optional[str] = ..., format: Literal["jsonschema"] = ...) -> List[Tool]: ...
    @overload
    async def list(
        self, provider: Optional[str] = ..., *, format: Literal["openai", "anthropic", "mcp"]
    ) -> List[Dict[str, Any]]: ...
    @overload
    async def list(
        self, provider: Optional[str], format: Literal["openai", "anthropic", "mcp"]
    ) -> List[Dict[str, Any]]: ...

    async def list(self, provider: Optional[str] = None, format: ToolFormat = "jsonschema") -> Any:
        return await self._core.send(_list(provider, format))

    async def execute(
        self,
        *,
        tool: str,
        parameters: Optional[Mapping[str, Any]] = None,
        connected_account_id: Optional[str] = None,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        label: Optional[str] = None,
    ) -> ExecuteResult:
        return await self._core.send(_execute(tool, parameters, connected_account_id, identifier, provider, label))

    async def execute_tool_call(
        self,
        tool_call: Any,
        *,
        identifier: Optional[str] = None,
        provider: Optional[str] = None,
        label: Optional[str] = None,
        connected_account_id: Optional[str] = None,
        raise_on_error: bool = False,
    ) -> ToolResultMessage:
        parsed, plan = _plan(tool_call, identifier, provider, label, connected_account_id)
        if not isinstance(plan, Call):
            if raise_on_error:
                raise error_from_envelope(plan)
            return parsed.failure(plan)
        try:
            result = await self._core.send(plan)
        except SwitchboardError as error:
            if raise_on_error or should_raise(error):
                raise
            return parsed.failure(error)
        return parsed.success(result.data)


__all__ = ["Tools", "AsyncTools", "ToolFormat"]

/**
 * The shapes of LLM tool calls and of the results that answer them, and the
 * conversion between those and the gateway's execute request and answer.
 *
 * Tools listed with `format: 'openai' | 'anthropic' | 'mcp'` are named
 * `provider__tool`, so a model's call names the provider and the tool; the
 * result goes back to the model in the message shape its API expects.
 */

import { SwitchboardError } from './errors.js';

/** A tool call of OpenAI's Chat Completions API (`message.tool_calls[i]`). */
export interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: {
    name: string;
    /** The arguments as JSON text (an already parsed object is accepted too). */
    arguments: string | Record<string, unknown>;
  };
}

/** A function call item of OpenAI's Responses API (`response.output[i]`). */
export interface OpenAIFunctionCall {
  type: 'function_call';
  call_id: string;
  name: string;
  arguments: string | Record<string, unknown>;
  id?: string;
}

/** A `tool_use` content block of Anthropic's Messages API. */
export interface AnthropicToolUse {
  type: 'tool_use';
  id: string;
  name: string;
  input: unknown;
}

/** A tool call from any of the supported LLM APIs. */
export type ToolCall = OpenAIToolCall | OpenAIFunctionCall | AnthropicToolUse;

/** The Chat Completions message that answers an {@link OpenAIToolCall}. */
export interface OpenAIToolMessage {
  role: 'tool';
  tool_call_id: string;
  /** The tool's output as JSON text, or `{"error": {...}}` when it failed. */
  content: string;
}

/** The Responses API input item that answers an {@link OpenAIFunctionCall}. */
export interface OpenAIFunctionCallOutput {
  type: 'function_call_output';
  call_id: string;
  /** The tool's output as JSON text, or `{"error": {...}}` when it failed. */
  output: string;
}

/** The `tool_result` content block that answers an {@link AnthropicToolUse}. */
export interface AnthropicToolResult {
  type: 'tool_result';
  tool_use_id: string;
  /** The tool's output as JSON text, or `{"error": {...}}` when it failed. */
  content: string;
  /** Present (and `true`) when the tool failed. */
  is_error?: boolean;
}

/** The result message type that answers a call of type `C`. */
export type ToolResultFor<C extends ToolCall> = C extends AnthropicToolUse
  ? AnthropicToolResult
  : C extends OpenAIFunctionCall
    ? OpenAIFunctionCallOutput
    : OpenAIToolMessage;

/** Any tool result message. */
export type ToolResult = OpenAIToolMessage | OpenAIFunctionCallOutput | AnthropicToolResult;

/** A tool call reduced to what the gateway needs. */
export interface ParsedToolCall {
  kind: 'openai' | 'openai_responses' | 'anthropic';
  /** The id the result must quote. */
  id: string;
  /** The tool name as the model wrote it, such as `slack__send_message`. */
  name: string;
  /** The provider part of the name, when it has one. */
  provider: string | undefined;
  /** The parsed arguments, or the reason they could not be parsed. */
  parameters: { ok: true; value: unknown } | { ok: false; reason: string };
}

/** The separator of `provider__tool` names in the LLM formats. */
export const TOOL_NAME_SEPARATOR = '__';

/**
 * Reads a tool call of any supported shape. Throws a `TypeError` for a value
 * that is none of them: that is a bug in the calling code, not a model error.
 */
export function parseToolCall(call: ToolCall): ParsedToolCall {
  const c = call as unknown as Record<string, unknown>;
  if (c === null || typeof c !== 'object') {
    throw new TypeError('toolCall must be an OpenAI tool call or an Anthropic tool_use block');
  }
  if (c['type'] === 'tool_use' && typeof c['id'] === 'string' && typeof c['name'] === 'string') {
    return {
      kind: 'anthropic',
      id: c['id'],
      name: c['name'],
      provider: providerPart(c['name']),
      parameters: { ok: true, value: c['input'] ?? {} },
    };
  }
  if (c['type'] === 'function_call' && typeof c['call_id'] === 'string' && typeof c['name'] === 'string') {
    return {
      kind: 'openai_responses',
      id: c['call_id'],
      name: c['name'],
      provider: providerPart(c['name']),
      parameters: parseArguments(c['arguments']),
    };
  }
  const fn = c['function'] as Record<string, unknown> | undefined;
  if (
    (c['type'] === 'function' || c['type'] === undefined) &&
    typeof c['id'] === 'string' &&
    fn !== null &&
    typeof fn === 'object' &&
    typeof fn['name'] === 'string'
  ) {
    return {
      kind: 'openai',
      id: c['id'],
      name: fn['name'],
      provider: providerPart(fn['name']),
      parameters: parseArguments(fn['arguments']),
    };
  }
  throw new TypeError(
    'toolCall must be an OpenAI tool call ({id, type: "function", function: {name, arguments}}), ' +
      'an OpenAI Responses function_call item, or an Anthropic tool_use block',
  );
}

/** The result message for `call` carrying the tool's output. */
export function successResult(call: ParsedToolCall, data: unknown): ToolResult {
  return resultMessage(call, JSON.stringify(data ?? null), false);
}

/**
 * The result message for `call` carrying an error, as
 * `{"error": {code, message, details?, …}}` so the model can read the code,
 * the failing fields or the authorization link and act on them.
 */
export function errorResult(call: ParsedToolCall, error: SwitchboardError | LocalToolError): ToolResult {
  const body: Record<string, unknown> = { code: error.code, message: error.message };
  if (error instanceof SwitchboardError) {
    if (error.provider !== undefined) body['provider'] = error.provider;
    if (error.upstreamStatus !== undefined) body['upstream_status'] = error.upstreamStatus;
    if (error.retryAfterS !== undefined) body['retry_after_s'] = error.retryAfterS;
    if (Object.keys(error.details).length > 0) body['details'] = error.details;
  }
  return resultMessage(call, JSON.stringify({ error: body }), true);
}

/** An error found before the call reached the gateway (unreadable arguments, a name without provider). */
export interface LocalToolError {
  code: 'invalid_parameters' | 'invalid_request';
  message: string;
}

function resultMessage(call: ParsedToolCall, text: string, isError: boolean): ToolResult {
  switch (call.kind) {
    case 'anthropic':
      return { type: 'tool_result', tool_use_id: call.id, content: text, ...(isError && { is_error: true }) };
    case 'openai_responses':
      return { type: 'function_call_output', call_id: call.id, output: text };
    case 'openai':
      return { role: 'tool', tool_call_id: call.id, content: text };
  }
}

function providerPart(name: string): string | undefined {
  const at = name.indexOf(TOOL_NAME_SEPARATOR);
  return at > 0 ? name.slice(0, at) : undefined;
}

function parseArguments(args: unknown): ParsedToolCall['parameters'] {
  if (args === undefined || args === null) return { ok: true, value: {} };
  if (typeof args !== 'string') return { ok: true, value: args };
  if (args.trim() === '') return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(args) };
  } catch (e) {
    return { ok: false, reason: `the arguments are not valid JSON (${(e as Error).message})` };
  }
}

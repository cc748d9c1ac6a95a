/** `/v1/tools`: the tool catalog, and executing tools for an account. */

import { SwitchboardError } from '../errors.js';
import {
  errorResult,
  parseToolCall,
  successResult,
  type ToolCall,
  type ToolResultFor,
} from '../tool-calls.js';
import type { RequestOptions, Transport } from '../transport.js';
import type {
  ExecuteParams,
  ExecuteResult,
  ListResponse,
  ListToolsParams,
  ToolFormat,
  ToolsByFormat,
} from '../types.js';

/** Which account an LLM tool call acts for. */
export type ToolCallAccount =
  | {
      /** The end user; the account is the one of the provider the tool name names. */
      identifier: string;
      /**
       * The provider, when the tool names do not carry it (`send_message`
       * rather than `slack__send_message`).
       */
      provider?: string;
      /** Only the identifier's account with this label. */
      label?: string;
      connected_account_id?: never;
    }
  | { connected_account_id: string; identifier?: never; provider?: never; label?: never };

/** Parameters of {@link Tools.executeToolCall}. */
export type ExecuteToolCallParams<C extends ToolCall> = ToolCallAccount & {
  /** An OpenAI tool call, an OpenAI Responses `function_call` item, or an Anthropic `tool_use` block. */
  toolCall: C;
  /**
   * Throw every error instead of answering it as an error result. Default
   * `false`: only errors no model can act on are thrown (see the method).
   */
  throwOnError?: boolean;
};

/**
 * Error codes {@link Tools.executeToolCall} throws rather than hands to the
 * model: they mean the application or its deployment is misconfigured.
 */
const THROWN_CODES: ReadonlySet<string> = new Set(['unauthenticated', 'unexpected_response']);

export class Tools {
  readonly #http: Transport;

  constructor(http: Transport) {
    this.#http = http;
  }

  /**
   * The tool catalog, in provider order and then in spec order. With
   * `format: 'openai' | 'anthropic'` the answer can be passed as is to that
   * API's `tools`; tools are then named `provider__tool`.
   */
  async list<F extends ToolFormat = 'jsonschema'>(
    params: ListToolsParams<F> = {},
    options?: RequestOptions,
  ): Promise<ToolsByFormat[F][]> {
    const page = await this.#http.request<ListResponse<ToolsByFormat[F]>>('GET', '/v1/tools', {
      ...options,
      query: { provider: params.provider, format: params.format },
    });
    return page.data;
  }

  /**
   * Executes a tool for an account, named by its id or by `identifier` and
   * `provider`. Answers the tool's output in `data` and the call's facts in
   * `meta`; a failure throws a `SwitchboardError` subclass.
   */
  execute<T = unknown>(params: ExecuteParams, options?: RequestOptions): Promise<ExecuteResult<T>> {
    return this.#http.request('POST', '/v1/tools/execute', { ...options, body: params });
  }

  /**
   * Executes a tool call an LLM made and answers the message that carries its
   * result back to the model: `{role: 'tool', tool_call_id, content}` for an
   * OpenAI tool call, `{type: 'function_call_output', call_id, output}` for an
   * OpenAI Responses item, `{type: 'tool_result', tool_use_id, content,
   * is_error?}` for an Anthropic `tool_use` block. `content` is the tool's
   * output as JSON text.
   *
   * The tool name is `provider__tool` as the LLM catalog formats give it; the
   * provider part picks the identifier's account (or pass `provider`).
   *
   * Errors: a failed execution becomes an error result,
   * `{"error": {"code", "message", "details"?, …}}` (with `is_error: true` for
   * Anthropic), because a model can act on it: fix its parameters
   * (`invalid_parameters`, with `details.fields`), hand the user
   * `details.auth_url` (`reauthorization_required`), wait (`rate_limited`),
   * or tell the user. Unreadable arguments and a name without a provider part
   * are answered the same way. Thrown instead, since no model can fix them:
   * `unauthenticated` (the gateway API key is wrong), `unexpected_response`
   * (something other than the gateway answered), network failures and aborts,
   * and a `toolCall` of no known shape (`TypeError`). With `throwOnError`,
   * every failure is thrown (unreadable arguments and a name without a
   * provider part as a `TypeError`).
   */
  async executeToolCall<C extends ToolCall>(
    params: ExecuteToolCallParams<C>,
    options?: RequestOptions,
  ): Promise<ToolResultFor<C>> {
    const call = parseToolCall(params.toolCall);
    const answer = (r: ReturnType<typeof successResult>) => r as ToolResultFor<C>;

    if (!call.parameters.ok) {
      const message = `tool call \`${call.name}\`: ${call.parameters.reason}`;
      if (params.throwOnError) throw new TypeError(message);
      return answer(errorResult(call, { code: 'invalid_parameters', message }));
    }
    const parameters = call.parameters.value as { [key: string]: unknown };

    let request: ExecuteParams;
    if (params.connected_account_id !== undefined) {
      request = { connected_account_id: params.connected_account_id, tool: call.name, parameters };
    } else {
      const provider = params.provider ?? call.provider;
      if (provider === undefined) {
        const message =
          `tool \`${call.name}\` has no provider part (\`provider__tool\`), ` +
          'and no provider was given to find the account';
        if (params.throwOnError) throw new TypeError(message);
        return answer(errorResult(call, { code: 'invalid_request', message }));
      }
      request = {
        identifier: params.identifier,
        provider,
        ...(params.label !== undefined && { label: params.label }),
        tool: call.name,
        parameters,
      };
    }

    try {
      const result = await this.execute(request, options);
      return answer(successResult(call, result.data));
    } catch (error) {
      if (!(error instanceof SwitchboardError) || params.throwOnError || THROWN_CODES.has(error.code)) {
        throw error;
      }
      return answer(errorResult(call, error));
    }
  }
}

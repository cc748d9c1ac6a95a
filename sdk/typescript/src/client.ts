/** The client: configuration, and one object per API resource. */

import { Accounts } from './resources/accounts.js';
import { AuditLogs } from './resources/audit-logs.js';
import { ConnectSessions } from './resources/connect-sessions.js';
import { Connections } from './resources/connections.js';
import { McpLinks } from './resources/mcp-links.js';
import { Providers } from './resources/providers.js';
import { Tools } from './resources/tools.js';
import { Webhooks } from './resources/webhooks.js';
import { type FetchLike, type Query, type RequestOptions, Transport } from './transport.js';

/** How to reach the gateway. */
export interface SwitchboardOptions {
  /**
   * The gateway's URL, such as `https://switchboard.internal.example`.
   * Default: `$SWITCHBOARD_BASE_URL`, else `http://127.0.0.1:8080`.
   */
  baseUrl?: string;
  /** A gateway API key (`sb_…`). Default: `$SWITCHBOARD_API_KEY`; one is required. */
  apiKey?: string;
  /**
   * How long to wait for an answer before failing with
   * `SwitchboardTimeoutError`. Default 60 000 ms, above the gateway's own
   * 30-second deadline for tool calls, so a slow provider surfaces as the
   * gateway's `upstream_timeout`. `0` waits for ever.
   */
  timeoutMs?: number;
  /** The `fetch` to use; default the global one (Node 18+). */
  fetch?: FetchLike;
  /** Headers sent with every request, such as a tracing header. */
  headers?: Record<string, string>;
}

const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';
const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * A client of one Switchboard gateway.
 *
 * ```ts
 * const sb = new Switchboard({ baseUrl: 'http://127.0.0.1:8080', apiKey: process.env.SWITCHBOARD_API_KEY });
 * const result = await sb.tools.execute({ connected_account_id: 'ca_…', tool: 'send_message', parameters: {…} });
 * ```
 */
export class Switchboard {
  /** Connections: an application's registration with one provider. */
  readonly connections: Connections;
  /** Connected accounts: one end user's link to one provider. */
  readonly accounts: Accounts;
  /** Hosted pages where end users connect their accounts. */
  readonly connectSessions: ConnectSessions;
  /** The loaded providers. */
  readonly providers: Providers;
  /** The tool catalog, tool execution, and LLM tool calls. */
  readonly tools: Tools;
  /** Per-user MCP server URLs. */
  readonly mcpLinks: McpLinks;
  /** Endpoints told of account events, and their deliveries. */
  readonly webhooks: Webhooks;
  /** The audit trail: list and export. */
  readonly auditLogs: AuditLogs;

  readonly #http: Transport;

  constructor(options: SwitchboardOptions = {}) {
    const baseUrl = options.baseUrl ?? env('SWITCHBOARD_BASE_URL') ?? DEFAULT_BASE_URL;
    const apiKey = options.apiKey ?? env('SWITCHBOARD_API_KEY');
    if (apiKey === undefined || apiKey === '') {
      throw new TypeError('Switchboard needs an API key: pass { apiKey } or set SWITCHBOARD_API_KEY');
    }
    if (!/^https?:\/\//i.test(baseUrl)) {
      throw new TypeError(`Switchboard baseUrl must be an absolute http(s) URL, not \`${baseUrl}\``);
    }
    const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (typeof fetchImpl !== 'function') {
      throw new TypeError('no global fetch (Node 18 or later is needed); pass { fetch }');
    }
    this.#http = new Transport({
      baseUrl,
      apiKey,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      fetch: fetchImpl,
      headers: options.headers ?? {},
    });
    this.connections = new Connections(this.#http);
    this.accounts = new Accounts(this.#http);
    this.connectSessions = new ConnectSessions(this.#http);
    this.providers = new Providers(this.#http);
    this.tools = new Tools(this.#http);
    this.mcpLinks = new McpLinks(this.#http);
    this.webhooks = new Webhooks(this.#http);
    this.auditLogs = new AuditLogs(this.#http);
  }

  /** The gateway URL requests go to. */
  get baseUrl(): string {
    return this.#http.baseUrl;
  }

  /**
   * Sends any request to the gateway with the client's key, timeout and
   * error handling, for routes this SDK does not cover yet.
   */
  request<T = unknown>(
    method: string,
    path: `/${string}`,
    init: { query?: Query; body?: unknown } & RequestOptions = {},
  ): Promise<T> {
    return this.#http.request<T>(method, path, init);
  }
}

/** An environment variable where there is a `process` (Node); undefined elsewhere. */
function env(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const value = proc?.env?.[name];
  return value === '' ? undefined : value;
}

/**
 * One HTTP exchange with the gateway: URL and headers, the client's timeout,
 * and turning the answer into a value or a typed error. Resources describe
 * routes; only this module talks to `fetch`.
 */

import {
  SwitchboardError,
  SwitchboardNetworkError,
  SwitchboardTimeoutError,
  errorFromResponse,
} from './errors.js';
import { VERSION } from './version.js';

/** The subset of a `fetch` Response the client reads. */
export interface ResponseLike {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/**
 * A `fetch` implementation: the global one by default. Give another to go
 * through a proxy agent, record requests, or stub the network in tests.
 */
export type FetchLike = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    // An AbortSignal; typed loosely so that fetch implementations from any
    // environment (Node, DOM, undici) fit without this package naming theirs.
    signal?: any;
  },
) => Promise<ResponseLike>;

/** An AbortSignal, described structurally so no DOM or Node typings are needed. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Options every method takes as its last argument. */
export interface RequestOptions {
  /** Abort the request; the promise then rejects with the signal's reason. */
  signal?: AbortSignalLike;
  /** Overrides the client's `timeoutMs` for this request. */
  timeoutMs?: number;
  /** Extra headers for this request. */
  headers?: Record<string, string>;
}

/** Query values; `undefined` ones are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

export interface TransportConfig {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  fetch: FetchLike;
  headers: Record<string, string>;
}

/** Sends requests to one gateway with one API key. */
export class Transport {
  readonly #config: TransportConfig;

  constructor(config: TransportConfig) {
    this.#config = { ...config, baseUrl: config.baseUrl.replace(/\/+$/, '') };
  }

  get baseUrl(): string {
    return this.#config.baseUrl;
  }

  /**
   * Sends one request and answers the parsed JSON body. A non-2xx answer
   * throws a {@link SwitchboardError}; no answer throws a
   * {@link SwitchboardNetworkError}.
   */
  async request<T>(
    method: string,
    path: string,
    init: { query?: Query; body?: unknown } & RequestOptions = {},
  ): Promise<T> {
    const url = this.#config.baseUrl + path + queryString(init.query);
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': `switchboard-sdk-typescript/${VERSION}`,
      ...this.#config.headers,
      ...init.headers,
      authorization: `Bearer ${this.#config.apiKey}`,
    };
    let body: string | undefined;
    if (init.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.body);
    }

    const deadline = new Deadline(init.timeoutMs ?? this.#config.timeoutMs, init.signal);
    let status: number;
    let text: string;
    let responseHeaders: ResponseLike['headers'];
    try {
      const response = await this.#config.fetch(url, {
        method,
        headers,
        ...(body !== undefined && { body }),
        signal: deadline.signal,
      });
      status = response.status;
      responseHeaders = response.headers;
      text = await response.text();
    } catch (cause) {
      throw deadline.explain(cause, method, url);
    } finally {
      deadline.clear();
    }

    if (status < 200 || status > 299) {
      throw errorFromResponse(status, text, responseHeaders);
    }
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new SwitchboardError({
        code: 'unexpected_response',
        message: `the gateway answered HTTP ${status} with a body that is not JSON`,
        status,
        requestId: responseHeaders.get('x-request-id') ?? undefined,
        details: { body_excerpt: text.slice(0, 500) },
        provider: undefined,
        upstreamStatus: undefined,
        retryAfterS: undefined,
      });
    }
  }
}

/** `?a=1&b=x`, or `""` when there is nothing to send. */
function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) params.append(key, String(value));
  }
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}

/**
 * The abort signal of one request: fires when the caller's signal does or
 * when the timeout passes, and tells afterwards which of the two it was.
 */
class Deadline {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignalLike | undefined;
  readonly #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #onCallerAbort = () => this.#controller.abort(this.#caller?.reason);
  readonly #timeoutMs: number;
  #timedOut = false;

  constructor(timeoutMs: number, caller: AbortSignalLike | undefined) {
    this.#caller = caller;
    this.#timeoutMs = timeoutMs;
    if (caller?.aborted) {
      this.#controller.abort(caller.reason);
    } else {
      caller?.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
    if (Number.isFinite(timeoutMs) && timeoutMs > 0) {
      this.#timer = setTimeout(() => {
        this.#timedOut = true;
        this.#controller.abort();
      }, timeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#caller?.removeEventListener('abort', this.#onCallerAbort);
  }

  /** The error to throw for a request that got no (whole) answer. */
  explain(cause: unknown, method: string, url: string): unknown {
    if (this.#caller?.aborted) return this.#caller.reason ?? cause;
    if (this.#timedOut) {
      return new SwitchboardTimeoutError(
        `no answer from the gateway within ${this.#timeoutMs} ms (${method} ${url})`,
        method,
        url,
        { cause },
      );
    }
    const reason = cause instanceof Error ? describeCause(cause) : String(cause);
    return new SwitchboardNetworkError(
      `could not reach the gateway (${method} ${url}): ${reason}`,
      method,
      url,
      { cause },
    );
  }
}

/** `fetch failed: connect ECONNREFUSED 127.0.0.1:1`: undici hides the reason in `cause`. */
function describeCause(error: Error): string {
  const inner = (error as { cause?: unknown }).cause;
  if (inner instanceof Error && inner.message) return `${error.message}: ${inner.message}`;
  return error.message;
}

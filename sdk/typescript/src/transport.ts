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
  /**
   * The body as a stream, read by the routes that stream their answer (the
   * audit export). Without it, such answers are read whole with `text()`.
   */
  readonly body?: ByteStreamLike | null;
}

/** A web `ReadableStream` of bytes, described structurally (no DOM or Node typings needed). */
export interface ByteStreamLike {
  getReader(): ByteStreamReaderLike;
}

/** The reader of a {@link ByteStreamLike}. */
export interface ByteStreamReaderLike {
  read(): Promise<{ done: boolean; value?: Uint8Array | undefined }>;
  cancel(reason?: unknown): Promise<void>;
  releaseLock(): void;
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
    const { url, headers, body } = this.#prepare(path, init, 'application/json');
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

  /**
   * Sends one request whose answer is JSON lines, and yields each line's
   * value as soon as the line has arrived: the body is read as a stream,
   * never held whole. The request is sent when iteration starts; leaving the
   * loop early cancels the body. The timeout applies to the wait for the
   * answer and for each next chunk of it, not to the whole stream (nor to
   * the time the loop spends on each value).
   */
  async *lines<T>(
    method: string,
    path: string,
    init: { query?: Query } & RequestOptions = {},
  ): AsyncGenerator<T, void, undefined> {
    const { url, headers } = this.#prepare(path, init, 'application/x-ndjson');
    const deadline = new Deadline(init.timeoutMs ?? this.#config.timeoutMs, init.signal);
    let reader: ByteStreamReaderLike | undefined;
    let finished = false;
    try {
      let response: ResponseLike;
      try {
        response = await this.#config.fetch(url, { method, headers, signal: deadline.signal });
        if (response.status < 200 || response.status > 299) {
          const text = await response.text();
          throw errorFromResponse(response.status, text, response.headers);
        }
      } catch (cause) {
        throw cause instanceof SwitchboardError ? cause : deadline.explain(cause, method, url);
      }
      const parse = (line: string): T => parseLine<T>(line, response);

      if (response.body === undefined || response.body === null) {
        // A fetch without streams: the whole body, then its lines.
        let text: string;
        try {
          text = await response.text();
        } catch (cause) {
          throw deadline.explain(cause, method, url);
        }
        deadline.disarm();
        for (const line of text.split('\n')) {
          if (line.trim() !== '') yield parse(line);
        }
        finished = true;
        return;
      }

      reader = response.body.getReader();
      const decoder = new TextDecoder();
      let pending = '';
      for (;;) {
        let chunk: { done: boolean; value?: Uint8Array | undefined };
        deadline.arm();
        try {
          chunk = await reader.read();
        } catch (cause) {
          throw deadline.explain(cause, method, url);
        } finally {
          deadline.disarm();
        }
        pending += chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
        const complete = pending.split('\n');
        pending = chunk.done ? '' : (complete.pop() ?? '');
        for (const line of complete) {
          if (line.trim() !== '') yield parse(line);
        }
        if (chunk.done) break;
      }
      finished = true;
    } finally {
      deadline.clear();
      if (reader !== undefined) {
        // Stopped early (a break, or an error): close the connection.
        if (!finished) await reader.cancel().catch(() => undefined);
        reader.releaseLock();
      }
    }
  }

  /** The URL, headers and body of one request. */
  #prepare(
    path: string,
    init: { query?: Query; body?: unknown } & RequestOptions,
    accept: string,
  ): { url: string; headers: Record<string, string>; body: string | undefined } {
    const url = this.#config.baseUrl + path + queryString(init.query);
    const headers: Record<string, string> = {
      accept,
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
    return { url, headers, body };
  }
}

/** One line of a JSON-lines answer, parsed. */
function parseLine<T>(line: string, response: ResponseLike): T {
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new SwitchboardError({
      code: 'unexpected_response',
      message: `the gateway answered HTTP ${response.status} with a line that is not JSON`,
      status: response.status,
      requestId: response.headers.get('x-request-id') ?? undefined,
      details: { body_excerpt: line.slice(0, 500) },
      provider: undefined,
      upstreamStatus: undefined,
      retryAfterS: undefined,
    });
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
  #timer: ReturnType<typeof setTimeout> | undefined;
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
    this.arm();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Starts the timeout again from now (a stream waiting for its next chunk). */
  arm(): void {
    this.disarm();
    if (Number.isFinite(this.#timeoutMs) && this.#timeoutMs > 0) {
      this.#timer = setTimeout(() => {
        this.#timedOut = true;
        this.#controller.abort();
      }, this.#timeoutMs);
    }
  }

  /** Stops the timeout; the caller's signal still aborts. */
  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  clear(): void {
    this.disarm();
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

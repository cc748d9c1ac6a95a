/**
 * Errors the client throws.
 *
 * Every answer of the gateway outside 2xx becomes a {@link SwitchboardError}
 * (or one of its subclasses, chosen by `code`), carrying the fields of the
 * gateway's error envelope. A request that got no answer at all (DNS, refused
 * connection, reset, client-side timeout) is a {@link SwitchboardNetworkError}
 * instead, so that "the gateway said no" and "the gateway could not be asked"
 * are never confused.
 */

/** The error codes of the gateway's contract (docs/api.md, Errors). */
export type ErrorCode =
  | 'invalid_request'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'reauthorization_required'
  | 'invalid_parameters'
  | 'rate_limited'
  | 'provider_error'
  | 'upstream_unavailable'
  | 'upstream_timeout'
  | 'internal';

/**
 * The `code` of a {@link SwitchboardError}: a contract code,
 * `unexpected_response` when the answer was not the gateway's envelope (a
 * reverse proxy's error page, say), or a code a newer gateway introduced.
 */
export type SwitchboardErrorCode = ErrorCode | 'unexpected_response' | (string & {});

/** The body of every error answer: `{"error": {...}}`. */
export interface ErrorEnvelope {
  error: {
    code: string;
    message: string;
    request_id: string;
    details: Record<string, unknown>;
    provider?: string;
    upstream_status?: number;
    retry_after_s?: number;
  };
}

/** One field that failed a tool's parameter schema (`details.fields` of `invalid_parameters`). */
export interface FieldError {
  /** JSON Pointer of the value inside `parameters` (`""` for the object itself). */
  field: string;
  message: string;
}

/** One account that matched an execution by identifier (`details.candidates` of `conflict`). */
export interface AccountCandidate {
  id: string;
  label: string;
  status: string;
  connection_id: string;
}

/** What the client knows about a failed answer, used to build an error. */
interface ErrorInit {
  code: SwitchboardErrorCode;
  message: string;
  status: number;
  requestId: string | undefined;
  details: Record<string, unknown>;
  provider: string | undefined;
  upstreamStatus: number | undefined;
  retryAfterS: number | undefined;
}

/** The gateway answered with an error. Branch on `code`, or on the subclass. */
export class SwitchboardError extends Error {
  /** The contract's error code, such as `rate_limited`. */
  readonly code: SwitchboardErrorCode;
  /** The HTTP status of the answer. */
  readonly status: number;
  /** The request's id (`req_…`), also in the gateway's log lines. */
  readonly requestId: string | undefined;
  /** Structured context; an empty object when there is none. */
  readonly details: Record<string, unknown>;
  /** Seconds to wait before trying again, when the gateway knows. */
  readonly retryAfterS: number | undefined;
  /** The provider, for errors raised once the account and tool were resolved. */
  readonly provider: string | undefined;
  /** The provider's HTTP status, for errors caused by the provider's answer. */
  readonly upstreamStatus: number | undefined;

  /** The client builds these from the gateway's answers; the constructor's shape may change. */
  constructor(init: ErrorInit) {
    super(init.message);
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.requestId = init.requestId;
    this.details = init.details;
    this.retryAfterS = init.retryAfterS;
    this.provider = init.provider;
    this.upstreamStatus = init.upstreamStatus;
  }

  /** The error as the gateway's envelope, for logs or for handing to an LLM. */
  toJSON(): ErrorEnvelope['error'] & { status: number } {
    return {
      code: this.code,
      message: this.message,
      status: this.status,
      request_id: this.requestId ?? '',
      details: this.details,
      ...(this.provider !== undefined && { provider: this.provider }),
      ...(this.upstreamStatus !== undefined && { upstream_status: this.upstreamStatus }),
      ...(this.retryAfterS !== undefined && { retry_after_s: this.retryAfterS }),
    };
  }
}

/** `invalid_request` (400): a malformed body, unknown field or parameter, or a value the endpoint refuses. */
export class InvalidRequestError extends SwitchboardError {
  declare readonly code: 'invalid_request';
}

/** `unauthenticated` (401): no API key, or one the gateway does not know. */
export class UnauthenticatedError extends SwitchboardError {
  declare readonly code: 'unauthenticated';
}

/**
 * `forbidden` (403): the provider refused the action (mapped by the spec's
 * error rules), or the API key's role does not cover the route (an `execute`
 * key on the management, webhook or audit routes).
 */
export class ForbiddenError extends SwitchboardError {
  declare readonly code: 'forbidden';
}

/** `not_found` (404): an unknown connection, account, provider, tool or route; or the provider said so. */
export class NotFoundError extends SwitchboardError {
  declare readonly code: 'not_found';
}

/**
 * `conflict` (409): the (connection, identifier, label) account exists
 * (`existingId`), or several accounts match an execution by identifier
 * (`candidates`).
 */
export class ConflictError extends SwitchboardError {
  declare readonly code: 'conflict';

  /** The id of the account that already holds the (connection, identifier, label) triple. */
  get existingId(): string | undefined {
    const id = this.details['existing_id'];
    return typeof id === 'string' ? id : undefined;
  }

  /** The accounts an execution by identifier could mean (up to 20). */
  get candidates(): AccountCandidate[] {
    const list = this.details['candidates'];
    return Array.isArray(list) ? (list as AccountCandidate[]) : [];
  }
}

/**
 * `reauthorization_required` (409): the account is not active, lacks a scope
 * or a credential, or the provider refused its token. For OAuth 2.0 accounts
 * `authUrl` is a fresh link to hand to the user.
 */
export class ReauthorizationRequiredError extends SwitchboardError {
  declare readonly code: 'reauthorization_required';

  /** `details.auth_url`: where the user can connect the account again. */
  get authUrl(): string | undefined {
    const url = this.details['auth_url'];
    return typeof url === 'string' ? url : undefined;
  }

  /** `details.connected_account_id`, when the gateway names the account. */
  get connectedAccountId(): string | undefined {
    const id = this.details['connected_account_id'];
    return typeof id === 'string' ? id : undefined;
  }

  /** `details.missing_scopes`: scopes the tool needs that the account was not granted. */
  get missingScopes(): string[] {
    const scopes = this.details['missing_scopes'];
    return Array.isArray(scopes) ? (scopes as string[]) : [];
  }
}

/** `invalid_parameters` (422): the parameters fail the tool's schema; every failing field is in `fields`. */
export class InvalidParametersError extends SwitchboardError {
  declare readonly code: 'invalid_parameters';

  /** `details.fields`: a JSON Pointer and a message per failing field. */
  get fields(): FieldError[] {
    const fields = this.details['fields'];
    return Array.isArray(fields) ? (fields as FieldError[]) : [];
  }
}

/** `rate_limited` (429): the provider, a spec's limit or the gateway's ingress limit; see `retryAfterS`. */
export class RateLimitedError extends SwitchboardError {
  declare readonly code: 'rate_limited';
}

/** `provider_error` (502): the provider answered with an error no rule maps to another code. */
export class ProviderError extends SwitchboardError {
  declare readonly code: 'provider_error';

  /** `details.provider_message`: the provider's own message. */
  get providerMessage(): string | undefined {
    const m = this.details['provider_message'];
    return typeof m === 'string' ? m : undefined;
  }

  /** `details.provider_code`: the provider's own error code. */
  get providerCode(): string | undefined {
    const c = this.details['provider_code'];
    return typeof c === 'string' ? c : undefined;
  }
}

/** `upstream_unavailable` (503): the provider could not be reached, or its circuit is open. */
export class UpstreamUnavailableError extends SwitchboardError {
  declare readonly code: 'upstream_unavailable';
}

/** `upstream_timeout` (504): the provider did not answer within the call's deadline. */
export class UpstreamTimeoutError extends SwitchboardError {
  declare readonly code: 'upstream_timeout';
}

/** `internal` (500): the gateway failed; its log line for `requestId` has the cause. */
export class InternalError extends SwitchboardError {
  declare readonly code: 'internal';
}

/**
 * The request got no answer: the gateway could not be reached, the connection
 * broke, or the client's own timeout passed. Whether the gateway acted on the
 * request is unknown.
 */
export class SwitchboardNetworkError extends Error {
  /** The method and URL of the request that failed. */
  readonly method: string;
  readonly url: string;

  constructor(message: string, method: string, url: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.method = method;
    this.url = url;
  }
}

/** The client's `timeoutMs` passed before the gateway answered. */
export class SwitchboardTimeoutError extends SwitchboardNetworkError {}

const CLASSES: Record<ErrorCode, new (init: ErrorInit) => SwitchboardError> = {
  invalid_request: InvalidRequestError,
  unauthenticated: UnauthenticatedError,
  forbidden: ForbiddenError,
  not_found: NotFoundError,
  conflict: ConflictError,
  reauthorization_required: ReauthorizationRequiredError,
  invalid_parameters: InvalidParametersError,
  rate_limited: RateLimitedError,
  provider_error: ProviderError,
  upstream_unavailable: UpstreamUnavailableError,
  upstream_timeout: UpstreamTimeoutError,
  internal: InternalError,
};

/**
 * Builds the error for a non-2xx answer: the envelope's fields when the body
 * is the gateway's envelope, else `unexpected_response` with an excerpt of the
 * body in `details.body_excerpt`.
 */
export function errorFromResponse(
  status: number,
  body: string,
  headers: { get(name: string): string | null },
): SwitchboardError {
  const headerRetry = parseRetryAfter(headers.get('retry-after'));
  const headerRequestId = headers.get('x-request-id') ?? undefined;
  const envelope = parseEnvelope(body);
  if (envelope === undefined) {
    return new SwitchboardError({
      code: 'unexpected_response',
      message: `the gateway answered HTTP ${status} without an error envelope`,
      status,
      requestId: headerRequestId,
      details: { body_excerpt: body.slice(0, 500) },
      provider: undefined,
      upstreamStatus: undefined,
      retryAfterS: headerRetry,
    });
  }
  const e = envelope.error;
  const Class = Object.hasOwn(CLASSES, e.code) ? CLASSES[e.code as ErrorCode] : SwitchboardError;
  return new Class({
    code: e.code,
    message: e.message,
    status,
    requestId: e.request_id || headerRequestId,
    details: isObject(e.details) ? e.details : {},
    provider: typeof e.provider === 'string' ? e.provider : undefined,
    upstreamStatus: typeof e.upstream_status === 'number' ? e.upstream_status : undefined,
    retryAfterS: typeof e.retry_after_s === 'number' ? e.retry_after_s : headerRetry,
  });
}

function parseEnvelope(body: string): ErrorEnvelope | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isObject(value) || !isObject(value['error'])) return undefined;
  const e = value['error'];
  if (typeof e['code'] !== 'string' || typeof e['message'] !== 'string') return undefined;
  return value as unknown as ErrorEnvelope;
}

/** `Retry-After` in seconds; an HTTP date is turned into the seconds until it. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

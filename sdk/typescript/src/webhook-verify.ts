/**
 * Checking that a webhook delivery came from the gateway, with `node:crypto`
 * only.
 *
 * The gateway signs each delivery per the Standard Webhooks specification:
 * `webhook-id` (the delivery's id, the same on every attempt),
 * `webhook-timestamp` (Unix seconds of the attempt) and `webhook-signature`
 * (space-separated `v1,<base64>` entries, each the HMAC-SHA256 of
 * `{webhook-id}.{webhook-timestamp}.{body}` keyed with the base64-decoded
 * part of the endpoint's secret after `whsec_`).
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

import type { WebhookPayload } from './types.js';

/** How far a delivery's timestamp may be from the receiver's clock, in seconds, either way. */
export const DEFAULT_WEBHOOK_TOLERANCE_S = 300;

const SECRET_PREFIX = 'whsec_';

/**
 * A delivery that must not be trusted: a signing header is missing, no `v1`
 * signature matches the body, its timestamp is outside the tolerance, or its
 * body is not a JSON object. Answer such a request with a 4xx and drop it.
 */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/**
 * A request's headers: a fetch `Headers` (or anything with `get`), or a plain
 * object such as Node's `req.headers`, with names in any case.
 */
export type WebhookHeaders =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/** Options of {@link verifyWebhook}. */
export interface VerifyWebhookOptions {
  /** How far the timestamp may be from `now`, in seconds; default 300. */
  toleranceSeconds?: number;
  /** The time to check the timestamp against; default the clock. */
  now?: Date;
}

/**
 * Checks a delivery's signature and timestamp, and answers its parsed
 * payload. Pass the body exactly as it arrived (text or bytes, before any
 * JSON parsing): a re-serialised body does not match its signature.
 * Signatures are compared in constant time.
 *
 * ```ts
 * const event = verifyWebhook(process.env.SWITCHBOARD_WEBHOOK_SECRET!, rawBody, req.headers);
 * if (event.type === 'account.revoked') …
 * ```
 *
 * Throws {@link WebhookVerificationError} for a delivery not to trust, and
 * `TypeError` for a secret that is not a `whsec_` secret.
 */
export function verifyWebhook(
  secret: string,
  body: string | Uint8Array,
  headers: WebhookHeaders,
  options: VerifyWebhookOptions = {},
): WebhookPayload {
  const key = secretKey(secret);
  const id = header(headers, 'webhook-id');
  const stamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  const missing = [
    ['webhook-id', id],
    ['webhook-timestamp', stamp],
    ['webhook-signature', signatures],
  ]
    .filter(([, value]) => value === undefined || value.trim() === '')
    .map(([name]) => name);
  if (id === undefined || stamp === undefined || signatures === undefined || missing.length > 0) {
    throw new WebhookVerificationError(`the delivery has no ${missing.join(', ')} header`);
  }

  if (!/^\d+$/.test(stamp.trim())) {
    throw new WebhookVerificationError(`webhook-timestamp \`${stamp.slice(0, 40)}\` is not Unix seconds`);
  }
  const timestamp = Number(stamp.trim());
  const tolerance = options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_S;
  const now = (options.now?.getTime() ?? Date.now()) / 1000;
  if (timestamp < now - tolerance) {
    throw new WebhookVerificationError(
      `webhook-timestamp ${timestamp} is ${Math.floor(now - timestamp)} s old, more than the ${tolerance} s allowed`,
    );
  }
  if (timestamp > now + tolerance) {
    throw new WebhookVerificationError(
      `webhook-timestamp ${timestamp} is ${Math.floor(timestamp - now)} s ahead, more than the ${tolerance} s allowed`,
    );
  }

  const expected = hmac(key, id.trim(), timestamp, body);
  const offered = signatures
    .split(/\s+/)
    .map((entry) => entry.replace(/,$/, '')) // `Headers.get` joins a repeated header with ", "
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => entry.slice(3));
  if (offered.length === 0) {
    throw new WebhookVerificationError('webhook-signature has no `v1,` signature');
  }
  // Every entry is compared, so the time taken does not tell which one matched.
  let matched = false;
  for (const signature of offered) {
    const bytes = base64Bytes(signature);
    if (bytes !== undefined && bytes.length === expected.length && timingSafeEqual(bytes, expected)) matched = true;
  }
  if (!matched) {
    throw new WebhookVerificationError(
      'no signature in webhook-signature matches the body (wrong secret, or altered)',
    );
  }

  let payload: unknown;
  try {
    payload = JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body));
  } catch {
    throw new WebhookVerificationError("the delivery's body is not JSON");
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new WebhookVerificationError("the delivery's body is not a JSON object");
  }
  return payload as WebhookPayload;
}

/**
 * The `webhook-signature` value (`v1,<base64>`) of `body` sent as
 * `webhookId` at `timestamp` (Unix seconds): for testing a receiver with
 * deliveries of one's own.
 */
export function signWebhook(
  secret: string,
  webhookId: string,
  timestamp: number,
  body: string | Uint8Array,
): string {
  return `v1,${base64(hmac(secretKey(secret), webhookId, timestamp, body))}`;
}

function hmac(key: Uint8Array, id: string, timestamp: number, body: string | Uint8Array): Uint8Array {
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
}

function secretKey(secret: string): Uint8Array {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = /^[A-Za-z0-9+/]*={0,2}$/.test(encoded) ? base64Bytes(encoded) : undefined;
  if (key === undefined) {
    throw new TypeError('the webhook secret is not `whsec_` followed by base64 (copy it whole)');
  }
  if (key.length === 0) throw new TypeError('the webhook secret is empty');
  return key;
}

/** A header's value by name in any case; a repeated header's values joined with spaces. */
function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof headers.get === 'function') {
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  }
  const values: string[] = [];
  for (const [key, value] of Object.entries(headers as Record<string, string | readonly string[] | undefined>)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    if (typeof value === 'string') values.push(value);
    else values.push(...value);
  }
  return values.length === 0 ? undefined : values.join(' ');
}

function base64Bytes(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function base64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

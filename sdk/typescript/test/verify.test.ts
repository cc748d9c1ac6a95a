/**
 * Without a gateway: `verifyWebhook` and `signWebhook` (a known vector, the
 * tolerance, missing headers, several signatures in one header, refusals),
 * and the audit export reading a streamed body line by line.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  type AuditEvent,
  DEFAULT_WEBHOOK_TOLERANCE_S,
  type FetchLike,
  InvalidRequestError,
  type ResponseLike,
  Switchboard,
  SwitchboardError,
  SwitchboardTimeoutError,
  signWebhook,
  verifyWebhook,
  WebhookVerificationError,
} from '@switchboard/sdk';

// 32 bytes of 0x01, and the signature of BODY sent as msg_1 at TIMESTAMP.
const SECRET = 'whsec_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=';
const BODY = '{"a":1}';
const TIMESTAMP = 1700000000;
const SIGNATURE = 'v1,3tN+SMwreJINGaFSPFdhMpE4XGSVaCkC9ee+KquMGGQ=';
const AT = new Date(TIMESTAMP * 1000);

function headers(changes: Record<string, string | undefined> = {}): Record<string, string> {
  const all: Record<string, string | undefined> = {
    'webhook-id': 'msg_1',
    'webhook-timestamp': String(TIMESTAMP),
    'webhook-signature': SIGNATURE,
    ...changes,
  };
  return Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
}

function refused(run: () => unknown, message: RegExp): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof WebhookVerificationError, `expected a WebhookVerificationError, got ${String(e)}`);
    assert.equal(e.name, 'WebhookVerificationError');
    assert.match(e.message, message);
    return true;
  });
}

describe('verifyWebhook', () => {
  it('accepts the known vector', () => {
    assert.equal(Buffer.from(SECRET.slice(6), 'base64').toString('hex'), '01'.repeat(32));
    assert.equal(signWebhook(SECRET, 'msg_1', TIMESTAMP, BODY), SIGNATURE);
    assert.equal(signWebhook(SECRET, 'msg_1', TIMESTAMP, new TextEncoder().encode(BODY)), SIGNATURE);
    assert.deepEqual(verifyWebhook(SECRET, BODY, headers(), { now: AT }), { a: 1 });
    assert.deepEqual(verifyWebhook(SECRET, Buffer.from(BODY), headers(), { now: AT }), { a: 1 });
    assert.deepEqual(verifyWebhook(SECRET, new TextEncoder().encode(BODY), headers(), { now: AT }), { a: 1 });
  });

  it('reads header names in any case, from an object or a Headers', () => {
    const upper = Object.fromEntries(Object.entries(headers()).map(([k, v]) => [k.toUpperCase(), v]));
    assert.deepEqual(verifyWebhook(SECRET, BODY, upper, { now: AT }), { a: 1 });
    assert.deepEqual(verifyWebhook(SECRET, BODY, new Headers(headers()), { now: AT }), { a: 1 });
  });

  it('checks the timestamp against the tolerance', () => {
    assert.equal(DEFAULT_WEBHOOK_TOLERANCE_S, 300);
    const at = (seconds: number) => new Date((TIMESTAMP + seconds) * 1000);
    verifyWebhook(SECRET, BODY, headers(), { now: at(300) });
    verifyWebhook(SECRET, BODY, headers(), { now: at(-300) });
    refused(() => verifyWebhook(SECRET, BODY, headers(), { now: at(301) }), /301 s old/);
    refused(() => verifyWebhook(SECRET, BODY, headers(), { now: at(-301) }), /ahead/);
    refused(() => verifyWebhook(SECRET, BODY, headers(), { now: at(11), toleranceSeconds: 10 }), /old/);
    verifyWebhook(SECRET, BODY, headers(), { now: at(3000), toleranceSeconds: 3600 });
    // Against the clock by default: the vector is from 2023.
    refused(() => verifyWebhook(SECRET, BODY, headers()), /old/);
    refused(
      () => verifyWebhook(SECRET, BODY, headers({ 'webhook-timestamp': '2023-11-14T22:13:20Z' }), { now: AT }),
      /Unix seconds/,
    );
  });

  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    it(`refuses a delivery without ${name}`, () => {
      const missing = new RegExp(`no ${name} header`);
      refused(() => verifyWebhook(SECRET, BODY, headers({ [name]: undefined }), { now: AT }), missing);
      refused(() => verifyWebhook(SECRET, BODY, headers({ [name]: ' ' }), { now: AT }), missing);
    });
  }

  it('finds the matching one of several signatures', () => {
    const wrong = `v1,${Buffer.alloc(32).toString('base64')}`;
    for (const value of [
      `${wrong} ${SIGNATURE}`,
      `${SIGNATURE} ${wrong}`,
      `v1a,${SIGNATURE.slice(3)} ${SIGNATURE}`, // another scheme's entry is skipped
      `  ${wrong}   ${SIGNATURE} `,
      `${wrong}, ${SIGNATURE}`, // a repeated header as Headers.get joins it
    ]) {
      assert.deepEqual(verifyWebhook(SECRET, BODY, headers({ 'webhook-signature': value }), { now: AT }), { a: 1 });
    }
    // Node gives a repeated header as an array.
    const repeated = { ...headers(), 'webhook-signature': [wrong, SIGNATURE] };
    assert.deepEqual(verifyWebhook(SECRET, BODY, repeated, { now: AT }), { a: 1 });
    const joined = new Headers(headers({ 'webhook-signature': wrong }));
    joined.append('webhook-signature', SIGNATURE);
    assert.deepEqual(verifyWebhook(SECRET, BODY, joined, { now: AT }), { a: 1 });

    refused(
      () => verifyWebhook(SECRET, BODY, headers({ 'webhook-signature': `${wrong} v1,%%%` }), { now: AT }),
      /matches/,
    );
    refused(
      () => verifyWebhook(SECRET, BODY, headers({ 'webhook-signature': `v2,${SIGNATURE.slice(3)}` }), { now: AT }),
      /no `v1,` signature/,
    );
    refused(
      () => verifyWebhook(SECRET, BODY, headers({ 'webhook-signature': SIGNATURE.slice(3) }), { now: AT }),
      /no `v1,` signature/,
    );
  });

  it('covers the body, the id and the timestamp with the secret', () => {
    refused(() => verifyWebhook(SECRET, '{"a":2}', headers(), { now: AT }), /matches/);
    refused(() => verifyWebhook(SECRET, BODY, headers({ 'webhook-id': 'msg_2' }), { now: AT }), /matches/);
    refused(
      () => verifyWebhook(SECRET, BODY, headers({ 'webhook-timestamp': String(TIMESTAMP + 1) }), { now: AT }),
      /matches/,
    );
    const other = `whsec_${Buffer.alloc(32, 2).toString('base64')}`;
    refused(() => verifyWebhook(other, BODY, headers(), { now: AT }), /matches/);
  });

  it('refuses a signed body that is not a JSON object', () => {
    for (const body of ['not json', '[1, 2]']) {
      const signed = headers({ 'webhook-signature': signWebhook(SECRET, 'msg_1', TIMESTAMP, body) });
      refused(() => verifyWebhook(SECRET, body, signed, { now: AT }), /JSON/);
    }
  });

  it('throws a TypeError for a secret that is not one', () => {
    assert.throws(() => verifyWebhook('whsec_not base64!', BODY, headers(), { now: AT }), TypeError);
    assert.throws(() => signWebhook('whsec_', 'msg_1', TIMESTAMP, BODY), /empty/);
    // The bare base64 works too, as other Standard Webhooks libraries accept it.
    assert.equal(signWebhook(SECRET.slice(6), 'msg_1', TIMESTAMP, BODY), SIGNATURE);
  });
});

function event(n: number): AuditEvent {
  return {
    id: `evt_${String(n).padStart(26, '0')}`,
    at: `2026-11-26T09:00:0${n}.000Z`,
    action: 'tool.executed',
    actor: 'key-1',
    request_id: `req_${n}`,
    connected_account_id: 'ca_1',
    connection_id: 'conn_1',
    identifier: 'u',
    provider: 'notes',
    tool: 'list_notes',
    outcome: 'success',
    upstream_status: 200,
    duration_ms: n,
    reason: null,
  };
}

/** A client whose fetch answers `respond`, recording the URLs and headers asked for. */
function offline(respond: (url: string) => ResponseLike) {
  const asked: { url: string; headers: Record<string, string> }[] = [];
  const fetch: FetchLike = async (url, init) => {
    asked.push({ url, headers: init.headers });
    return respond(url);
  };
  return { sb: new Switchboard({ baseUrl: 'http://gw.test', apiKey: 'k', fetch }), asked };
}

/** A streamed 200 answer whose chunks are pulled one at a time; `pulled` counts them. */
function streamed(chunks: string[], status = 200) {
  const bytes = chunks.map((c) => new TextEncoder().encode(c));
  const state = { pulled: 0, cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = bytes[state.pulled++];
      if (next === undefined) controller.close();
      else controller.enqueue(next);
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  const response: ResponseLike = {
    status,
    ok: status < 300,
    headers: new Headers({ 'content-type': 'application/x-ndjson' }),
    text: () => new Response(body).text(),
    body,
  };
  return { response, state };
}

describe('auditLogs.export, offline', () => {
  const lines = [1, 2, 3].map((n) => `${JSON.stringify(event(n))}\n`);
  const body = lines.join('');
  // Cut mid-line, and with two lines in one chunk.
  const cut = lines[0]!.length + 3;
  const chunks = [body.slice(0, 7), body.slice(7, cut), body.slice(cut, -5), body.slice(-5)];

  it('yields each event as soon as its line has arrived', async () => {
    const { response, state } = streamed(chunks);
    const { sb, asked } = offline(() => response);
    const stream = sb.auditLogs.export({
      identifier: 'u',
      since: new Date('2026-11-01T00:00:00Z'),
      until: '2026-12-01T00:00:00Z',
    });
    assert.equal(asked.length, 0, 'nothing is sent before the loop starts');
    const first = await stream.next();
    assert.equal(first.done, false);
    assert.equal((first.value as AuditEvent).duration_ms, 1);
    assert.equal(state.pulled, 2, 'the first event came out before the rest of the body was read');
    const rest: number[] = [];
    for await (const e of stream) rest.push(e.duration_ms ?? -1);
    assert.deepEqual(rest, [2, 3]);

    assert.equal(
      asked[0]?.url,
      'http://gw.test/v1/audit-logs/export' +
        '?identifier=u&since=2026-11-01T00%3A00%3A00.000Z&until=2026-12-01T00%3A00%3A00Z',
    );
    assert.equal(asked[0]?.headers['accept'], 'application/x-ndjson');
  });

  it('cancels the body when the loop stops early', async () => {
    const { response, state } = streamed(chunks);
    const { sb } = offline(() => response);
    for await (const e of sb.auditLogs.export()) {
      assert.equal(e.duration_ms, 1);
      break;
    }
    assert.equal(state.cancelled, true);
  });

  it('reads a body without a stream whole, and handles CRLF and blank lines', async () => {
    const text = `${lines[0]!.replace('\n', '\r\n')}\n${lines[1]}${lines[2]!.trimEnd()}`;
    const { sb } = offline(() => ({ status: 200, ok: true, headers: new Headers(), text: async () => text }));
    const seen: number[] = [];
    for await (const e of sb.auditLogs.export()) seen.push(e.duration_ms ?? -1);
    assert.deepEqual(seen, [1, 2, 3]);
  });

  it('throws the envelope of an error answer, and a line that is not JSON', async () => {
    const envelope = {
      error: { code: 'invalid_request', message: 'since must be RFC 3339', request_id: 'req_x', details: {} },
    };
    const { sb } = offline((url) =>
      url.includes('since=')
        ? { status: 400, ok: false, headers: new Headers(), text: async () => JSON.stringify(envelope) }
        : streamed([lines[0]!, '<html>oops</html>\n']).response,
    );
    const drain = async (filters: { since?: string }) => {
      for await (const e of sb.auditLogs.export(filters)) void e;
    };
    await assert.rejects(
      drain({ since: 'soon' }),
      (e: unknown) => e instanceof InvalidRequestError && e.requestId === 'req_x',
    );
    await assert.rejects(
      drain({}),
      (e: unknown) =>
        e instanceof SwitchboardError &&
        e.code === 'unexpected_response' &&
        e.details['body_excerpt'] === '<html>oops</html>',
    );
  });

  it('times out a stream that stops sending, but not a slow loop', async () => {
    // Two events at once, then nothing more.
    const sent = [lines[0]!, lines[1]!];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = sent.shift();
        if (next === undefined) return new Promise<void>(() => {});
        controller.enqueue(new TextEncoder().encode(next));
        return undefined;
      },
    }, { highWaterMark: 0 });
    const fetch: FetchLike = async (_url, init) => {
      // Like a real fetch, an abort errors the body being read.
      (init.signal as AbortSignal).addEventListener('abort', () => void body.cancel().catch(() => undefined));
      const stream = abortable(body, init.signal as AbortSignal);
      return { status: 200, ok: true, headers: new Headers(), text: async () => '', body: stream };
    };
    const sb = new Switchboard({ baseUrl: 'http://gw.test', apiKey: 'k', fetch, timeoutMs: 100 });
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const e of sb.auditLogs.export()) {
        await new Promise((resolve) => setTimeout(resolve, 250)); // longer than the timeout
        seen.push(e.duration_ms ?? -1);
      }
    }, SwitchboardTimeoutError);
    // The time the loop spent on each event did not count: both were read.
    assert.deepEqual(seen, [1, 2]);
  });

  it('sends Dates as RFC 3339 in list queries', async () => {
    const { sb, asked } = offline(() => ({
      status: 200,
      ok: true,
      headers: new Headers(),
      text: async () => JSON.stringify({ data: [event(2), event(1)], next_cursor: null }),
    }));
    const since = new Date(Date.UTC(2026, 10, 26, 9, 30));
    const page = await sb.auditLogs.list({ action: 'tool.executed', since, limit: 2 });
    assert.deepEqual(
      page.data.map((e) => e.duration_ms),
      [2, 1],
    );
    assert.equal(
      asked[0]?.url,
      'http://gw.test/v1/audit-logs?action=tool.executed&since=2026-11-26T09%3A30%3A00.000Z&limit=2',
    );
    assert.throws(() => sb.auditLogs.list({ since: new Date('not a date') }), RangeError);
  });
});

/** `stream`, erroring its reader with an AbortError once `signal` aborts (as fetch bodies do). */
function abortable(stream: ReadableStream<Uint8Array>, signal: AbortSignal): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const aborted = new Promise<never>((_, reject) =>
        signal.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')), { once: true }),
      );
      const chunk = await Promise.race([reader.read(), aborted]);
      if (chunk.done) controller.close();
      else controller.enqueue(chunk.value);
    },
  }, { highWaterMark: 0 });
}

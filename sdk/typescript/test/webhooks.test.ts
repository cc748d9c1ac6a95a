/**
 * Webhooks and the audit trail against a real gateway (see harness.ts): an
 * endpoint on a local node:http receiver is sent `account.connected` when an
 * account gets its API key; the delivery is checked with the SDK's
 * `verifyWebhook` and found `delivered` in the endpoint's deliveries. The
 * audit trail is listed with filters across pages, and exported.
 */

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';

import {
  type AuditEvent,
  type ConnectedAccount,
  InvalidRequestError,
  NotFoundError,
  Switchboard,
  type WebhookDelivery,
  WebhookVerificationError,
  verifyWebhook,
} from '@switchboard/sdk';

import { API_KEY, Gateway, NOTES_API_KEY } from './harness.js';

const gateway = new Gateway();
let sb: Switchboard;

before(async () => {
  await gateway.start();
  sb = new Switchboard({ baseUrl: gateway.baseUrl, apiKey: API_KEY });
});

after(async () => {
  await gateway.stop();
});

/** One POST the receiver got. */
interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A webhook receiver on a free local port; answers each delivery with the next of `statuses` (the last repeats). */
class Receiver {
  readonly received: Received[] = [];
  readonly #statuses: number[];
  readonly #waiting = new Set<() => void>();
  readonly #server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      for (const wake of this.#waiting) wake();
      res.writeHead(this.#statuses.length > 1 ? (this.#statuses.shift() ?? 204) : (this.#statuses[0] ?? 204));
      res.end();
    });
  });
  url = '';

  constructor(statuses: number[] = [204]) {
    this.#statuses = [...statuses];
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The first delivery (already received or yet to come) of an event of this account. */
  async deliveryFor(accountId: string, timeoutMs = 20_000): Promise<Received> {
    const find = () =>
      this.received.find((r) => JSON.parse(r.body.toString('utf8')).data?.connected_account_id === accountId);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found) return found;
      if (Date.now() > deadline) assert.fail(`no delivery for ${accountId} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiting.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 100);
        this.#waiting.add(wake);
      });
    }
  }
}

/** Calls `probe` until it answers something other than undefined, and answers that. */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A notes account given its API key, which makes it active (`account.connected`). */
async function connectedAccount(connectionId: string, identifier: string): Promise<ConnectedAccount> {
  const account = await sb.accounts.create({ connection_id: connectionId, identifier });
  const active = await sb.accounts.setCredentials(account.id, { api_key: NOTES_API_KEY });
  assert.equal(active.status, 'active');
  return active;
}

/** The account's delivery on the endpoint once it has the wanted status. */
function deliveryOf(webhookId: string, accountId: string, wanted: (d: WebhookDelivery) => boolean) {
  return eventually(async () => {
    for await (const d of sb.webhooks.deliveries(webhookId)) {
      if (d.payload.data.connected_account_id === accountId && wanted(d)) return d;
    }
    return undefined;
  }, `a delivery for ${accountId}`);
}

describe('webhooks', () => {
  it('delivers an account event, signed, and records it', async () => {
    const receiver = await new Receiver().start();
    const conn = await sb.connections.create({ provider: 'notes' });
    const hook = await sb.webhooks.create({ url: `${receiver.url}/hooks/switchboard`, events: ['account.connected'] });
    try {
      assert.match(hook.id, /^wh_[0-9a-z]{26}$/);
      assert.match(hook.secret, /^whsec_/);
      assert.equal(Buffer.from(hook.secret.slice('whsec_'.length), 'base64').length, 32);
      assert.deepEqual(hook.events, ['account.connected']);
      assert.ok(!Number.isNaN(Date.parse(hook.created_at)));

      const { secret, ...shown } = hook;
      assert.deepEqual(await sb.webhooks.get(hook.id), shown, 'read back without its secret');
      assert.ok(secret);
      const listed: string[] = [];
      for await (const w of sb.webhooks.list({ limit: 1 })) listed.push(w.id);
      assert.ok(listed.includes(hook.id));

      const account = await connectedAccount(conn.id, 'webhook-user');
      const received = await receiver.deliveryFor(account.id);
      assert.equal(received.path, '/hooks/switchboard');
      assert.equal(received.headers['content-type'], 'application/json');
      assert.match(String(received.headers['webhook-id']), /^msg_/);

      // Node's req.headers as they came, the body as bytes.
      const event = verifyWebhook(hook.secret, received.body, received.headers);
      assert.equal(event.type, 'account.connected');
      assert.deepEqual(event.data, {
        connected_account_id: account.id,
        connection_id: conn.id,
        provider: 'notes',
        identifier: 'webhook-user',
        label: 'default',
        status: 'active',
        reason: null,
      });
      assert.ok(!Number.isNaN(Date.parse(event.timestamp)));
      // A fetch Headers object, and the body as text.
      const headers = new Headers();
      for (const [name, value] of Object.entries(received.headers)) headers.set(name, String(value));
      assert.deepEqual(verifyWebhook(hook.secret, received.body.toString('utf8'), headers), event);

      // A body changed on the way, another secret, and a replay an hour later are refused.
      const tampered = received.body.toString('utf8').replace('"active"', '"revoked"');
      assert.throws(() => verifyWebhook(hook.secret, tampered, received.headers), WebhookVerificationError);
      const otherSecret = `whsec_${randomBytes(32).toString('base64')}`;
      assert.throws(() => verifyWebhook(otherSecret, received.body, received.headers), /matches/);
      assert.throws(
        () => verifyWebhook(hook.secret, received.body, received.headers, { now: new Date(Date.now() + 3_600_000) }),
        /s old/,
      );

      const delivery = await deliveryOf(hook.id, account.id, (d) => d.status === 'delivered');
      assert.equal(delivery.id, received.headers['webhook-id']);
      assert.equal(delivery.webhook_id, hook.id);
      assert.equal(delivery.event_type, 'account.connected');
      assert.equal(delivery.attempts, 1);
      assert.equal(delivery.last_response_status, 204);
      assert.equal(delivery.last_error, null);
      assert.equal(delivery.next_attempt_at, null);
      assert.ok(delivery.delivered_at !== null && delivery.last_attempt_at !== null);
      assert.deepEqual(delivery.payload, event);
    } finally {
      assert.deepEqual(await sb.webhooks.delete(hook.id), { id: hook.id, deleted: true });
      await sb.connections.delete(conn.id);
      await receiver.stop();
    }
    await assert.rejects(sb.webhooks.get(hook.id), NotFoundError);
  });

  it('lists deliveries newest first, page by page', async () => {
    const receiver = await new Receiver().start();
    const conn = await sb.connections.create({ provider: 'notes' });
    const hook = await sb.webhooks.create({ url: receiver.url, events: ['account.revoked', 'account.connected'] });
    try {
      assert.deepEqual(hook.events, ['account.connected', 'account.revoked']);
      const accounts: string[] = [];
      for (let i = 0; i < 3; i++) accounts.push((await connectedAccount(conn.id, `paged-hook-${i}`)).id);
      for (const id of accounts) await receiver.deliveryFor(id);

      const all = await eventually(async () => {
        const listed = await sb.webhooks.deliveries(hook.id, { limit: 2 }).toArray();
        return listed.length === 3 && listed.every((d) => d.status === 'delivered') ? listed : undefined;
      }, 'three delivered records');
      assert.deepEqual(
        all.map((d) => d.payload.data.connected_account_id),
        [...accounts].reverse(),
      );
      const first = await sb.webhooks.deliveries(hook.id, { limit: 2 });
      assert.deepEqual(
        first.data.map((d) => d.id),
        all.slice(0, 2).map((d) => d.id),
      );
      assert.ok(first.hasNextPage());
      const second = await first.nextPage();
      assert.deepEqual(
        second?.data.map((d) => d.id),
        [all[2]?.id],
      );
      assert.equal(second?.hasNextPage(), false);
    } finally {
      await sb.webhooks.delete(hook.id);
      await receiver.stop();
    }
  });

  it('keeps a failed attempt pending, with what the endpoint answered', async () => {
    const receiver = await new Receiver([503]).start();
    const conn = await sb.connections.create({ provider: 'notes' });
    const hook = await sb.webhooks.create({ url: `${receiver.url}/down` });
    try {
      assert.deepEqual([...hook.events].sort(), [
        'account.connected',
        'account.reauthorization_required',
        'account.refresh_failed',
        'account.revoked',
      ]);
      const account = await connectedAccount(conn.id, 'failing-hook-user');
      await receiver.deliveryFor(account.id);
      const delivery = await deliveryOf(hook.id, account.id, (d) => d.attempts > 0);
      assert.equal(delivery.status, 'pending');
      assert.equal(delivery.attempts, 1);
      assert.equal(delivery.last_response_status, 503);
      assert.equal(delivery.last_error, 'the endpoint answered 503');
      assert.equal(delivery.delivered_at, null);
      assert.ok(Date.parse(delivery.next_attempt_at ?? '') > Date.parse(delivery.last_attempt_at ?? ''));
    } finally {
      await sb.webhooks.delete(hook.id);
      await receiver.stop();
    }
    await assert.rejects(sb.webhooks.deliveries(hook.id).firstPage(), NotFoundError);
  });

  it('refuses an endpoint the gateway must not send to', async () => {
    await assert.rejects(sb.webhooks.create({ url: 'http://hooks.example/switchboard' }), /https/);
    const e = await sb.webhooks
      .create({ url: 'https://hooks.example/switchboard', events: ['account.disconnected' as 'account.revoked'] })
      .catch((error: unknown) => error);
    assert.ok(e instanceof InvalidRequestError);
    assert.match(e.message, /unknown event/);
    await assert.rejects(sb.webhooks.delete('wh_missing'), NotFoundError);
  });
});

describe('audit trail', () => {
  let account: ConnectedAccount;
  let events: AuditEvent[];
  let requestId: string;

  before(async () => {
    const conn = await sb.connections.create({ provider: 'notes' });
    account = await connectedAccount(conn.id, 'audited-user');
    const result = await sb.tools.execute({
      connected_account_id: account.id,
      tool: 'create_note',
      parameters: { title: 'Quarterly plan 7Q3' },
    });
    requestId = result.meta.request_id;
    // Events are written a moment after they happen.
    events = await eventually(async () => {
      const listed = await sb.auditLogs.list({ connected_account_id: account.id }).toArray();
      return listed.some((e) => e.action === 'tool.executed') ? listed : undefined;
    }, 'the tool call recorded');
  });

  it('lists an account’s events newest first', () => {
    const ids = events.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort().reverse());
    assert.equal(events[0]?.action, 'tool.executed');
    assert.deepEqual(
      events.slice(-2).map((e) => e.action),
      ['account.credentials_set', 'account.created'],
    );
    assert.ok(events.every((e) => e.connected_account_id === account.id));
  });

  it('walks the same events page by page', async () => {
    const walked: string[] = [];
    for await (const e of sb.auditLogs.list({ connected_account_id: account.id, limit: 1 })) walked.push(e.id);
    assert.deepEqual(
      walked,
      events.map((e) => e.id),
    );
    const first = await sb.auditLogs.list({ connected_account_id: account.id, limit: 2 });
    assert.ok(first.hasNextPage());
    const second = await first.nextPage();
    assert.deepEqual(
      second?.data.map((e) => e.id),
      events.slice(2, 4).map((e) => e.id),
    );
  });

  it('filters by action, user, provider and time', async () => {
    const calls = await sb.auditLogs.list({ connected_account_id: account.id, action: 'tool.executed' }).toArray();
    assert.equal(calls.length, 1);
    const call = calls[0] as AuditEvent;
    assert.equal(call.tool, 'create_note');
    assert.equal(call.outcome, 'success');
    assert.equal(call.upstream_status, 201);
    assert.equal(call.provider, 'notes');
    assert.equal(call.identifier, 'audited-user');
    assert.equal(call.connection_id, account.connection_id);
    assert.equal(call.actor, 'key-1');
    assert.equal(call.request_id, requestId);
    assert.ok(typeof call.duration_ms === 'number' && call.duration_ms >= 0);
    assert.ok(!JSON.stringify(call).includes('Quarterly'), 'no parameter value is recorded');

    const byUser = await sb.auditLogs.list({ identifier: 'audited-user', provider: 'notes' }).toArray();
    assert.ok(events.every((e) => byUser.some((u) => u.id === e.id)));

    // since is inclusive and until exclusive; a Date or RFC 3339 text.
    const at = new Date(call.at);
    const inAnHour = new Date(at.getTime() + 3_600_000);
    const later = await sb.auditLogs.list({ connected_account_id: account.id, since: inAnHour });
    assert.deepEqual(later.data, []);
    const before = await sb.auditLogs.list({ connected_account_id: account.id, until: at }).toArray();
    assert.deepEqual(
      before.map((e) => e.id),
      events.filter((e) => Date.parse(e.at) < at.getTime()).map((e) => e.id),
    );
    const since = await sb.auditLogs.list({ connected_account_id: account.id, since: call.at }).toArray();
    assert.ok(since.some((e) => e.id === call.id));
    await assert.rejects(sb.auditLogs.list({ since: 'yesterday' }).firstPage(), InvalidRequestError);
  });

  it('exports every event oldest first, streamed', async () => {
    const exported: AuditEvent[] = [];
    for await (const e of sb.auditLogs.export({ connected_account_id: account.id })) exported.push(e);
    assert.deepEqual(exported, [...events].reverse());

    const actions: string[] = [];
    for await (const e of sb.auditLogs.export({ connection_id: account.connection_id })) actions.push(e.action);
    assert.equal(actions[0], 'connection.created');
    assert.ok(actions.includes('tool.executed'));

    const calls: string[] = [];
    const since = new Date(Date.now() - 3_600_000);
    for await (const e of sb.auditLogs.export({ connected_account_id: account.id, action: 'tool.executed', since })) {
      calls.push(e.tool ?? '');
    }
    assert.deepEqual(calls, ['create_note']);

    // Leaving the loop early closes the stream.
    for await (const e of sb.auditLogs.export({ connected_account_id: account.id })) {
      assert.equal(e.id, exported[0]?.id);
      break;
    }

    const refused = async () => {
      for await (const e of sb.auditLogs.export({ until: '26/11/2026' })) assert.fail(`unexpected ${e.id}`);
    };
    await assert.rejects(refused, (e: unknown) => e instanceof InvalidRequestError && /until/.test(e.message));
  });
});

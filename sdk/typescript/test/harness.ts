/**
 * A real gateway for the tests: the built `switchboard` binary, started on a
 * free port with a temporary data directory, SQLite database and specs
 * directory, in front of a mock notes provider served from this process.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The SDK's directory (this file runs from build-test/test/). */
export const SDK_DIR = fileURLToPath(new URL('../../', import.meta.url));
const REPO_DIR = path.resolve(SDK_DIR, '../..');

export const API_KEY = 'sb_test_key_for_the_typescript_sdk';
/** The key the mock notes provider accepts, as in examples/mock_provider.rs. */
export const NOTES_API_KEY = 'demo-key';

/**
 * The gateway binary: `$SWITCHBOARD_BIN`, else the repository's debug build,
 * else the debug build under `$CARGO_TARGET_DIR`.
 */
export function gatewayBinary(): string {
  const candidates = [
    process.env['SWITCHBOARD_BIN'],
    path.join(REPO_DIR, 'target/debug/switchboard'),
    process.env['CARGO_TARGET_DIR'] && path.join(process.env['CARGO_TARGET_DIR'], 'debug/switchboard'),
  ].filter((p): p is string => typeof p === 'string' && p !== '');
  // Absolute, since the gateway runs in its own working directory.
  const found = candidates.map((p) => path.resolve(p)).find((p) => existsSync(p));
  if (found === undefined) {
    throw new Error(
      `no switchboard binary (looked at ${candidates.join(', ')}); ` +
        'run `cargo build` at the repository root or set SWITCHBOARD_BIN',
    );
  }
  return found;
}

/** One request the mock provider received. */
export interface ReceivedRequest {
  method: string;
  url: string;
  apiKey: string | undefined;
  body: unknown;
}

/**
 * The demo notes API of examples/mock_provider.rs: `GET/POST /v1/notes` and
 * `GET /v1/notes/{id}`, every request needing `X-Api-Key: demo-key`. One
 * addition for the tests: note 429 answers HTTP 429 with `Retry-After: 17`.
 */
export class MockNotesProvider {
  readonly requests: ReceivedRequest[] = [];
  readonly #notes = new Map<number, { id: number; title: string; body: unknown }>();
  readonly #server = http.createServer((req, res) => void this.#handle(req, res));

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      body = raw;
    }
    const apiKey = req.headers['x-api-key'];
    this.requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      apiKey: typeof apiKey === 'string' ? apiKey : undefined,
      body,
    });
    const reply = (status: number, json: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(json));
    };

    // A page that is not the gateway's: for the SDK's unexpected_response case.
    if (req.url?.startsWith('/not-a-gateway/')) {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body>Bad Gateway</body></html>');
      return;
    }
    if (apiKey !== NOTES_API_KEY) {
      return reply(401, { error: { code: 'unauthorized', message: 'missing or wrong X-Api-Key' } });
    }
    if (req.url === '/v1/notes' && req.method === 'GET') {
      return reply(200, { notes: [...this.#notes.values()] });
    }
    if (req.url === '/v1/notes' && req.method === 'POST') {
      const b = body as { title?: unknown; body?: unknown } | undefined;
      if (typeof b?.title !== 'string') {
        return reply(400, { error: { code: 'invalid', message: 'title is required' } });
      }
      const note = { id: this.#notes.size + 1, title: b.title, body: b.body ?? null };
      this.#notes.set(note.id, note);
      return reply(201, note);
    }
    const match = /^\/v1\/notes\/(\d+)$/.exec(req.url ?? '');
    if (match && req.method === 'GET') {
      const id = Number(match[1]);
      if (id === 429) {
        return reply(429, { error: { code: 'slow_down', message: 'too many requests' } }, { 'retry-after': '17' });
      }
      const note = this.#notes.get(id);
      if (note) return reply(200, note);
      return reply(404, { error: { code: 'not_found', message: `no note ${id}` } });
    }
    reply(404, { error: { code: 'no_route', message: 'no such route' } });
  }
}

/**
 * A made-up OAuth 2.0 provider (after tests/fixtures/oauth/studio.yaml):
 * PKCE, a comma scope separator, default scopes, an extra authorization
 * parameter, and one tool that needs a scope.
 */
const STUDIO_SPEC = `provider: studio
display_name: Studio
base_url: https://api.studio.example
auth:
  type: oauth2
  authorization_url: https://studio.example/oauth/authorize
  token_url: https://studio.example/oauth/token
  pkce: true
  scope_separator: ","
  default_scopes: [read]
  authorization_params:
    access_type: offline
tools:
  get_site:
    description: Read the user's site.
    parameters: {type: object, properties: {}}
    request:
      method: GET
      path: /site
`;

/** A running gateway and its mock provider. */
export class Gateway {
  baseUrl = '';
  mockUrl = '';
  readonly mock = new MockNotesProvider();
  #child: ChildProcess | undefined;
  #dir = '';
  #log = '';

  /** The binary under test. */
  readonly binary = gatewayBinary();

  async start(): Promise<void> {
    this.#dir = await mkdtemp(path.join(tmpdir(), 'switchboard-sdk-'));
    const specs = path.join(this.#dir, 'specs');
    await mkdir(specs);
    this.mockUrl = await this.mock.start();

    // The demo spec as the repository ships it, pointed at the mock.
    const notes = await readFile(path.join(REPO_DIR, 'examples/demo/notes.yaml'), 'utf8');
    const pointed = notes.replace(/^base_url: .*$/m, `base_url: ${this.mockUrl}/v1`);
    if (pointed === notes) throw new Error('examples/demo/notes.yaml has no `base_url:` line to point at the mock');
    await writeFile(path.join(specs, 'notes.yaml'), pointed);
    await writeFile(path.join(specs, 'studio.yaml'), STUDIO_SPEC);
    // A shipped OAuth provider, for the product brief's examples.
    await copyFile(path.join(REPO_DIR, 'provider-specs/gmail.yaml'), path.join(specs, 'gmail.yaml'));
    await copyFile(path.join(REPO_DIR, 'provider-specs/gmail.svg'), path.join(specs, 'gmail.svg'));

    // Only the variables given here configure the gateway: no inherited
    // SWITCHBOARD_*, and a working directory without a config file.
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v !== undefined && !k.startsWith('SWITCHBOARD_') && k !== 'RUST_LOG') env[k] = v;
    }
    Object.assign(env, {
      SWITCHBOARD_LISTEN: '127.0.0.1:0',
      SWITCHBOARD_DATA_DIR: path.join(this.#dir, 'data'),
      SWITCHBOARD_SPECS_DIR: specs,
      SWITCHBOARD_API_KEYS: API_KEY,
      SWITCHBOARD_DATABASE_URL: `sqlite://${path.join(this.#dir, 'sb.db')}`,
    });
    const child = spawn(this.binary, ['serve'], { cwd: this.#dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    process.once('exit', () => child.kill('SIGKILL'));
    this.baseUrl = await this.#listeningAddress(child);
  }

  /** Waits for the log line `… listening address=http://127.0.0.1:PORT …`. */
  #listeningAddress(child: ChildProcess): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('the gateway did not start within 20 s')), 20_000);
      const onExit = (code: number | null) => fail(new Error(`the gateway exited with status ${code}`));
      const fail = (e: Error) => {
        clearTimeout(timer);
        reject(new Error(`${e.message}\n--- gateway log ---\n${this.#log}`));
      };
      const onData = (chunk: Buffer) => {
        this.#log += chunk.toString('utf8');
        const m = /listening address=(http:\/\/[^\s]+)/.exec(this.#log);
        if (m?.[1]) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(m[1]);
        }
      };
      child.stderr?.on('data', onData);
      child.stdout?.on('data', onData);
      child.once('error', fail);
      child.once('exit', onExit);
    });
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    }
    await this.mock.stop();
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
  }
}

/**
 * A flow whose PII policy hashes, run by `ashpipe serve --control postgres://…`, finds its hash key through
 * the PostgreSQL store: no control.db appears in the home, and another process on the same store (the CLI's
 * `sync --pii-policy default` with ASHPIPE_CONTROL_URL, from another home) stores the same hashes, while one
 * with another master key is refused.
 */
import { execFile } from 'node:child_process';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { assertBuilt, BIN, ROOT, startServe } from '../support/built-cli.js';
import { controlDialects, newControlTarget, removeControlTargets } from '../support/control.js';

const run = promisify(execFile);
const PASSWORD = 'serve pii on postgres password';
const CANARY = `canary-${randomBytes(12).toString('hex')}`;
const MASTER = randomBytes(32);
// The key as docs/privacy.md states it: HKDF-SHA256 of the master key, salt "ashpipe", info "ashpipe pii hash v1".
const HASH_KEY = Buffer.from(hkdfSync('sha256', MASTER, 'ashpipe', 'ashpipe pii hash v1', 32));

const pg = controlDialects('serve with a hashing PII policy on a PostgreSQL control store').includes(
  'postgres',
);

let sandbox: Sandbox;
let dir: string;
beforeAll(async () => {
  assertBuilt();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-pii-pg-'));
  sandbox = await startSandbox({
    scale: 5,
    keys: [{ key: CANARY, title: 'Canary', scopes: [...ALL_SCOPES], confidential: true }],
  });
});
afterAll(async () => {
  await sandbox?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(() => removeControlTargets());

const baseEnv = (home: string) => ({
  PATH: process.env.PATH,
  ASHPIPE_HOME: home,
  ASHPIPE_MASTER_KEY: MASTER.toString('base64'),
  ASHBY_BASE_URL: sandbox.url,
});

/** Starts `serve` on the store; resolves with its URL and a stop function. */
async function serve(url: string, home: string) {
  return startServe(['--port', '0', '--control', url, '--data-dir', dir], {
    ...baseEnv(home),
    ASHPIPE_ADMIN_PASSWORD: PASSWORD,
  });
}

/** Stored candidate id → primary email, as the target holds it. */
function storedEmails(file: string): Map<string, string> {
  const db = openSqlite(file);
  try {
    const rows = db.prepare('SELECT id, _ashpipe_raw AS raw FROM candidates').all() as Array<{
      id: string;
      raw: string;
    }>;
    return new Map(
      rows.flatMap((r) => {
        const value = (JSON.parse(r.raw) as { primaryEmailAddress?: { value?: string } }).primaryEmailAddress
          ?.value;
        return value ? [[r.id, value] as [string, string]] : [];
      }),
    );
  } finally {
    db.close();
  }
}

describe('a hashing PII policy on a PostgreSQL control store', () => {
  it.runIf(pg)(
    'serve hashes with the store’s key, leaves no control.db, and another process hashes alike',
    async () => {
      const target = newControlTarget('postgres');
      const url = target.url ?? '';
      const flowDb = path.join(dir, 'flow.db');
      const server = await serve(url, target.home);
      let stopped = false;
      try {
        const login = await fetch(`${server.url}/api/v1/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ password: PASSWORD }),
        });
        expect(login.status).toBe(200);
        const headers = {
          cookie: (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '',
          'x-csrf-token': ((await login.json()) as { csrfToken: string }).csrfToken,
          'content-type': 'application/json',
        };
        const call = async (method: string, route: string, body?: unknown) => {
          const res = await fetch(`${server.url}/api/v1${route}`, {
            method,
            headers,
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
          const text = await res.text();
          return {
            status: res.status,
            text,
            json: JSON.parse(text || '{}') as Record<string, { id: string }>,
          };
        };
        const cred = await call('POST', '/credentials', { name: 'canary', apiKey: CANARY });
        expect(cred.status, cred.text).toBe(201);
        const flow = await call('POST', '/flows', {
          kind: 'source',
          name: 'hashed',
          credentialId: cred.json.credential?.id ?? '',
          streams: ['candidates'],
          target: { type: 'sqlite', path: flowDb },
          options: { piiPolicy: 'default' },
        });
        expect(flow.status, flow.text).toBe(201);
        const flowId = flow.json.flow?.id ?? '';
        const started = await call('POST', `/flows/${flowId}/run`);
        expect(started.status, started.text).toBe(202);
        const runId = started.json.run?.id ?? '';
        // On PostgreSQL the run is queued first, then taken by the worker inside `serve`.
        let status = 'queued';
        let last = '';
        const pending = () => status === 'queued' || status === 'running';
        for (const until = Date.now() + 30_000; pending() && Date.now() < until; ) {
          await new Promise((r) => setTimeout(r, 100));
          last = (await call('GET', `/runs/${runId}`)).text;
          status = (JSON.parse(last) as { run: { status: string } }).run.status;
        }
        expect(status, last).toBe('succeeded');
        expect(await server.stop()).toBe(0);
        stopped = true;
      } finally {
        if (!stopped) await server.stop();
      }
      expect(fs.existsSync(path.join(target.home, 'control.db'))).toBe(false);

      // Expected hashes from the sandbox's world and the documented derivation, not from ashpipe.
      const world = (sandbox.records('candidate.list') as Array<Record<string, unknown>>).flatMap((c) => {
        const email = (c.primaryEmailAddress as { value?: string } | undefined)?.value;
        return email ? [[String(c.id), email] as const] : [];
      });
      expect(world.length).toBeGreaterThan(0);
      const expected = new Map(
        world.map(([id, email]) => [
          id,
          createHmac('sha256', HASH_KEY).update(email.trim().toLowerCase()).digest('hex'),
        ]),
      );
      expect(storedEmails(flowDb)).toEqual(expected);

      // Another process, from another home, on the same store: the same hashes, and still no control.db.
      const otherHome = path.join(dir, 'other-home');
      const cliDb = path.join(dir, 'cli.db');
      const env = { ...baseEnv(otherHome), ASHPIPE_CONTROL_URL: url, ASHBY_API_KEY: CANARY };
      const args = [
        BIN,
        'sync',
        '--to',
        `sqlite:${cliDb}`,
        '--streams',
        'candidates',
        '--pii-policy',
        'default',
      ];
      await run(process.execPath, args, { cwd: ROOT, env });
      expect(storedEmails(cliDb)).toEqual(expected);
      expect(fs.existsSync(path.join(otherHome, 'control.db'))).toBe(false);

      // A process with another master key is refused (exit 2) rather than hashing differently.
      const refused = await run(
        process.execPath,
        [...args.slice(0, 3), `sqlite:${path.join(dir, 'refused.db')}`, ...args.slice(4)],
        { cwd: ROOT, env: { ...env, ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64') } },
      ).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      );
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/--pii-policy: .*sealed with another master key/);
      expect(fs.existsSync(path.join(dir, 'refused.db'))).toBe(false);
    },
    90_000,
  );
});

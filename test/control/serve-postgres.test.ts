/**
 * `ashpipe serve --control postgres://…` keeps the vault in PostgreSQL: a credential added through the REST
 * API is verified against the sandbox and stored encrypted, so a `pg_dump` of the schema holds its
 * ciphertext but no spelling of the key, and only the master key opens it.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { Vault } from '../../src/vault/index.js';
import { assertBuilt, startServe } from '../support/built-cli.js';
import { controlDialects, newControlTarget, openTarget, removeControlTargets } from '../support/control.js';

const PASSWORD = 'serve on postgres password';
const CANARY = `canary-${randomBytes(12).toString('hex')}`;
const MASTER_KEY = randomBytes(32).toString('base64');

/** Every spelling a key can leak in: plain, hex (a BYTEA), base64, inside Basic credentials, URL-encoded. */
const spellings = (key: string) => [
  key,
  Buffer.from(key).toString('hex'),
  Buffer.from(key).toString('base64'),
  Buffer.from(`${key}:`).toString('base64'),
  encodeURIComponent(key),
];

const pg = controlDialects('serve on a PostgreSQL control store').includes('postgres');

let sandbox: Sandbox;
beforeAll(async () => {
  assertBuilt();
  sandbox = await startSandbox({
    scale: 5,
    keys: [{ key: CANARY, title: 'Canary', scopes: [...ALL_SCOPES], confidential: true }],
  });
});
afterAll(() => sandbox.close());
afterEach(() => removeControlTargets());

/** Starts `serve` on the store; resolves with its URL, its output so far and a stop function. */
async function serve(url: string, home: string) {
  return startServe(['--port', '0', '--control', url], {
    PATH: process.env.PATH,
    ASHPIPE_HOME: home,
    ASHPIPE_ADMIN_PASSWORD: PASSWORD,
    ASHPIPE_MASTER_KEY: MASTER_KEY,
    ASHBY_BASE_URL: sandbox.url,
  });
}

describe('ashpipe serve on a PostgreSQL control store', () => {
  it.runIf(pg)(
    'adds a credential through the REST API: verified, encrypted in the schema, absent from pg_dump',
    async () => {
      const target = newControlTarget('postgres');
      const server = await serve(target.url ?? '', target.home);
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
        const added = await fetch(`${server.url}/api/v1/credentials`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ name: 'canary', apiKey: CANARY }),
        });
        const body = await added.text();
        expect(added.status, body).toBe(201);
        expect(JSON.parse(body).credential).toMatchObject({ name: 'canary', status: 'verified' });
        const listed = await (await fetch(`${server.url}/api/v1/credentials`, { headers })).text();
        // GET /metrics reads the same store (this machine needs no token).
        const metrics = await fetch(`${server.url}/metrics`);
        expect(metrics.status).toBe(200);
        expect(await metrics.text()).toContain('ashpipe_flow_seconds_since_last_success');
        expect(JSON.parse(listed).credentials.map((c: { name: string }) => c.name)).toEqual(['canary']);
        for (const spelling of spellings(CANARY)) {
          expect(body).not.toContain(spelling);
          expect(listed).not.toContain(spelling);
        }
        expect(await server.stop()).toBe(0);
        stopped = true;
      } finally {
        if (!stopped) await server.stop();
      }
      for (const spelling of spellings(CANARY)) expect(server.output()).not.toContain(spelling);
      // Nothing of the vault went to a control.db in the home.
      expect(fs.existsSync(path.join(target.home, 'control.db'))).toBe(false);

      const url = new URL(target.url ?? '');
      const schema = url.searchParams.get('schema') ?? '';
      url.searchParams.delete('schema');
      const dump = execFileSync('pg_dump', ['--dbname', url.toString(), '--schema', schema], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      const control = await openTarget(target);
      try {
        const row = await control.db
          .selectFrom('credentials')
          .select(['key_ciphertext', 'key_suffix'])
          .executeTakeFirstOrThrow();
        // The dump holds the credential, as ciphertext (BYTEA in hex), and no spelling of the key.
        expect(dump).toContain(row.key_ciphertext.toString('hex'));
        expect(row.key_suffix).toBe(CANARY.slice(-4));
        for (const spelling of spellings(CANARY)) expect(dump).not.toContain(spelling);

        // Only the master key opens it.
        const open = (env: NodeJS.ProcessEnv) => new Vault(control, { home: target.home, env });
        await expect(open({}).reveal('canary', 'test')).rejects.toThrow(/master key is missing/);
        await expect(
          open({ ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64') }).reveal('canary', 'test'),
        ).rejects.toThrow(/sealed with another master key/);
        expect((await open({ ASHPIPE_MASTER_KEY: MASTER_KEY }).reveal('canary', 'test')).apiKey).toBe(CANARY);
      } finally {
        await control.close();
      }
    },
    90_000,
  );
});

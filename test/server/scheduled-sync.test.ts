import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { asJson, type Harness, harness, signedInHeaders } from './helpers.js';

// A real sync engine run by the real scheduler on a seconds schedule: the shape of `ashpipe serve` in
// production, exercised on every Node the suite runs on (the SQLite build differs between them).
const SCALE = 30;

let sandbox: Sandbox;
let h: Harness | undefined;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, scale: SCALE });
});
afterAll(async () => {
  await sandbox.close();
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function until<T>(
  what: string,
  read: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a scheduled source flow', () => {
  it('runs on its schedule run after run, and a later run picks up what changed in Ashby', async () => {
    const harnessed = await harness({ baseUrl: sandbox.url, realSource: true });
    h = harnessed;
    const headers = await signedInHeaders(harnessed);
    const call = async (method: string, p: string, body?: unknown) =>
      harnessed.request(p, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const cred = await call('POST', '/api/v1/credentials', { name: 'scheduled', apiKey: 'sandbox-full' });
    expect(cred.status).toBe(201);
    const credentialId = (await cred.json().then(asJson)).credential.id;
    const file = path.join(harnessed.home, 'data', 'scheduled.db');
    const created = await call('POST', '/api/v1/flows', {
      kind: 'source',
      name: 'Every second',
      credentialId,
      schedule: '* * * * * *',
      streams: ['candidates', 'sources'],
      target: { type: 'sqlite', path: file },
    });
    expect(created.status).toBe(201);
    const flowId = (await created.json().then(asJson)).flow.id;
    expect((await call('POST', `/api/v1/flows/${flowId}/activate`)).status).toBe(200);

    const succeeded = async () =>
      (await harnessed.deps.store.listRuns({ flowId })).filter(
        (r) => r.trigger === 'schedule' && r.status === 'succeeded',
      );
    await until('the first scheduled run', async () => ((await succeeded()).length >= 1 ? true : undefined));

    // A change in Ashby between runs reaches the table through a later scheduled run.
    const res = await fetch(`${sandbox.url}/candidate.create`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Basic ${Buffer.from('sandbox-full:').toString('base64')}`,
      },
      body: JSON.stringify({ name: 'Scheduled Newcomer', email: 'scheduled.newcomer@example.com' }),
    });
    const { results: newcomer } = (await res.json()) as { results: { id: string } };
    const before = (await succeeded()).length;
    await until('two more scheduled runs', async () =>
      (await succeeded()).length >= before + 2 ? true : undefined,
    );

    const runs = (await harnessed.deps.store.listRuns({ flowId })).filter((r) => r.trigger === 'schedule');
    expect(runs.filter((r) => r.status === 'failed')).toEqual([]);
    // sources has no sync token: the first run reads it, the next ones leave it alone for a day and say so.
    const sources = runs
      .filter((r) => r.status === 'succeeded')
      .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
      .map((r) => r.counts.find((c) => c.name === 'sources'));
    expect(sources[0]?.read).toBeGreaterThan(0);
    expect(sources.at(-1)).toMatchObject({ status: 'succeeded', read: 0 });
    expect(sources.at(-1)?.message).toMatch(/^not due: read .* ago; next read after \d{4}-/);
    const db = openSqlite(file, { readonly: true });
    try {
      const count = db
        .prepare('SELECT count(*) AS n FROM candidates WHERE _ashpipe_deleted_at IS NULL')
        .get() as {
        n: number;
      };
      // The sandbox seeds SCALE candidates; one was created above.
      expect(count.n).toBe(SCALE + 1);
      const row = db.prepare('SELECT name FROM candidates WHERE id = ?').get(newcomer.id) as { name: string };
      expect(row.name).toBe('Scheduled Newcomer');
    } finally {
      db.close();
    }
  });
});

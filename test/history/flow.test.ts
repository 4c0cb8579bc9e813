/**
 * `options.history` on a console/REST source flow: the run keeps every version in `<stream>_history` as
 * `sync --history` does; an unknown stream is refused with a 422 naming the field and the valid streams.
 */
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { asJson, type Harness, harness, signedInHeaders } from '../server/helpers.js';
import { expectedStreamRecords } from '../support/world-oracle.js';
import { readHistory, tableExists } from './support.js';

let sandbox: Sandbox;
let h: Harness | undefined;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, scale: 20, seed: 9 });
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
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function signedIn() {
  const harnessed = await harness({ baseUrl: sandbox.url, realSource: true });
  h = harnessed;
  const headers = await signedInHeaders(harnessed);
  const call = async (method: string, p: string, body?: unknown) =>
    harnessed.request(p, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const cred = await call('POST', '/api/v1/credentials', { name: 'history', apiKey: 'sandbox-full' });
  expect(cred.status).toBe(201);
  const credentialId: string = (await cred.json().then(asJson)).credential.id;
  return { harnessed, call, credentialId };
}

describe('a source flow with options.history', () => {
  it('keeps a version per application in its SQLite target', async () => {
    const { harnessed, call, credentialId } = await signedIn();
    const file = path.join(harnessed.home, 'data', 'history.db');
    const created = await call('POST', '/api/v1/flows', {
      kind: 'source',
      name: 'With history',
      credentialId,
      streams: ['applications', 'jobs'],
      target: { type: 'sqlite', path: file },
      options: { history: ['applications'] },
    });
    expect(created.status).toBe(201);
    const flow = (await created.json().then(asJson)).flow;
    expect(flow.config.options.history).toEqual(['applications']);
    const started = await call('POST', `/api/v1/flows/${flow.id}/run`);
    expect(started.status).toBe(202);
    const runId: string = (await started.json().then(asJson)).run.id;
    const run = await until('the run to end', async () => {
      const r = await harnessed.deps.store.getRun(runId);
      return r && r.status !== 'running' ? r : undefined;
    });
    expect(run.status).toBe('succeeded');
    const history = await readHistory(`sqlite:${file}`, 'applications');
    const apps = expectedStreamRecords(sandbox, 'applications');
    expect([...history.keys()].sort()).toEqual(apps.map((a) => String(a.id)).sort());
    for (const a of apps) expect(history.get(String(a.id))?.[0]?.validFrom).toBe(a.updatedAt);
    expect(await tableExists(`sqlite:${file}`, 'jobs_history')).toBe(false);
  });

  it('refuses an unknown stream or a wrong type with a 422 naming options.history', async () => {
    const { call, credentialId } = await signedIn();
    const body = (options: unknown) => ({
      kind: 'source',
      name: 'Bad history',
      credentialId,
      streams: ['applications'],
      target: { type: 'sqlite', path: 'a.db' },
      options,
    });
    const unknown = await call('POST', '/api/v1/flows', body({ history: ['aplications'] }));
    expect(unknown.status).toBe(422);
    const err = (await unknown.json().then(asJson)).error;
    expect(err.message).toMatch(/^options\.history: unknown stream for history: aplications .*valid: all, /);
    expect(err.details[0].path).toBe('options.history');
    const wrong = await call('POST', '/api/v1/flows', body({ history: 'applications' }));
    expect(wrong.status).toBe(422);
    const all = await call('POST', '/api/v1/flows', body({ history: 'all' }));
    expect(all.status).toBe(201);
  });
});

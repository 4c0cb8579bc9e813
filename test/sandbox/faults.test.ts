import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { call, code } from './helpers.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ scale: 300 });
});
beforeEach(() => sandbox.faults.reset());
afterAll(() => sandbox.close());

function post(path: string, body: unknown, key = 'sandbox-full') {
  return fetch(`${sandbox.url}/${path}`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
}

describe('fault injection', () => {
  it('rate limits with 429, Retry-After and the error envelope', async () => {
    sandbox.faults.set({ rateLimit: { rps: 0.5, burst: 2 } });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 4; i++) {
      last = await post('user.list', {});
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses[2]).toBe(429);
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await last?.json()) as { success: boolean };
    expect(body.success).toBe(false);
    expect(sandbox.stats().rateLimited).toBeGreaterThanOrEqual(2);
  });

  it('rate limits each key on its own: one key’s empty bucket does not throttle another key', async () => {
    sandbox.faults.set({ rateLimit: { rps: 0.5, burst: 2 } });
    const full: number[] = [];
    for (let i = 0; i < 3; i++) full.push((await post('user.list', {})).status);
    expect(full).toEqual([200, 200, 429]);
    const other: number[] = [];
    for (let i = 0; i < 3; i++) other.push((await post('user.list', {}, 'sandbox-read')).status);
    expect(other).toEqual([200, 200, 429]);
  });

  it('answers 5xx at errorRate 1 and recovers when reset', async () => {
    sandbox.faults.set({ errorRate: 1 });
    const r = await post('user.list', {});
    expect(r.status).toBeGreaterThanOrEqual(500);
    sandbox.faults.reset();
    expect((await post('user.list', {})).status).toBe(200);
  });

  it('truncates JSON mid-body', async () => {
    sandbox.faults.set({ truncateRate: 1 });
    const text = await (await post('candidate.list', { limit: 5 })).text();
    expect(() => JSON.parse(text)).toThrow();
  });

  it('resets the connection', async () => {
    sandbox.faults.set({ resetRate: 1 });
    await expect(post('user.list', {})).rejects.toThrow();
  });

  it('expires cursors once and after N pages; expires sync tokens once; rejects long incremental walks', async () => {
    const first = await call(sandbox, 'candidate.list', { limit: 10 });
    sandbox.faults.set({ expireCursorOnce: true });
    expect(code(await call(sandbox, 'candidate.list', { cursor: first.body.nextCursor }))).toBe(
      'next_cursor_expired',
    );
    expect((await call(sandbox, 'candidate.list', { cursor: first.body.nextCursor })).body.success).toBe(
      true,
    );

    sandbox.faults.set({ expireCursorAfterPages: 2 });
    const p2 = await call(sandbox, 'candidate.list', { cursor: first.body.nextCursor, limit: 10 });
    expect(p2.body.success).toBe(true);
    expect(code(await call(sandbox, 'candidate.list', { cursor: p2.body.nextCursor }))).toBe(
      'next_cursor_expired',
    );
    sandbox.faults.reset();

    const token = sandbox.records('candidate.list').length > 0 ? await fullToken() : '';
    sandbox.faults.set({ expireSyncTokenOnce: true });
    expect(code(await call(sandbox, 'candidate.list', { syncToken: token }))).toBe('sync_token_expired');
    expect((await call(sandbox, 'candidate.list', { syncToken: token })).body.success).toBe(true);

    sandbox.mutate.churn(0.5, 9);
    sandbox.faults.set({ incrementalTooLargeAfterPages: 1 });
    const inc1 = await call(sandbox, 'candidate.list', { syncToken: token, limit: 10 });
    expect(inc1.body.success).toBe(true);
    expect(code(await call(sandbox, 'candidate.list', { cursor: inc1.body.nextCursor }))).toBe(
      'incremental_sync_too_large',
    );
  });

  it('fails chosen endpoints a given number of times', async () => {
    sandbox.faults.set({ failEndpoints: { 'user.list': { status: 200, code: 'invalid_input', times: 1 } } });
    expect(code(await call(sandbox, 'user.list'))).toBe('invalid_input');
    expect((await call(sandbox, 'user.list')).body.success).toBe(true);
  });

  it('slows only the named endpoints, and refuses a delay that is not a number', async () => {
    sandbox.faults.set({ slowEndpoints: { 'user.list': 400 } });
    const timed = async (endpoint: string) => {
      const started = performance.now();
      expect((await call(sandbox, endpoint)).body.success).toBe(true);
      return performance.now() - started;
    };
    expect(await timed('user.list')).toBeGreaterThanOrEqual(395);
    // An unnamed endpoint answers at once: well under the named one's delay on any machine.
    expect(await timed('location.list')).toBeLessThan(395);
    const refused = await fetch(`${sandbox.url}/_sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ slowEndpoints: { 'user.list': 'slow' } }),
    });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/slowEndpoints\.user\.list/);
  });

  it('echoes the key and the Authorization header in a forced failure when asked to', async () => {
    const header = `Basic ${Buffer.from('sandbox-full:').toString('base64')}`;
    sandbox.faults.set({ failEndpoints: { 'user.list': { status: 500, echoKey: true } } });
    const echoed = (await (await post('user.list', {})).json()) as { errorInfo: { message: string } };
    expect(echoed.errorInfo.message).toBe(
      `Forced failure of user.list for key sandbox-full (authorization: ${header})`,
    );
    sandbox.faults.set({ failEndpoints: { 'user.list': { status: 500 } } });
    const plain = (await (await post('user.list', {})).json()) as { errorInfo: { message: string } };
    expect(plain.errorInfo.message).toBe('Forced failure of user.list');
    const refused = await fetch(`${sandbox.url}/_sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ failEndpoints: { 'user.list': { echoKey: 'yes' } } }),
    });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/echoKey/);
  });

  it('is driven from another process through /_sandbox/faults and /_sandbox/stats', async () => {
    const set = await fetch(`${sandbox.url}/_sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ errorRate: 1 }),
    });
    expect(set.status).toBe(200);
    expect((await post('user.list', {})).status).toBeGreaterThanOrEqual(500);
    const bad = await fetch(`${sandbox.url}/_sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ errorRate: 7 }),
    });
    expect(bad.status).toBe(400);
    await fetch(`${sandbox.url}/_sandbox/faults/reset`, { method: 'POST' });
    await fetch(`${sandbox.url}/_sandbox/reset-stats`, { method: 'POST' });
    await post('user.list', {});
    const stats = (await (await fetch(`${sandbox.url}/_sandbox/stats`)).json()) as {
      requests: Record<string, number>;
    };
    expect(stats.requests['user.list']).toBe(1);
  });

  it('draws random faults from a seed, so a run is reproducible', async () => {
    const run = async () => {
      sandbox.faults.set({ errorRate: 0.5, seed: 42 });
      const out: number[] = [];
      for (let i = 0; i < 12; i++) out.push((await post('user.list', {})).status);
      return out;
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    expect(new Set(a).size).toBeGreaterThan(1);
  });
});

async function fullToken(): Promise<string> {
  let body: Record<string, unknown> = {};
  for (;;) {
    const page = await call(sandbox, 'candidate.list', body);
    if (page.body.moreDataAvailable !== true) return String(page.body.syncToken);
    body = { cursor: page.body.nextCursor };
  }
}

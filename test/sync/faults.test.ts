import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { findStream, selectStreams } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import { expectedRecords, liveRecords, makeTarget, type TestTarget, withSink } from './helpers.js';

/** A short backoff keeps the test quick; production defaults are seconds. */
const FAST_RETRY = { limit: 10, backoffBaseMs: 5, backoffLimitMs: 50, maxRetryAfterMs: 200, jitter: true };

describe('sync under a mix of faults', () => {
  let sandbox: Sandbox;
  let t: TestTarget;
  const streams = selectStreams();

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 80, seed: 5 });
    t = await makeTarget('sqlite');
  });
  afterAll(async () => {
    await sandbox?.close();
    await t?.cleanup();
  });

  const compareAll = async () => {
    await withSink(t.target, async (sink) => {
      for (const s of streams) {
        expect(await liveRecords(sink, s.name), s.name).toEqual(expectedRecords(sandbox, s));
      }
    });
  };

  it('completes with exact tables despite 5xx, 429, truncated bodies, resets and an expired cursor and token', async () => {
    sandbox.faults.set({
      errorRate: 0.05,
      truncateRate: 0.01,
      resetRate: 0.01,
      // About 2 % of the run's requests answered 429 (the bucket alone rarely empties on a fast machine).
      rateLimit: { rps: 150, burst: 3 },
      failEndpoints: {
        'candidate.list': { status: 429, times: 2 },
        'application.list': { status: 429, times: 2 },
        'interviewStage.list': { status: 429, times: 2 },
      },
      expireCursorOnce: true,
      seed: 42,
    });
    sandbox.resetStats();
    const first = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams,
      retry: FAST_RETRY,
      pageSize: 20,
    });
    expect(first.streams.filter((s) => s.status !== 'ok').map((s) => s.error?.message)).toEqual([]);
    expect(first.totals.retries).toBeGreaterThan(0);
    // Every kind of fault really happened.
    const stats = sandbox.stats();
    expect(stats.rateLimited).toBeGreaterThan(0);
    expect(first.totals.rateLimited).toBeGreaterThan(0);
    expect(Object.keys(stats.responses).some((status) => status.startsWith('5'))).toBe(true);
    expect(first.streams.some((s) => s.reason.includes('next_cursor_expired'))).toBe(true);
    await compareAll();

    const candidates = findStream('candidates');
    if (!candidates) throw new Error('no candidates stream');
    const [one] = expectedRecords(sandbox, candidates);
    sandbox.mutate.updateCandidate(String(one?.id), { position: 'After Faults' });
    sandbox.faults.set({ expireSyncTokenOnce: true });
    const second = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: t.target,
      streams,
      retry: FAST_RETRY,
      pageSize: 20,
    });
    expect(second.streams.filter((s) => s.status !== 'ok').map((s) => s.error?.message)).toEqual([]);
    const expired = second.streams.filter((s) => s.reason.includes('sync_token_expired'));
    expect(expired).toHaveLength(1);
    expect(expired[0]?.mode).toBe('full');
    await compareAll();
  }, 120_000);
});

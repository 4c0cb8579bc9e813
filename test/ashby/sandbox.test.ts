/** The client against the Ashby-compatible sandbox: what a sync engine relies on, end to end. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AshbyClient, type AshbyClientOptions } from '../../src/ashby/client.js';
import { AshbyCursorError, AshbyPermissionError, AshbySyncTokenError } from '../../src/ashby/errors.js';
import { Limiter } from '../../src/ashby/limiter.js';
import { IMPLEMENTED_ENDPOINTS, type Sandbox, startSandbox } from '../../src/sandbox/index.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({
    scale: 450,
    keys: [{ key: 'sandbox-jobs-only', scopes: ['jobsRead'], confidential: false }],
  });
});
afterAll(async () => {
  await sandbox.close();
});
beforeEach(() => {
  sandbox.faults.reset();
  sandbox.resetStats();
});

function client(apiKey = 'sandbox-full', options: Partial<AshbyClientOptions> = {}) {
  return new AshbyClient({
    apiKey,
    baseUrl: sandbox.url,
    limiter: new Limiter(),
    retry: { sleep: async () => {} },
    ...options,
  });
}

async function collect<T>(iterator: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterator) out.push(x);
  return out;
}

describe('against the sandbox', () => {
  it('reads every candidate across pages, in order, and gets the syncToken on the last page', async () => {
    const pages = await collect(client().pages<{ id: string }>('candidate.list'));
    expect(pages.length).toBe(5);
    expect(pages.slice(0, -1).every((p) => p.syncToken === undefined && p.moreDataAvailable)).toBe(true);
    const last = pages.at(-1);
    expect(last?.moreDataAvailable).toBe(false);
    expect(typeof last?.syncToken).toBe('string');
    const ids = pages.flatMap((p) => p.results.map((r) => r.id));
    const expected = (sandbox.records('candidate.list') as Array<{ id: string }>).map((r) => r.id);
    expect(ids).toEqual(expected);
  });

  it('an incremental pass with the syncToken returns exactly the records changed since', async () => {
    const c = client();
    const pages = await collect(c.pages<{ id: string }>('candidate.list'));
    const token = pages.at(-1)?.syncToken;
    const someone = pages[1]?.results[3]?.id;
    expect(token).toBeDefined();
    expect(someone).toBeDefined();
    sandbox.mutate.updateCandidate(someone ?? '', { position: 'Staff Engineer' });
    const changed = await collect(
      c.items<{ id: string; position?: string }>('candidate.list', {}, { syncToken: token ?? '' }),
    );
    expect(changed.map((r) => r.id)).toEqual([someone]);
    expect(changed[0]?.position).toBe('Staff Engineer');
  });

  it('a key without the module permission gets a permission error naming the module', async () => {
    const error = await client('sandbox-jobs-only')
      .call('candidate.list')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AshbyPermissionError);
    expect((error as AshbyPermissionError).module).toBe('Candidates');
    expect((error as AshbyPermissionError).message).toContain('needs Candidates: Read (candidatesRead)');
  });

  it.skipIf(!IMPLEMENTED_ENDPOINTS.includes('candidate.create'))(
    'the read-only key on a write endpoint gets a permission error naming the module',
    async () => {
      const error = await client('sandbox-read')
        .call('candidate.create', { name: 'Ada Lovelace' })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AshbyPermissionError);
      expect((error as AshbyPermissionError).label).toBe('needs Candidates: Write (candidatesWrite)');
      expect(sandbox.stats().writes['candidate.create'] ?? 0).toBe(0);
    },
  );

  it('an expired cursor and an expired syncToken surface as their own error types', async () => {
    sandbox.faults.set({ expireCursorOnce: true });
    await expect(collect(client().pages('candidate.list'))).rejects.toBeInstanceOf(AshbyCursorError);
    sandbox.faults.set({ expireSyncTokenOnce: true });
    const token = (await collect(client().pages('candidate.list'))).at(-1)?.syncToken ?? '';
    sandbox.faults.set({ expireSyncTokenOnce: true });
    await expect(collect(client().pages('candidate.list', {}, { syncToken: token }))).rejects.toBeInstanceOf(
      AshbySyncTokenError,
    );
  });

  it('rides out injected 5xx, HTML pages, truncated bodies and resets on reads', async () => {
    sandbox.faults.set({ errorRate: 0.2, truncateRate: 0.1, resetRate: 0.1, seed: 7 });
    const c = client('sandbox-full', { retry: { limit: 10, sleep: async () => {} } });
    const items = await collect(c.items<{ id: string }>('candidate.list'));
    sandbox.faults.reset();
    expect(items.map((r) => r.id)).toEqual(
      (sandbox.records('candidate.list') as Array<{ id: string }>).map((r) => r.id),
    );
    const stats = sandbox.stats();
    expect(stats.requests['candidate.list']).toBeGreaterThan(5);
  });

  it('slows down on 429 and honours Retry-After', async () => {
    sandbox.faults.set({ rateLimit: { rps: 5, burst: 2 } });
    const limiter = new Limiter({ maxConcurrent: 2 });
    const retryDelays: number[] = [];
    // Real sleeps: the sandbox's token bucket refills in real time.
    const c = client('sandbox-full', {
      limiter,
      retry: {},
      onEvent: (e) => {
        if (e.type === 'retry') retryDelays.push(e.delayMs);
      },
    });
    const results = await Promise.all([1, 2, 3, 4].map(() => c.call('department.list')));
    expect(results).toHaveLength(4);
    const limited = sandbox.stats().rateLimited;
    expect(limited).toBeGreaterThan(0);
    expect(limiter.stats().rateLimited).toBe(limited);
    expect(retryDelays).toHaveLength(limited);
    expect(retryDelays.every((d) => d === 1000)).toBe(true);
    expect(limiter.stats().learnedRequestsPerSecond).toBeDefined();
  });

  it("at the sandbox's token-bucket limit, a busy key learns the rate and sees few 429s", async () => {
    const rps = 40;
    sandbox.faults.set({ rateLimit: { rps, burst: 5 } });
    const limiter = new Limiter({ maxConcurrent: 4 });
    // Real sleeps: the bucket refills in real time.
    const c = client('sandbox-full', { limiter, retry: {} });
    let left = 250;
    const worker = async () => {
      while (left-- > 0) await c.call('department.list');
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const stats = sandbox.stats();
    const served = stats.requests['department.list'] ?? 0;
    expect(served - stats.rateLimited).toBe(250);
    // Without a learned rate, every drained bucket costs one 429 per parallel request; with it, the
    // 429s are the start-up burst plus about one per congestion event.
    expect(stats.rateLimited / served).toBeLessThanOrEqual(0.04);
    const learned = limiter.stats().learnedRequestsPerSecond ?? 0;
    expect(learned).toBeGreaterThan(rps / 3);
    expect(learned).toBeLessThan(rps * 2);
  }, 60_000);
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Limiter } from '../../src/ashby/limiter.js';
import { BUDGET_TABLE, ensureBudgetTable, fleetKeyId, PostgresRateBudget } from '../../src/fleet/budget.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { testPostgresUrl, testSchemaName } from '../support/postgres.js';
import { runSyncFleet } from './fleet-run.js';

const POSTGRES_URL = testPostgresUrl('the fleet rate budget tests');
const API_KEY = 'sandbox-full';
const SECRET = 'fleet-test-secret';

describe.skipIf(!POSTGRES_URL)('one rate budget per API key, shared through PostgreSQL', () => {
  const schema = testSchemaName();
  let admin: pg.Pool;
  let dir: string;

  beforeAll(async () => {
    admin = new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
    await admin.query(`CREATE SCHEMA ${schema}`);
    await ensureBudgetTable(admin, schema);
    // Several workers starting at once all create the table safely.
    await Promise.all([ensureBudgetTable(admin, schema), ensureBudgetTable(admin, schema)]);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-fleet-'));
  });
  afterAll(async () => {
    await admin?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin?.end();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Two "processes": separate pools and limiters, one key. */
  async function twoLimiters(keyId: string, requestsPerSecond?: number) {
    const pools = [
      new pg.Pool({ connectionString: POSTGRES_URL, max: 2 }),
      new pg.Pool({ connectionString: POSTGRES_URL, max: 2 }),
    ];
    const limiters = pools.map(
      (pool) =>
        new Limiter({
          maxConcurrent: 4,
          ...(requestsPerSecond !== undefined ? { requestsPerSecond } : {}),
          shared: new PostgresRateBudget({ pool, schema, keyId }),
        }),
    );
    return { limiters: limiters as [Limiter, Limiter], close: () => Promise.all(pools.map((p) => p.end())) };
  }

  it('paces the request starts of two processes as one: never faster than the key’s rate together', async () => {
    const { limiters, close } = await twoLimiters('pace-test', 20);
    try {
      // One start each first, untimed: a pool's first query opens its connection, which would delay the
      // first measured start and shorten the span by that much (a CI run measured 929.6 ms).
      await Promise.all(limiters.map((l) => l.run(async () => {})));
      const starts: number[] = [];
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (limiters[i % 2] as Limiter).run(async () => {
            starts.push(performance.now());
          }),
        ),
      );
      starts.sort((a, b) => a - b);
      const span = (starts.at(-1) as number) - (starts[0] as number);
      // 20 starts at 20 per second: 19 intervals of 50 ms (timer granularity allows a few ms less).
      expect(span).toBeGreaterThanOrEqual(19 * 50 - 20);
      for (const l of limiters) expect(l.stats().sharedBudgetFailures).toBe(0);
    } finally {
      await close();
    }
  });

  it('a 429 seen by one process pauses the other and the rate learned is the same for both', async () => {
    const { limiters, close } = await twoLimiters('pause-test');
    const [a, b] = limiters;
    try {
      // Enough starts for the 429 to teach a rate.
      const tickets: number[] = [];
      for (let i = 0; i < 8; i++) {
        const release = await a.acquire();
        tickets.push(release.ticket);
        release();
      }
      const release = await a.acquire();
      a.onRateLimited({ retryAfterMs: 1_000, ticket: release.ticket });
      release();
      // The report is asynchronous: wait until the row shows it.
      const budget = new PostgresRateBudget({ pool: admin, schema, keyId: 'pause-test' });
      for (let i = 0; i < 50 && (await budget.snapshot()).rateLimited === 0; i++)
        await new Promise((r) => setTimeout(r, 20));
      const snapshot = await budget.snapshot();
      expect(snapshot.rateLimited).toBe(1);
      expect(snapshot.learnedRps).toBeGreaterThan(0);
      const asked = performance.now();
      const other = await b.acquire();
      other();
      const waited = performance.now() - asked;
      expect(waited).toBeGreaterThanOrEqual(700);
      expect(waited).toBeLessThan(2_000);
      expect(b.stats().learnedRequestsPerSecond).toBeCloseTo(snapshot.learnedRps as number, 5);
    } finally {
      await close();
    }
  });

  it('keeps the key out of the database: the row is named by a keyed hash', async () => {
    const keyId = fleetKeyId(API_KEY, SECRET);
    expect(keyId).not.toContain(API_KEY);
    expect(fleetKeyId(API_KEY, 'another secret')).not.toBe(keyId);
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    try {
      const limiter = new Limiter({ shared: new PostgresRateBudget({ pool, schema, keyId }) });
      await limiter.run(async () => undefined);
      const { rows } = await admin.query(`SELECT * FROM ${schema}.${BUDGET_TABLE}`);
      expect(rows.map((r) => r.key_id)).toContain(keyId);
      expect(JSON.stringify(rows)).not.toContain(API_KEY);
    } finally {
      await pool.end();
    }
  });

  it('an unreachable budget does not stop requests: the process paces alone and counts the failures', async () => {
    const pool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', max: 1 });
    pool.on('error', () => undefined);
    try {
      const limiter = new Limiter({
        requestsPerSecond: 20,
        shared: new PostgresRateBudget({ pool, schema, keyId: 'down' }),
      });
      const started = performance.now();
      for (let i = 0; i < 5; i++) await limiter.run(async () => undefined);
      expect(limiter.stats().sharedBudgetFailures).toBe(5);
      // Still paced at its own cap: 4 intervals of 50 ms.
      expect(performance.now() - started).toBeGreaterThanOrEqual(4 * 50 - 20);
    } finally {
      await pool.end();
    }
  });

  describe('4 processes syncing with one key against a sandbox limited to 20 requests/s per key', () => {
    let sandbox: Sandbox;
    // The limit sets how long the runs take (their requests are the same at any rate): 20 per second keeps
    // them short, and four processes on two cores still keep up with it.
    const RATE = 20;
    beforeAll(async () => {
      sandbox = await startSandbox({
        scale: 1_000,
        seed: 3,
        faults: { rateLimit: { rps: RATE, burst: RATE } },
      });
    });
    afterAll(async () => {
      await sandbox?.close();
    });

    /** Syncs every stream, or only `streams` (fewer requests, a shorter run). */
    async function fleetRun(budget: boolean, streams?: string[]) {
      sandbox.faults.set({ rateLimit: { rps: RATE, burst: RATE } });
      sandbox.resetStats();
      const results = await runSyncFleet(
        [0, 1, 2, 3].map((i) => ({
          url: sandbox.url,
          apiKey: API_KEY,
          target: `sqlite:${path.join(dir, `${budget ? 'shared' : 'alone'}-${i}.db`)}`,
          postgresUrl: POSTGRES_URL,
          schema,
          secret: `${SECRET}-${budget}`,
          budget,
          requestsPerSecond: RATE,
          pageSize: 50,
          // Pages of one stream follow each other; several streams and slots keep the key busy.
          maxConcurrent: 4,
          ...(streams ? { streams } : {}),
        })),
      );
      const stats = sandbox.stats();
      const total = Object.values(stats.requests).reduce((a, b) => a + b, 0);
      const successes = total - stats.rateLimited;
      // The rate is measured while all four run (the last to start its first request to the first to end).
      const from = Math.max(...results.map((r) => r.firstRequestAt));
      const to = Math.min(...results.map((r) => r.lastResponseAt));
      const inWindow = results.flatMap((r) => r.successAt).filter((t) => t > from && t <= to).length;
      // The full bucket lets RATE requests through at once; they are no measure of the sustained rate.
      const shareOfLimit = (inWindow - RATE) / ((to - from) / 1000) / RATE;
      return {
        results,
        total,
        successes,
        rateLimited: stats.rateLimited,
        share429: stats.rateLimited / total,
        shareOfLimit,
        windowS: (to - from) / 1000,
      };
    }

    it('together they keep ≥ 90 % of the limit with ≤ 1 % answered 429; without the budget, a 429 storm', async () => {
      // Every stream: ~450 requests, so that "≤ 1 % answered 429" allows at most 4 and means something.
      const shared = await fleetRun(true);
      console.log(
        `shared budget: ${shared.total} requests, ${shared.rateLimited} answered 429 (${(shared.share429 * 100).toFixed(2)} %), ${(shared.shareOfLimit * 100).toFixed(1)} % of the limit over the ${shared.windowS.toFixed(1)} s all four ran`,
      );
      for (const r of shared.results) {
        expect(r.exitCode).toBe(0);
        expect(r.sharedBudgetFailures).toBe(0);
      }
      // Enough requests for 1 % of them to be a handful.
      expect(shared.total).toBeGreaterThanOrEqual(400);
      expect(shared.shareOfLimit).toBeGreaterThanOrEqual(0.9);
      expect(shared.share429).toBeLessThanOrEqual(0.01);

      // Two streams (~190 requests of the four, ~10 s): a storm shows at once, with no budget to stop it.
      const alone = await fleetRun(false, ['candidates', 'applications']);
      console.log(
        `each process alone: ${alone.total} requests, ${alone.rateLimited} answered 429 (${(alone.share429 * 100).toFixed(2)} %), ${(alone.shareOfLimit * 100).toFixed(1)} % of the limit`,
      );
      for (const r of alone.results) expect(r.exitCode).toBe(0);
      expect(alone.total).toBeGreaterThanOrEqual(150);
      // Each process learns its own rate from its own 429s: more than the 1 % the fleet budget keeps to.
      expect(alone.share429).toBeGreaterThan(0.01);
    }, 180_000);
  });
});

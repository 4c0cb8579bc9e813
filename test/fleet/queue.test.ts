import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type RunJob, RunQueue } from '../../src/fleet/queue.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { findStream } from '../../src/streams/index.js';
import { registerSecret } from '../../src/util/redact.js';
import { assertBuilt } from '../support/built-cli.js';
import { testPostgresUrl, testSchemaName } from '../support/postgres.js';
import { expectedRecords, liveRecords, withSink } from '../sync/helpers.js';

const POSTGRES_URL = testPostgresUrl('the fleet queue tests');
const ROOT = path.resolve(import.meta.dirname, '../..');
const KEY_ID = 'acct-1';
const PAGE_SIZE = 25;
/**
 * The test's lease settings: a dead worker's job is back after LEASE + MAINTENANCE seconds at most. Short,
 * so a kill test waits seconds, yet eight heartbeats (HEARTBEAT) fit in a lease on a busy machine.
 */
const LEASE = 4;
const HEARTBEAT = 0.5;
const MAINTENANCE = 1;
/**
 * The workers' request rate per key: a run of ~28 pages takes about two seconds, long enough to be caught
 * midway (the test sees a page within 0.1 s).
 */
const WORKER_RPS = 16;
/** The sandbox's limit per key in the fleet case, above WORKER_RPS as Ashby's is above a budget's pace. */
const SANDBOX_RPS = 20;

interface Event {
  event: string;
  flowId?: string;
  jobId?: string;
  worker: string;
  attempt?: number;
  at: number;
  pages?: number;
  requests?: number;
  exitCode?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!POSTGRES_URL)('the run queue on pg-boss (real PostgreSQL, real worker processes)', () => {
  const schema = testSchemaName();
  let sandbox: Sandbox;
  let dir: string;
  let queue: RunQueue;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    // The worker processes run the built code.
    assertBuilt();
    sandbox = await startSandbox({
      scale: 300,
      seed: 11,
      keys: ['acct-2', 'acct-3'].map((key) => ({
        key: `sandbox-${key}`,
        scopes: ALL_SCOPES,
        confidential: true,
      })),
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-queue-'));
    queue = await RunQueue.open({
      connectionString: POSTGRES_URL as string,
      schema,
      maintenanceSeconds: MAINTENANCE,
    });
  });
  afterEach(() => {
    // A worker a failed test left running would take the next test's runs.
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await queue?.close();
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
    await sandbox?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const eventsFile = () => path.join(dir, 'events.jsonl');
  const events = (): Event[] =>
    fs.existsSync(eventsFile())
      ? fs
          .readFileSync(eventsFile(), 'utf8')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Event)
      : [];
  async function waitFor<T>(what: string, find: () => T | undefined, timeoutMs: number): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > until)
        throw new Error(
          `timed out waiting for ${what}: ${events()
            .filter((e) => e.event !== 'page')
            .map(
              (e) =>
                `${e.event} ${e.flowId ?? ''} ${e.worker} #${e.attempt ?? ''} ${(e as { error?: string }).error ?? ''}`,
            )
            .join('; ')}`,
        );
      await sleep(100);
    }
  }

  function startWorker(name: string, extra: Record<string, unknown> = {}): ChildProcess {
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'test/fleet/worker-child.mjs'),
        JSON.stringify({
          postgresUrl: POSTGRES_URL,
          schema,
          name,
          leaseSeconds: LEASE,
          heartbeatSeconds: HEARTBEAT,
          pollSeconds: 0.5,
          maintenanceSeconds: MAINTENANCE,
          sandboxUrl: sandbox.url,
          dir,
          eventsFile: eventsFile(),
          // Slow enough to be caught in the middle of a run.
          requestsPerSecond: WORKER_RPS,
          pageSize: PAGE_SIZE,
          ...extra,
        }),
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'inherit'],
        env: {
          ...process.env,
          ASHPIPE_FLEET_KEYS: JSON.stringify({
            [KEY_ID]: 'sandbox-full',
            'acct-2': 'sandbox-acct-2',
            'acct-3': 'sandbox-acct-3',
          }),
        },
      },
    );
    children.push(child);
    return child;
  }
  const exited = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });

  async function expectExactTables(flowId: string) {
    await withSink(`sqlite:${path.join(dir, `${flowId}.db`)}`, async (sink) => {
      for (const name of ['candidates', 'applications']) {
        const stream = findStream(name);
        if (!stream) throw new Error(name);
        expect(await liveRecords(sink, name), name).toEqual(expectedRecords(sandbox, stream));
      }
    });
  }

  it('queues at most one run per flow: concurrent requests and requests while it runs get the same job', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        queue.enqueue({ flowId: 'one-flow', keyId: 'acct-once', trigger: 'manual' }),
      ),
    );
    expect(results.filter((r) => r.queued)).toHaveLength(1);
    expect(new Set(results.map((r) => r.jobId)).size).toBe(1);
    const jobId = results[0]?.jobId as string;

    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const taken: RunJob[] = [];
    const worker = queue.worker({
      name: 'in-process',
      concurrency: 2,
      pollSeconds: 0.2,
      execute: async (job) => {
        taken.push(job);
        await gate;
        return { exitCode: 0 };
      },
    });
    try {
      await waitFor('the run to start', () => (taken.length > 0 ? true : undefined), 10_000);
      expect((await queue.state('acct-once', jobId))?.state).toBe('active');
      // While it runs, "run now" finds the running job instead of queueing a second writer.
      expect(await queue.enqueue({ flowId: 'one-flow', keyId: 'acct-once', trigger: 'manual' })).toEqual({
        jobId,
        queued: false,
      });
      release();
      await waitFor(
        'the run to complete',
        () => (worker.active === 0 && taken.length === 1 ? true : undefined),
        10_000,
      );
      expect((await queue.state('acct-once', jobId))?.state).toBe('completed');
      // Once it has ended, the flow can run again.
      const next = await queue.enqueue({ flowId: 'one-flow', keyId: 'acct-once', trigger: 'schedule' });
      expect(next.queued).toBe(true);
      expect(next.jobId).not.toBe(jobId);
      await waitFor('the second run', () => (taken.length === 2 ? true : undefined), 10_000);
    } finally {
      release();
      await worker.stop();
    }
    expect(taken.map((j) => j.flowId)).toEqual(['one-flow', 'one-flow']);
  });

  it('serves the keys in turn: one account with six flows queued first does not starve another’s one', async () => {
    for (let i = 1; i <= 6; i++)
      await queue.enqueue({ flowId: `big-${i}`, keyId: 'acct-big', trigger: 'schedule' });
    await queue.enqueue({ flowId: 'small-1', keyId: 'acct-small', trigger: 'schedule' });
    const order: string[] = [];
    const worker = queue.worker({
      name: 'fair',
      concurrency: 1,
      pollSeconds: 0.2,
      execute: async (job) => {
        order.push(job.flowId);
        return { exitCode: 0 };
      },
    });
    try {
      await waitFor('all seven runs', () => (order.length === 7 ? true : undefined), 30_000);
    } finally {
      await worker.stop();
    }
    // The small account's run is among the first two, not the seventh.
    expect(order.slice(0, 2)).toContain('small-1');
    expect(order.filter((f) => f.startsWith('big-')).sort()).toEqual(
      ['big-1', 'big-2', 'big-3', 'big-4', 'big-5', 'big-6'].sort(),
    );
  });

  it('a run that throws ends once with exit code 1, its error recorded without the key, and is not retried', async () => {
    const secret = 'sk-live-fleet-secret-123';
    registerSecret(secret);
    const { jobId } = await queue.enqueue({ flowId: 'throws', keyId: 'acct-throws', trigger: 'manual' });
    let calls = 0;
    const worker = queue.worker({
      name: 'thrower',
      concurrency: 1,
      pollSeconds: 0.2,
      execute: async () => {
        calls++;
        throw new Error(`upstream said: bad key ${secret}`);
      },
    });
    try {
      await waitFor('the run to end', () => (calls > 0 && worker.active === 0 ? true : undefined), 10_000);
      await sleep(1_000);
    } finally {
      await worker.stop();
    }
    expect(calls).toBe(1);
    const state = await queue.state('acct-throws', jobId);
    expect(state?.state).toBe('completed');
    expect(state?.output).toMatchObject({ exitCode: 1 });
    expect(JSON.stringify(state?.output)).not.toContain(secret);
  });

  it('a worker killed with -9 in the middle of a run: another worker resumes and completes it, tables exact', async () => {
    // Two workers ready before the run is queued, as in a fleet; whichever takes it is killed.
    const workers = { w1: startWorker('w1'), w2: startWorker('w2') };
    for (const name of ['w1', 'w2'])
      await waitFor(
        `${name} ready`,
        () => events().find((e) => e.event === 'ready' && e.worker === name),
        60_000,
      );
    const { jobId } = await queue.enqueue({ flowId: 'killed', keyId: KEY_ID, trigger: 'manual' });
    const caught = await waitFor(
      'a worker in the middle of the run',
      () => events().find((e) => e.event === 'page' && e.flowId === 'killed' && (e.pages ?? 0) >= 2),
      60_000,
    );
    const victim = caught.worker as 'w1' | 'w2';
    const survivor = victim === 'w1' ? 'w2' : 'w1';
    workers[victim].kill('SIGKILL');
    const killedAt = Date.now();
    await exited(workers[victim]);
    const done = await waitFor(
      `${survivor} to finish the run`,
      () => events().find((e) => e.event === 'finished' && e.worker === survivor && e.flowId === 'killed'),
      120_000,
    );
    expect(events().some((e) => e.event === 'finished' && e.worker === victim)).toBe(false);
    const resumedIn = (done.at - killedAt) / 1000;
    const survivorRun = events().find(
      (e) => e.event === 'run-ended' && e.worker === survivor && e.flowId === 'killed',
    );
    const victimPages = Math.max(
      ...events()
        .filter((e) => e.event === 'page' && e.worker === victim)
        .map((e) => e.pages ?? 0),
    );
    console.log(
      `killed worker's run completed by ${survivor} ${resumedIn.toFixed(1)} s after kill -9 (lease ${LEASE} s, maintenance ${MAINTENANCE} s); ${victim} wrote ${victimPages} pages, ${survivor} ${survivorRun?.pages}`,
    );
    expect(resumedIn).toBeLessThan(120);
    expect(survivorRun?.exitCode).toBe(0);
    expect(done.attempt).toBe(2);
    const state = await queue.state(KEY_ID, jobId);
    expect(state?.state).toBe('completed');
    expect((state?.output as { worker?: string } | undefined)?.worker).toBe(survivor);
    // Resumed, not restarted: the survivor did not read every page again.
    const fullPages = ['candidates', 'applications']
      .map((n) =>
        Math.ceil(
          expectedRecords(sandbox, findStream(n) as NonNullable<ReturnType<typeof findStream>>).length /
            PAGE_SIZE,
        ),
      )
      .reduce((a, b) => a + b, 0);
    expect(survivorRun?.pages).toBeLessThan(fullPages);
    await expectExactTables('killed');
    workers[survivor].kill('SIGTERM');
    expect(await exited(workers[survivor])).toBe(0);
  }, 240_000);

  it('SIGTERM drains: the running run finishes, no new run is taken, the worker exits 0', async () => {
    const worker = startWorker('w3', { drainSeconds: 120 });
    await waitFor('w3 ready', () => events().find((e) => e.event === 'ready' && e.worker === 'w3'), 30_000);
    await queue.enqueue({ flowId: 'drained', keyId: KEY_ID, trigger: 'manual' });
    await waitFor(
      'w3 in the middle of the run',
      () =>
        events().find(
          (e) => e.event === 'page' && e.worker === 'w3' && e.flowId === 'drained' && (e.pages ?? 0) >= 2,
        ),
      60_000,
    );
    const waiting = await queue.enqueue({ flowId: 'waiting', keyId: KEY_ID, trigger: 'manual' });
    worker.kill('SIGTERM');
    expect(await exited(worker)).toBe(0);
    const mine = events().filter((e) => e.worker === 'w3');
    expect(mine.find((e) => e.event === 'run-ended' && e.flowId === 'drained')?.exitCode).toBe(0);
    expect(mine.some((e) => e.event === 'finished' && e.flowId === 'drained')).toBe(true);
    expect(mine.some((e) => e.event === 'taken' && e.flowId === 'waiting')).toBe(false);
    expect(mine.at(-1)?.event).toBe('exited');
    expect((await queue.state(KEY_ID, waiting.jobId))?.state).toBe('created');
    await expectExactTables('drained');
  }, 180_000);

  it('SIGTERM past the drain time: the run stops at a checkpoint and goes back to the queue', async () => {
    const worker = startWorker('w4', { drainSeconds: 0 });
    // 'waiting' from the test before is the job it takes.
    await waitFor(
      'w4 in the middle of the run',
      () =>
        events().find(
          (e) => e.event === 'page' && e.worker === 'w4' && e.flowId === 'waiting' && (e.pages ?? 0) >= 2,
        ),
      60_000,
    );
    const jobId = events().find((e) => e.event === 'taken' && e.worker === 'w4')?.jobId as string;
    worker.kill('SIGTERM');
    expect(await exited(worker)).toBe(0);
    expect(events().some((e) => e.event === 'released' && e.worker === 'w4')).toBe(true);
    expect((await queue.state(KEY_ID, jobId))?.state).toBe('retry');
    // Another worker picks it up at once and ends it.
    const next = startWorker('w5');
    await waitFor(
      'w5 to finish it',
      () => events().find((e) => e.event === 'finished' && e.worker === 'w5' && e.flowId === 'waiting'),
      60_000,
    );
    await expectExactTables('waiting');
    next.kill('SIGTERM');
    expect(await exited(next)).toBe(0);
  }, 180_000);
  it('3 workers, 6 flows on 3 keys with shared budgets; one worker killed with -9: every run completes once, tables exact', async () => {
    // The sandbox limits each key to SANDBOX_RPS; each key's budget paces its flows at WORKER_RPS together.
    sandbox.faults.set({ rateLimit: { rps: SANDBOX_RPS, burst: SANDBOX_RPS } });
    sandbox.resetStats();
    const names = ['f1', 'f2', 'f3'];
    const workers = names.map((name) => startWorker(name, { concurrency: 2, budget: true }));
    try {
      for (const name of names)
        await waitFor(
          `${name} ready`,
          () => events().find((e) => e.event === 'ready' && e.worker === name),
          60_000,
        );
      const flows = ['a', 'b', 'c', 'd', 'e', 'f'].map((f, i) => ({
        flowId: `fleet-${f}`,
        keyId: [KEY_ID, 'acct-2', 'acct-3'][i % 3] as string,
      }));
      for (const f of flows) await queue.enqueue({ ...f, trigger: 'schedule' });
      // Kill the first worker that is in the middle of a run.
      const victim = await waitFor(
        'a worker in the middle of a run',
        () =>
          events().find((e) => e.event === 'page' && e.flowId?.startsWith('fleet-') && (e.pages ?? 0) >= 2),
        60_000,
      );
      const index = names.indexOf(victim.worker);
      workers[index]?.kill('SIGKILL');
      await exited(workers[index] as ChildProcess);
      await waitFor(
        'every run finished',
        () => {
          const finished = events().filter((e) => e.event === 'finished' && e.flowId?.startsWith('fleet-'));
          return finished.length >= flows.length ? finished : undefined;
        },
        180_000,
      );
      const finished = events().filter((e) => e.event === 'finished' && e.flowId?.startsWith('fleet-'));
      // Each flow ran to its end exactly once; none of them on the killed worker after its death.
      expect(finished.map((e) => e.flowId).sort()).toEqual(flows.map((f) => f.flowId).sort());
      expect(finished.filter((e) => e.worker === victim.worker && e.at > Date.now())).toEqual([]);
      for (const f of flows) await expectExactTables(f.flowId);
      const stats = sandbox.stats();
      const total = Object.values(stats.requests).reduce((a, b) => a + b, 0);
      console.log(`fleet of 3 workers: ${total} requests, ${stats.rateLimited} answered 429`);
      expect(stats.rateLimited / total).toBeLessThanOrEqual(0.01);
    } finally {
      sandbox.faults.set({ rateLimit: null });
      for (const [i, w] of workers.entries()) {
        if (w.exitCode === null && w.signalCode === null) {
          w.kill('SIGTERM');
          expect(await exited(w), names[i]).toBe(0);
        }
      }
    }
  }, 300_000);
});

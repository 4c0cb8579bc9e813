/**
 * The server on a PostgreSQL control store queues runs for the fleet's workers: "run now" (REST) and the
 * scheduler answer a `queued` run, a flow is never queued twice, a worker in this process runs it with the
 * server's sync engine into a target equal to the sandbox's world, and runs whose job ended without them
 * are closed. The engines are real; the credentials are a stand-in that hands out a sandbox key (the
 * worker processes of `test/e2e/fleet-workers.test.ts` read theirs from the vault).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { sourceEngine } from '../../src/server/engines.js';
import { reconcileRuns, startFlowWorker } from '../../src/server/fleet.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import type { Flow, Run } from '../../src/server/model.js';
import type { CredentialService, ServerServices } from '../../src/server/services.js';
import { findStream } from '../../src/streams/index.js';
import { Logger } from '../../src/util/logger.js';
import { registerSecret } from '../../src/util/redact.js';
import type { CredentialInfo } from '../../src/vault/types.js';
import { newControlTarget, removeControlTargets, TEST_FLEET_TIMINGS } from '../support/control.js';
import { testPostgresUrl } from '../support/postgres.js';
import { expectedRecords, liveRecords, withSink } from '../sync/helpers.js';

const POSTGRES_URL = testPostgresUrl('the server on the fleet queue');
const TIMINGS = TEST_FLEET_TIMINGS;
const API_KEY = 'sandbox-fleet-queue-key';

/** Credentials as the server sees them: one sandbox key per credential id, never stored. */
function fakeServices(baseUrl: string): ServerServices {
  const info = (id: string): CredentialInfo =>
    ({ id, name: `cred ${id}`, baseUrl, createdAt: '', updatedAt: '' }) as unknown as CredentialInfo;
  const credentials: Partial<CredentialService> = {
    defaultBaseUrl: baseUrl,
    list: async () => [],
    get: async (id) => info(id),
    access: async (id) => ({ apiKey: API_KEY, baseUrl, credential: info(id) }),
  };
  return {
    credentials: credentials as CredentialService,
    streams: () => [],
    operations: () => [],
    engines: {
      source: sourceEngine(),
      destination: async () => {
        throw new Error('no destination flows here');
      },
    },
    sample: async () => [],
    datasets: { tables: async () => [], preview: async () => ({}) as never },
  };
}

describe.skipIf(!POSTGRES_URL)('the server on a PostgreSQL control store queues runs for workers', () => {
  let sandbox: Sandbox;
  let server: RunningServer;
  let dataDir: string;
  let token: string;
  let schema: string;

  beforeAll(async () => {
    registerSecret(API_KEY);
    sandbox = await startSandbox({
      scale: 60,
      seed: 5,
      keys: [{ key: API_KEY, scopes: ALL_SCOPES, confidential: true }],
    });
    const target = newControlTarget('postgres');
    schema = new URL(target.url as string).searchParams.get('schema') as string;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-fleet-queue-'));
    server = await startServer({
      home: target.home,
      controlUrl: target.url as string,
      env: {},
      port: 0,
      metrics: 'loopback',
      worker: false,
      fleetTimings: TIMINGS,
      dataDirs: [dataDir],
      services: () => fakeServices(sandbox.url),
      logger: new Logger({ level: 'error' }),
    });
    token = (await server.deps.store.createApiToken('test')).token;
  });

  afterAll(async () => {
    await server?.close();
    await sandbox?.close();
    if (POSTGRES_URL && schema) {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}_queue" CASCADE`);
      await admin.end();
    }
    await removeControlTargets();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const api = (method: string, url: string) =>
    server.app.request(`/api/v1${url}`, { method, headers: { authorization: `Bearer ${token}` } });

  /** A worker in this process on the server's queue, with the test's short timings. */
  function testWorker(name: string, extra: { drainSeconds?: number } = {}) {
    const fleet = server.fleet!.fleet;
    return startFlowWorker(
      fleet.queue,
      {
        store: server.deps.store,
        services: server.deps.services,
        logger: server.deps.logger,
        paths: server.deps.paths,
      },
      {
        name,
        concurrency: 1,
        leaseSeconds: TIMINGS.leaseSeconds,
        heartbeatSeconds: TIMINGS.heartbeatSeconds,
        pollSeconds: TIMINGS.pollSeconds,
        budgetPool: fleet.budgetPool,
        budgetSchema: schema,
        ...extra,
      },
    );
  }

  async function sourceFlow(name: string): Promise<Flow> {
    return server.deps.store.createFlow({
      kind: 'source',
      name,
      credentialId: `cred_${name}`,
      streams: ['candidates', 'applications'],
      target: { type: 'sqlite', path: path.join(dataDir, `${name}.db`) },
      options: {},
    });
  }

  it('"run now" answers a queued run once; a worker of the fleet runs it into exact tables', async () => {
    const flow = await sourceFlow('alpha');
    const first = await api('POST', `/flows/${flow.id}/run`);
    expect(first.status).toBe(202);
    const queued = ((await first.json()) as { run: Run }).run;
    expect(queued).toMatchObject({ flowId: flow.id, status: 'queued', worker: null, trigger: 'manual' });
    expect(((await (await api('GET', `/runs/${queued.id}`)).json()) as { run: Run }).run.status).toBe(
      'queued',
    );
    const listed = (await (await api('GET', `/flows/${flow.id}`)).json()) as {
      flow: { runningRunId: string };
    };
    expect(listed.flow.runningRunId).toBe(queued.id);

    // Queued once: "run now" again and the scheduler's slot both find the waiting run.
    const again = await api('POST', `/flows/${flow.id}/run`);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({
      error: { code: 'run_in_progress', details: { runId: queued.id } },
    });
    // A slot of a paused flow is skipped (a worker may have auto-paused it); an active one finds the run.
    await expect(server.deps.scheduler.trigger(flow.id, 'schedule')).rejects.toThrow('is paused');
    await server.deps.store.setFlowStatus(flow.id, 'active');
    await expect(server.deps.scheduler.trigger(flow.id, 'schedule')).rejects.toThrow(queued.id);
    // A dry run in the server's process waits too: it would write beside the queued run.
    await expect(server.deps.scheduler.trigger(flow.id, 'test', { dryRun: true })).rejects.toThrow(queued.id);

    const worker = testWorker('in-test');
    try {
      const done = await server.deps.scheduler.waitFor(queued.id);
      expect(done).toMatchObject({
        id: queued.id,
        status: 'succeeded',
        worker: 'in-test',
        trigger: 'manual',
      });
      expect(done?.counts.map((c) => [c.name, c.status])).toEqual([
        ['candidates', 'succeeded'],
        ['applications', 'succeeded'],
      ]);
      await withSink(`sqlite:${path.join(dataDir, 'alpha.db')}`, async (sink) => {
        for (const name of ['candidates', 'applications']) {
          const stream = findStream(name);
          if (!stream) throw new Error(name);
          expect(await liveRecords(sink, name), name).toEqual(expectedRecords(sandbox, stream));
        }
      });
      // The run's requests were paced through the key's budget row (keyed by the credential id).
      const budget = await server.fleet!.fleet.budgetPool.query<{ key_id: string }>(
        `SELECT key_id FROM "${schema}".ashpipe_rate_budget`,
      );
      expect(budget.rows.map((r) => r.key_id)).toEqual([flow.credentialId]);
      // Ended: the flow can be queued again.
      const next = await server.deps.scheduler.trigger(flow.id, 'manual');
      expect(next.status).toBe('queued');
      expect((await server.deps.scheduler.waitFor(next.id))?.status).toBe('succeeded');
    } finally {
      await worker.stop();
    }
  }, 60_000);

  it('a worker that stops hands its run back (queued again); another worker resumes it into exact tables', async () => {
    const flow = await server.deps.store.createFlow({
      kind: 'source',
      name: 'gamma',
      credentialId: 'cred_gamma',
      streams: ['candidates', 'applications'],
      target: { type: 'sqlite', path: path.join(dataDir, 'gamma.db') },
      // Slow enough to be stopped in the middle.
      options: { requestsPerSecond: 1 },
    });
    const queued = await server.deps.scheduler.trigger(flow.id, 'manual');
    const first = testWorker('first', { drainSeconds: 0.1 });
    const until = Date.now() + 20_000;
    let mid: Run | undefined;
    while (Date.now() < until) {
      mid = await server.deps.store.getRun(queued.id);
      if (mid?.status === 'running' && mid.counts.some((c) => c.read > 0)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(mid).toMatchObject({ status: 'running', worker: 'first' });
    await first.stop();
    expect(await server.deps.store.getRun(queued.id)).toMatchObject({ status: 'queued', worker: null });
    const second = testWorker('second', { drainSeconds: 0.1 });
    try {
      const done = await server.deps.scheduler.waitFor(queued.id);
      expect(done).toMatchObject({ id: queued.id, status: 'succeeded', worker: 'second' });
      await withSink(`sqlite:${path.join(dataDir, 'gamma.db')}`, async (sink) => {
        for (const name of ['candidates', 'applications']) {
          const stream = findStream(name);
          if (!stream) throw new Error(name);
          expect(await liveRecords(sink, name), name).toEqual(expectedRecords(sandbox, stream));
        }
      });
    } finally {
      await second.stop();
    }
  }, 60_000);

  it("the scheduler's slots queue a run; while it waits, later slots queue nothing", async () => {
    const flow = await sourceFlow('every-second');
    await server.deps.store.updateFlow(flow.id, { ...flow.config, schedule: '* * * * * *' });
    await server.deps.store.setFlowStatus(flow.id, 'active');
    await server.deps.scheduler.refresh(flow.id);
    await new Promise((r) => setTimeout(r, 2_600));
    await server.deps.store.setFlowStatus(flow.id, 'paused');
    await server.deps.scheduler.refresh(flow.id);
    const runs = await server.deps.store.listRuns({ flowId: flow.id });
    expect(runs.map((r) => [r.trigger, r.status, r.worker])).toEqual([['schedule', 'queued', null]]);
    expect(await server.deps.scheduler.cancel(flow.id)).toBe(true);
  }, 20_000);

  /** A source flow slow enough (1 request a second) to be cancelled in the middle. */
  async function slowFlow(name: string): Promise<Flow> {
    return server.deps.store.createFlow({
      kind: 'source',
      name,
      credentialId: `cred_${name}`,
      streams: ['candidates', 'applications'],
      target: { type: 'sqlite', path: path.join(dataDir, `${name}.db`) },
      options: { requestsPerSecond: 1 },
    });
  }

  async function jobOf(runId: string): Promise<string> {
    const row = await server.deps.store.db
      .selectFrom('flow_runs')
      .select('job_id')
      .where('id', '=', runId)
      .executeTakeFirstOrThrow();
    return row.job_id as string;
  }

  async function jobState(runId: string): Promise<string | undefined> {
    const jobId = await jobOf(runId);
    return (await server.fleet!.fleet.queue.jobStates([jobId])).get(jobId)?.state;
  }

  /**
   * The state of the run's job once its worker has let it go: a worker records the run's end, then
   * completes the job, so the job may still be active for a moment after the run has ended.
   */
  async function settledJobState(runId: string): Promise<string> {
    return until(
      'the worker to let the job go',
      async () => {
        const state = await jobState(runId);
        return state === 'active' ? undefined : state;
      },
      10_000,
    );
  }

  async function until<T>(what: string, read: () => Promise<T | undefined>, ms: number): Promise<T> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const value = await read();
      if (value !== undefined) return value;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  it('a run going on a worker is cancelled from the server: 202, it ends cancelled, its job completed', async () => {
    const flow = await slowFlow('cancel-mid');
    const worker = testWorker('busy');
    // Every end written for a run: a cancelled run's is written once, as `cancelled` (a reader polling
    // the run must never see it `failed` on its way there).
    const store = server.deps.store;
    const finishRun = store.finishRun.bind(store);
    const ends: Array<[string, string]> = [];
    store.finishRun = async (id, status, ...rest) => {
      ends.push([id, status]);
      return finishRun(id, status, ...rest);
    };
    try {
      const queued = await server.deps.scheduler.trigger(flow.id, 'manual');
      const mid = await until(
        'the run to read records on its worker',
        async () => {
          const run = await server.deps.store.getRun(queued.id);
          return run?.status === 'running' && run.counts.some((c) => c.read > 0) ? run : undefined;
        },
        20_000,
      );
      expect(mid.worker).toBe('busy');
      const asked = Date.now();
      const cancel = await api('POST', `/flows/${flow.id}/cancel`);
      expect(cancel.status).toBe(202);
      expect(await cancel.json()).toEqual({ cancelling: true });
      const done = await server.deps.scheduler.waitFor(queued.id);
      // The worker reads the request every poll (0.2 s here) and the sync stops at its next page.
      expect(Date.now() - asked).toBeLessThan(5_000);
      expect(done).toMatchObject({ id: queued.id, status: 'cancelled', worker: 'busy' });
      expect(ends.filter(([id]) => id === queued.id)).toEqual([[queued.id, 'cancelled']]);
      // Cut short, not failed: no stream failed, no error left by the abort, something was read first.
      expect(done?.errors).toEqual([]);
      expect(done?.counts.map((c) => c.status).every((st) => st === 'succeeded' || st === 'cancelled')).toBe(
        true,
      );
      expect(done?.counts.some((c) => c.status === 'cancelled')).toBe(true);
      // Not retried: the job is completed, and no worker runs the flow again.
      expect(await settledJobState(queued.id)).toBe('completed');
      // The worker forgets the job just after completing it.
      await until('the worker to be idle', async () => (worker.active === 0 ? true : undefined), 5_000);
      expect(await server.deps.store.activeRun(flow.id)).toBeUndefined();
      // The checkpoint stays: a stream the run finished before the cancel is in the target, exact.
      const finished = (done?.counts ?? []).filter((c) => c.status === 'succeeded');
      await withSink(`sqlite:${path.join(dataDir, 'cancel-mid.db')}`, async (sink) => {
        for (const { name } of finished) {
          const stream = findStream(name);
          if (!stream) throw new Error(name);
          expect(await liveRecords(sink, name), name).toEqual(expectedRecords(sandbox, stream));
        }
      });
      // Ended: the flow can run again, and a second cancel finds nothing going.
      expect((await api('POST', `/flows/${flow.id}/cancel`)).status).toBe(409);
    } finally {
      store.finishRun = finishRun;
      await worker.stop();
    }
  }, 60_000);

  it('a cancelled run whose worker died before noticing is not resumed: it ends cancelled', async () => {
    const fleet = server.fleet!.fleet;
    /** Takes the flow's job as a worker would, claims its run, and then dies: no heartbeat, no end. */
    async function takeAndDie(flow: Flow, runId: string): Promise<void> {
      const [job] = await fleet.queue.boss.fetch(`ashpipe-run_${flow.credentialId}`, { batchSize: 1 });
      expect(job?.id).toBe(await jobOf(runId));
      const claim = await server.deps.store.claimRun(runId, flow, 'manual', 'doomed', job!.id);
      expect(claim.run).toMatchObject({ status: 'running', worker: 'doomed' });
      // Its lease runs out in a second rather than the test's six: nothing renews it.
      await fleet.queue.pool.query(
        `UPDATE "${schema}_queue".job SET expire_in = (now() - started_on) + interval '1 second' WHERE id = $1`,
        [job!.id],
      );
    }

    // Taken over: the lease runs out, another worker takes the job and ends the run instead of running it.
    const flow = await slowFlow('cancel-dead');
    const run = await server.deps.scheduler.trigger(flow.id, 'manual');
    await takeAndDie(flow, run.id);
    expect((await api('POST', `/flows/${flow.id}/cancel`)).status).toBe(202);
    expect(await server.deps.store.getRun(run.id)).toMatchObject({ status: 'running', worker: 'doomed' });
    const heir = testWorker('heir');
    try {
      const done = await server.deps.scheduler.waitFor(run.id);
      expect(done).toMatchObject({ status: 'cancelled', errors: [] });
      // Ended by the worker that took the job (completed), or by the server's reconciliation if it saw
      // the job back in the queue first (cancelled): either way the job is over, not retried.
      expect(['completed', 'cancelled']).toContain(await settledJobState(run.id));
    } finally {
      await heir.stop();
    }
    // Nothing was synced: the run never ran on the worker that took it over.
    expect(fs.existsSync(path.join(dataDir, 'cancel-dead.db'))).toBe(false);

    // No worker at all: once the lease ran out, the reconciliation ends it and takes its job out.
    const lonely = await slowFlow('cancel-lonely');
    const second = await server.deps.scheduler.trigger(lonely.id, 'manual');
    await takeAndDie(lonely, second.id);
    expect((await api('POST', `/flows/${lonely.id}/cancel`)).status).toBe(202);
    // While the job is still leased to the dead worker, the reconciliation leaves it.
    expect(await reconcileRuns(fleet.queue, server.deps.store)).toBe(0);
    expect((await server.deps.store.getRun(second.id))?.status).toBe('running');
    // The server's own reconciliation (every maintenance interval) ends it once the lease has run out and
    // the job waits in the queue again.
    await until(
      'the reconciliation to end the run',
      async () => ((await server.deps.store.getRun(second.id))?.status === 'cancelled' ? true : undefined),
      TIMINGS.leaseSeconds * 1000 + 10_000,
    );
    expect(await server.deps.store.getRun(second.id)).toMatchObject({ status: 'cancelled', errors: [] });
    expect(await jobState(second.id)).toBe('cancelled');
    expect(await server.deps.store.activeRun(lonely.id)).toBeUndefined();
  }, 60_000);

  /** The value of a series of `GET /metrics` whose labels include `labels`; undefined when absent. */
  async function gauge(name: string, labels: Record<string, string>): Promise<number | undefined> {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(API_KEY);
    for (const line of text.split('\n')) {
      const m = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const found = Object.fromEntries(
        [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
      );
      if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
    }
    return undefined;
  }

  it("GET /metrics counts the queue's jobs by credential and state, and the runs going per worker", async () => {
    const flow = await slowFlow('gauged');
    // The credential's name labels its queue: a row of the vault's table (never its key).
    const at = new Date().toISOString();
    const blob = Buffer.alloc(16);
    await server.deps.store.db
      .insertInto('credentials')
      .values({
        id: flow.credentialId,
        name: 'Gauged key',
        description: null,
        base_url: null,
        key_ciphertext: blob,
        key_iv: blob,
        key_tag: blob,
        data_key_wrapped: blob,
        data_key_iv: blob,
        data_key_tag: blob,
        key_suffix: 'abcd',
        verified_at: null,
        verification: null,
        created_at: at,
        updated_at: at,
        rotated_at: null,
      })
      .execute();
    const key = { credential: 'Gauged key', credential_id: flow.credentialId };
    const queued = await server.deps.scheduler.trigger(flow.id, 'manual');
    expect(queued.status).toBe('queued');
    expect(await gauge('ashpipe_queue_jobs', { ...key, state: 'queued' })).toBe(1);
    expect(await gauge('ashpipe_queue_jobs', { ...key, state: 'active' })).toBe(0);
    expect(await gauge('ashpipe_worker_runs', { worker: 'gauger' })).toBeUndefined();

    const worker = testWorker('gauger');
    try {
      await until(
        'the worker to take the run',
        async () => ((await server.deps.store.getRun(queued.id))?.status === 'running' ? true : undefined),
        20_000,
      );
      expect(await gauge('ashpipe_queue_jobs', { ...key, state: 'queued' })).toBe(0);
      expect(await gauge('ashpipe_queue_jobs', { ...key, state: 'active' })).toBe(1);
      expect(await gauge('ashpipe_worker_runs', { worker: 'gauger' })).toBe(1);
      expect((await api('POST', `/flows/${flow.id}/cancel`)).status).toBe(202);
      expect((await server.deps.scheduler.waitFor(queued.id))?.status).toBe('cancelled');
      // The job is completed a moment after the run's end is recorded.
      await until(
        'the job to end',
        async () =>
          (await gauge('ashpipe_queue_jobs', { ...key, state: 'active' })) === 0 ? true : undefined,
        5_000,
      );
      expect(await gauge('ashpipe_queue_jobs', { ...key, state: 'queued' })).toBe(0);
      expect(await gauge('ashpipe_worker_runs', { worker: 'gauger' })).toBe(0);
    } finally {
      await worker.stop();
    }
  }, 60_000);

  it('a queued run can be cancelled; a run whose job ended without it is closed as failed', async () => {
    const flow = await sourceFlow('beta');
    const run = await server.deps.scheduler.trigger(flow.id, 'manual');
    expect(run.status).toBe('queued');
    const cancel = await api('POST', `/flows/${flow.id}/cancel`);
    expect(cancel.status).toBe(202);
    expect((await server.deps.store.getRun(run.id))?.status).toBe('cancelled');

    // A run whose job was given up (its workers kept dying): the job fails for good behind the run.
    const lost = await server.deps.scheduler.trigger(flow.id, 'manual');
    const fleet = server.fleet!.fleet;
    await fleet.queue.pool.query(
      `UPDATE "${schema}_queue".job SET state = 'failed', completed_on = now() WHERE data->>'runId' = $1`,
      [lost.id],
    );
    // The server's own maintenance may close it first; either way it is closed exactly once.
    const closedHere = await reconcileRuns(fleet.queue, server.deps.store);
    expect([0, 1]).toContain(closedHere);
    expect(await reconcileRuns(fleet.queue, server.deps.store)).toBe(0);
    expect(await server.deps.store.getRun(lost.id)).toMatchObject({
      status: 'failed',
      errors: [{ code: 'run_lost' }],
    });
    expect(await server.deps.store.activeRun(flow.id)).toBeUndefined();
  }, 30_000);
});

describe.skipIf(!POSTGRES_URL)('serve on a PostgreSQL control store with its own worker', () => {
  it("runs a queued run in its own process, under its worker's name", async () => {
    registerSecret(API_KEY);
    const sandbox = await startSandbox({
      scale: 30,
      seed: 6,
      keys: [{ key: API_KEY, scopes: ALL_SCOPES, confidential: true }],
    });
    const target = newControlTarget('postgres');
    const schema = new URL(target.url as string).searchParams.get('schema') as string;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-fleet-inside-'));
    const server = await startServer({
      home: target.home,
      controlUrl: target.url as string,
      env: {},
      port: 0,
      metrics: 'off',
      worker: { concurrency: 1, name: 'inside' },
      fleetTimings: TIMINGS,
      dataDirs: [dataDir],
      services: () => fakeServices(sandbox.url),
      logger: new Logger({ level: 'error' }),
    });
    try {
      expect(server.fleet?.worker?.name).toBe('inside');
      const flow = await server.deps.store.createFlow({
        kind: 'source',
        name: 'inside',
        credentialId: 'cred_inside',
        streams: ['candidates'],
        target: { type: 'sqlite', path: path.join(dataDir, 'inside.db') },
        options: {},
      });
      const run = await server.deps.scheduler.trigger(flow.id, 'manual');
      expect(run.status).toBe('queued');
      expect(await server.deps.scheduler.waitFor(run.id)).toMatchObject({
        status: 'succeeded',
        worker: 'inside',
      });
      await withSink(`sqlite:${path.join(dataDir, 'inside.db')}`, async (sink) => {
        const stream = findStream('candidates');
        if (!stream) throw new Error('candidates');
        expect(await liveRecords(sink, 'candidates')).toEqual(expectedRecords(sandbox, stream));
      });
    } finally {
      await server.close();
      await sandbox.close();
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}_queue" CASCADE`);
      await admin.end();
      await removeControlTargets();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});

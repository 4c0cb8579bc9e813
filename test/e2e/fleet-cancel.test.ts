/**
 * Cancel on a real `ashpipe worker` process: the server (no worker of its own) queues a slow run, the
 * worker takes it, `POST /flows/:id/cancel` answers 202 and the worker stops the run within a few
 * seconds; it ends `cancelled`, its job completed, the worker goes on. The worker's `--metrics-port`
 * shows the queue and its runs move: 1 queued, then 1 active and 1 run on the worker, then 0.
 *
 * Runs the built CLI (`npm run build` first).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { type RunningServer, startServer } from '../../src/server/index.js';
import { findStream } from '../../src/streams/index.js';
import { Logger } from '../../src/util/logger.js';
import { assertBuilt, BIN, ROOT } from '../support/built-cli.js';
import { newControlTarget, removeControlTargets } from '../support/control.js';
import { testPostgresUrl } from '../support/postgres.js';
import { tokenClient } from '../support/server-token.js';
import { expectedRecords, liveRecords, withSink } from '../sync/helpers.js';

const POSTGRES_URL = testPostgresUrl('cancel on a worker process');
const KEY = 'sandbox-fleet-cancel-key';
const MASTER_KEY = Buffer.alloc(32, 13).toString('base64');
const QUEUE_ENV = {
  ASHPIPE_QUEUE_LEASE_SECONDS: '6',
  ASHPIPE_QUEUE_HEARTBEAT_SECONDS: '1',
  ASHPIPE_QUEUE_POLL_SECONDS: '0.3',
  ASHPIPE_QUEUE_MAINTENANCE_SECONDS: '1',
  ASHPIPE_QUEUE_DRAIN_SECONDS: '2',
};

interface RunView {
  id: string;
  status: string;
  worker: string | null;
  errors: unknown[];
  counts: Array<{ name: string; status: string; read: number }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!POSTGRES_URL)('cancel a run going on an ashpipe worker process', () => {
  let sandbox: Sandbox;
  let server: RunningServer;
  let dataDir: string;
  let worker: ChildProcess | undefined;
  const output: string[] = [];
  let token = '';
  const { api, call } = tokenClient(() => ({ url: server.url, token }));

  async function until<T>(what: string, find: () => Promise<T | undefined>, ms: number): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const found = await find();
      if (found !== undefined) return found;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${output.join('').slice(-2000)}`);
      await sleep(100);
    }
  }

  beforeAll(async () => {
    assertBuilt();
    sandbox = await startSandbox({
      scale: 60,
      seed: 8,
      keys: [{ key: KEY, scopes: ALL_SCOPES, confidential: true }],
    });
    const target = newControlTarget('postgres');
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-fleet-cancel-'));
    server = await startServer({
      home: target.home,
      controlUrl: target.url as string,
      env: { ASHPIPE_MASTER_KEY: MASTER_KEY },
      port: 0,
      metrics: 'off',
      worker: false,
      dataDirs: [dataDir],
      serviceOptions: { baseUrl: sandbox.url },
      logger: new Logger({ level: 'error', sink: () => {} }),
    });
    token = (await server.deps.store.createApiToken('test')).token;
    worker = spawn(
      process.execPath,
      [
        BIN,
        'worker',
        '--control',
        target.url as string,
        '--name',
        'proc-1',
        '--concurrency',
        '1',
        '--data-dir',
        dataDir,
        '--metrics-port',
        '0',
      ],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          ASHPIPE_HOME: target.home,
          ASHPIPE_MASTER_KEY: MASTER_KEY,
          ASHBY_BASE_URL: sandbox.url,
          ...QUEUE_ENV,
        },
      },
    );
    worker.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
    worker.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
  }, 60_000);

  afterAll(async () => {
    if (worker && worker.exitCode === null) worker.kill('SIGKILL');
    await server?.close();
    await sandbox?.close();
    await removeControlTargets();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('202; the worker stops the run, which ends cancelled; its metrics follow the queue', async () => {
    const metricsUrl = await until(
      'the worker to serve its metrics',
      async () => /metrics on (http:\/\/\S+\/metrics)/.exec(output.join(''))?.[1],
      30_000,
    );
    /** The value of a series of the worker's `GET /metrics` whose labels include `labels`. */
    const gauge = async (name: string, labels: Record<string, string>): Promise<number | undefined> => {
      const text = await (await fetch(metricsUrl)).text();
      expect(text).not.toContain(KEY);
      for (const line of text.split('\n')) {
        const m = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
        if (!m || m[1] !== name) continue;
        const found = Object.fromEntries(
          [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
        );
        if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
      }
      return undefined;
    };

    const { credential } = await api<{ credential: { id: string } }>('POST', '/credentials', {
      name: 'Cancel key',
      apiKey: KEY,
      baseUrl: sandbox.url,
    });
    const { flow } = await api<{ flow: { id: string } }>('POST', '/flows', {
      kind: 'source',
      name: 'slow',
      credentialId: credential.id,
      streams: ['candidates', 'applications', 'jobs'],
      target: { type: 'sqlite', path: path.join(dataDir, 'slow.db') },
      // One request a second: the run is still going when it is cancelled.
      options: { requestsPerSecond: 1 },
    });
    const key = { credential: 'Cancel key', credential_id: credential.id };
    const { run } = await api<{ run: RunView }>('POST', `/flows/${flow.id}/run`);
    expect(run.status).toBe('queued');

    const going = await until(
      'the worker to read records',
      async () => {
        const now = (await api<{ run: RunView }>('GET', `/runs/${run.id}`)).run;
        return now.status === 'running' && now.counts.some((c) => c.read > 0) ? now : undefined;
      },
      30_000,
    );
    expect(going.worker).toBe('proc-1');
    expect(await gauge('ashpipe_queue_jobs', { ...key, state: 'active' })).toBe(1);
    expect(await gauge('ashpipe_queue_jobs', { ...key, state: 'queued' })).toBe(0);
    expect(await gauge('ashpipe_worker_runs', { worker: 'proc-1' })).toBe(1);

    const asked = Date.now();
    const cancel = await call('POST', `/flows/${flow.id}/cancel`);
    expect(cancel.status).toBe(202);
    const done = await until(
      'the run to end',
      async () => {
        const now = (await api<{ run: RunView }>('GET', `/runs/${run.id}`)).run;
        return now.status === 'queued' || now.status === 'running' ? undefined : now;
      },
      15_000,
    );
    // Noticed within the worker's poll (0.3 s here), stopped at the next page.
    expect(Date.now() - asked).toBeLessThan(5_000);
    expect(done).toMatchObject({ status: 'cancelled', worker: 'proc-1', errors: [] });
    expect(done.counts.some((c) => c.status === 'cancelled')).toBe(true);
    expect(done.counts.every((c) => c.status === 'succeeded' || c.status === 'cancelled')).toBe(true);
    // What the run finished before the cancel stays in the target, exact.
    await withSink(`sqlite:${path.join(dataDir, 'slow.db')}`, async (sink) => {
      for (const c of done.counts.filter((x) => x.status === 'succeeded')) {
        const stream = findStream(c.name);
        if (!stream) throw new Error(c.name);
        expect(await liveRecords(sink, c.name), c.name).toEqual(expectedRecords(sandbox, stream));
      }
    });
    // Completed, not retried: nothing waits or runs any more, and the worker's gauges say 0.
    await until(
      'the job to end',
      async () => ((await gauge('ashpipe_queue_jobs', { ...key, state: 'active' })) === 0 ? true : undefined),
      5_000,
    );
    expect(await gauge('ashpipe_queue_jobs', { ...key, state: 'retry' })).toBe(0);
    expect(await gauge('ashpipe_queue_jobs', { ...key, state: 'queued' })).toBe(0);
    expect(await gauge('ashpipe_worker_runs', { worker: 'proc-1' })).toBe(0);
    const jobId = (
      await server.deps.store.db
        .selectFrom('flow_runs')
        .select('job_id')
        .where('id', '=', run.id)
        .executeTakeFirstOrThrow()
    ).job_id as string;
    expect((await server.fleet!.fleet.queue.jobStates([jobId])).get(jobId)?.state).toBe('completed');
    expect(output.join('')).toContain('cancel asked');

    // The worker is still there: SIGTERM drains an idle worker, exit 0.
    expect(worker?.exitCode).toBeNull();
    const exited = new Promise<number | null>((resolve) => worker?.once('exit', (code) => resolve(code)));
    worker?.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});

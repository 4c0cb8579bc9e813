/**
 * A fleet on PostgreSQL with real processes: `ashpipe serve --no-worker` queues the runs, three
 * `ashpipe worker` processes run them (the keys read from the vault in the control store). Every run
 * completes once, into tables equal to the sandbox's world; a worker killed with SIGKILL mid-run has its
 * run resumed by another; a worker told SIGTERM drains and exits 0, a second signal stops its run at once
 * (exit 130) and the run ends on another; no run is left `running`.
 *
 * Runs the built CLI (`npm run build` first).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_SCOPES } from '../../src/ashby/catalogue.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { findStream } from '../../src/streams/index.js';
import { assertBuilt, BIN, ROOT } from '../support/built-cli.js';
import { testPostgresUrl, testSchemaName } from '../support/postgres.js';
import { expectedRecords, liveRecords, withSink } from '../sync/helpers.js';

const POSTGRES_URL = testPostgresUrl('the fleet of worker processes');
const PASSWORD = 'fleet test password';
const KEYS = ['sandbox-fleet-k1', 'sandbox-fleet-k2', 'sandbox-fleet-k3'];
const STREAMS = ['candidates', 'applications', 'jobs'];
/** Short leases: a dead worker's run is back in the queue within LEASE + MAINTENANCE + POLL seconds. */
const QUEUE_ENV = {
  ASHPIPE_QUEUE_LEASE_SECONDS: '4',
  ASHPIPE_QUEUE_HEARTBEAT_SECONDS: '1',
  ASHPIPE_QUEUE_POLL_SECONDS: '0.3',
  ASHPIPE_QUEUE_MAINTENANCE_SECONDS: '1',
  ASHPIPE_QUEUE_DRAIN_SECONDS: '2',
};

interface RunView {
  id: string;
  flowId: string;
  status: string;
  worker: string | null;
  trigger: string;
  counts: Array<{ name: string; read: number; status: string }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!POSTGRES_URL)('a fleet of ashpipe worker processes on PostgreSQL', () => {
  const schema = testSchemaName();
  let controlUrl: string;
  let sandbox: Sandbox;
  let home: string;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;
  let serve: ChildProcess;
  let url: string;
  let cookie = '';
  let csrf = '';
  const workers = new Map<string, { child: ChildProcess; output: string[] }>();
  const flows: Array<{ id: string; name: string }> = [];

  function spawnCli(args: string[], output: string[]): ChildProcess {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
    child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
    return child;
  }
  const exited = (child: ChildProcess) =>
    new Promise<number | null>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });

  function startWorker(name: string, extra: string[] = []): void {
    const output: string[] = [];
    const child = spawnCli(
      ['worker', '--control', controlUrl, '--name', name, '--concurrency', '1', ...extra],
      output,
    );
    workers.set(name, { child, output });
  }

  async function until<T>(what: string, find: () => Promise<T | undefined>, ms: number): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const found = await find();
      if (found !== undefined) return found;
      if (Date.now() > end) {
        const logs = [...workers.entries()].map(([n, w]) => `--- ${n}\n${w.output.join('').slice(-2000)}`);
        throw new Error(`timed out waiting for ${what}\n${logs.join('\n')}`);
      }
      await sleep(200);
    }
  }

  async function api(method: string, p: string, body?: unknown): Promise<Response> {
    return fetch(`${url}/api/v1${p}`, {
      method,
      headers: {
        cookie,
        'x-csrf-token': csrf,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }
  const run = async (id: string) =>
    ((await (await api('GET', `/runs/${id}`)).json()) as { run: RunView }).run;
  const ended = (r: RunView) => r.status !== 'queued' && r.status !== 'running';

  async function expectExactTables(flowName: string) {
    await withSink(`sqlite:${path.join(dataDir, `${flowName}.db`)}`, async (sink) => {
      for (const name of STREAMS) {
        const stream = findStream(name);
        if (!stream) throw new Error(name);
        expect(await liveRecords(sink, name), `${flowName} ${name}`).toEqual(
          expectedRecords(sandbox, stream),
        );
      }
    });
  }

  beforeAll(async () => {
    assertBuilt();
    sandbox = await startSandbox({
      scale: 200,
      seed: 17,
      keys: KEYS.map((key) => ({ key, scopes: ALL_SCOPES, confidential: true })),
    });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-fleet-'));
    dataDir = path.join(home, 'data');
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const u = new URL(POSTGRES_URL as string);
    u.searchParams.set('schema', schema);
    controlUrl = u.toString();
    env = {
      PATH: process.env.PATH,
      ASHPIPE_HOME: home,
      ASHPIPE_ADMIN_PASSWORD: PASSWORD,
      ASHPIPE_MASTER_KEY: Buffer.alloc(32, 9).toString('base64'),
      ASHBY_BASE_URL: sandbox.url,
      ...QUEUE_ENV,
    };
    // The server and two workers start together: the control store's migrations are applied once.
    const serveOutput: string[] = [];
    serve = spawnCli(
      ['serve', '--port', '0', '--control', controlUrl, '--no-worker', '--metrics', 'off'],
      serveOutput,
    );
    startWorker('w1', ['--metrics-port', '0']);
    startWorker('w2');
    url = await until(
      'serve to listen',
      async () => {
        if (serve.exitCode !== null) throw new Error(`serve exited: ${serveOutput.join('')}`);
        return /listening on (http:\/\/\S+)/.exec(serveOutput.join(''))?.[1];
      },
      30_000,
    );
    const login = await fetch(`${url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: PASSWORD }),
    });
    expect(login.status).toBe(200);
    cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    csrf = ((await login.json()) as { csrfToken: string }).csrfToken;
    startWorker('w3');

    const credentials: string[] = [];
    for (const [i, apiKey] of KEYS.entries()) {
      const res = await api('POST', '/credentials', { name: `key ${i + 1}`, apiKey, baseUrl: sandbox.url });
      expect(res.status, await res.clone().text()).toBe(201);
      credentials.push(((await res.json()) as { credential: { id: string } }).credential.id);
    }
    // Two flows on the first key, one on each of the others; slow enough to be caught mid-run.
    for (const [name, credentialId] of [
      ['a1', credentials[0]],
      ['a2', credentials[0]],
      ['b1', credentials[1]],
      ['c1', credentials[2]],
    ] as const) {
      const res = await api('POST', '/flows', {
        kind: 'source',
        name,
        credentialId,
        streams: STREAMS,
        target: { type: 'sqlite', path: path.join(dataDir, `${name}.db`) },
        options: { requestsPerSecond: 3 },
      });
      expect(res.status, await res.clone().text()).toBe(201);
      flows.push({ id: ((await res.json()) as { flow: { id: string } }).flow.id, name });
    }
  }, 90_000);

  afterAll(async () => {
    for (const { child } of workers.values()) if (child.exitCode === null) child.kill('SIGKILL');
    if (serve && serve.exitCode === null) {
      serve.kill('SIGTERM');
      await Promise.race([exited(serve), sleep(10_000)]);
      if (serve.exitCode === null) serve.kill('SIGKILL');
    }
    await sandbox?.close();
    if (POSTGRES_URL) {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}_queue" CASCADE`);
      await admin.end();
    }
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  it('runs every flow once, on the workers, into tables equal to the sandbox world', async () => {
    const queued: RunView[] = [];
    for (const flow of flows) {
      const res = await api('POST', `/flows/${flow.id}/run`);
      expect(res.status).toBe(202);
      const r = ((await res.json()) as { run: RunView }).run;
      // Queued, unless an idle worker took it before the answer was written (then it is its run).
      if (r.status === 'queued') expect(r.worker).toBeNull();
      else expect(r).toMatchObject({ status: 'running', worker: expect.stringMatching(/^w\d$/) });
      queued.push(r);
      // Queued or running already: never a second run of the flow.
      const again = await api('POST', `/flows/${flow.id}/run`);
      expect(again.status).toBe(409);
      expect(((await again.json()) as { error: { details: { runId: string } } }).error.details.runId).toBe(
        r.id,
      );
    }
    const finished = await until(
      'every run to end',
      async () => {
        const all = await Promise.all(queued.map((q) => run(q.id)));
        return all.every(ended) ? all : undefined;
      },
      90_000,
    );
    for (const r of finished) {
      expect(r.status, JSON.stringify(r)).toBe('succeeded');
      expect(['w1', 'w2', 'w3']).toContain(r.worker);
    }
    // Several workers shared the work.
    expect(new Set(finished.map((r) => r.worker)).size).toBeGreaterThan(1);
    // w1's GET /metrics counts exactly the runs w1 ran, as serve's series do, and reads freshness from
    // the control store as serve does.
    const w1 = workers.get('w1');
    const metricsUrl = /metrics on (http:\/\/\S+)/.exec(w1?.output.join('') ?? '')?.[1];
    expect(metricsUrl).toBeDefined();
    const text = await (await fetch(metricsUrl as string)).text();
    const counted = text
      .split('\n')
      .filter((l) => l.startsWith('ashpipe_flow_runs_total{') && l.includes('outcome="succeeded"'))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    expect(counted).toBe(finished.filter((r) => r.worker === 'w1').length);
    for (const flow of flows)
      expect(text).toMatch(new RegExp(`ashpipe_flow_seconds_since_last_success\\{[^}]*flow_id="${flow.id}"`));
    for (const key of KEYS) expect(text).not.toContain(key);
    const listed = (await (await api('GET', '/runs?limit=100')).json()) as { runs: RunView[] };
    expect(listed.runs).toHaveLength(flows.length);
    for (const flow of flows) await expectExactTables(flow.name);
    // The migrations were applied once though three processes started together.
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    const ids = await admin.query(
      `SELECT id, count(*)::int AS n FROM "${schema}"._ashpipe_migrations GROUP BY id`,
    );
    await admin.end();
    expect(ids.rows.every((r: { n: number }) => r.n === 1)).toBe(true);
    expect(ids.rows.map((r: { id: string }) => r.id)).toContain('0052-run-worker');
  }, 120_000);

  it('a worker killed mid-run: another resumes the run and it ends exact; none is left running', async () => {
    const flow = flows[2] as { id: string; name: string };
    fs.rmSync(path.join(dataDir, `${flow.name}.db`), { force: true });
    // A full refresh from an empty target: long enough to be killed in the middle.
    const res = await api('POST', `/flows/${flow.id}/run`);
    const queued = ((await res.json()) as { run: RunView }).run;
    const mid = await until(
      'the run to be mid-way',
      async () => {
        const r = await run(queued.id);
        return r.status === 'running' && r.worker && r.counts.some((c) => c.read > 0) ? r : undefined;
      },
      30_000,
    );
    const victim = workers.get(mid.worker as string);
    if (!victim) throw new Error(`no worker ${mid.worker}`);
    victim.child.kill('SIGKILL');
    await exited(victim.child);
    const killedAt = Date.now();
    const done = await until(
      'the run to end on another worker',
      async () => {
        const r = await run(queued.id);
        return ended(r) ? r : undefined;
      },
      60_000,
    );
    expect(done.status, JSON.stringify(done)).toBe('succeeded');
    expect(done.worker).not.toBe(mid.worker);
    // Lease 4 s + maintenance 1 s + poll: well within the stated bound, and far under two minutes.
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    await expectExactTables(flow.name);
    const listed = (await (await api('GET', '/runs?limit=100')).json()) as { runs: RunView[] };
    expect(listed.runs.filter((r) => !ended(r))).toEqual([]);
    startWorker(`${mid.worker}-again`);
  }, 90_000);

  it('SIGTERM: the worker drains (finishes its run or hands it back) and exits 0; the run ends exact', async () => {
    const flow = flows[3] as { id: string; name: string };
    fs.rmSync(path.join(dataDir, `${flow.name}.db`), { force: true });
    const res = await api('POST', `/flows/${flow.id}/run`);
    const queued = ((await res.json()) as { run: RunView }).run;
    const mid = await until(
      'the run to be mid-way',
      async () => {
        const r = await run(queued.id);
        return r.status === 'running' && r.worker && r.counts.some((c) => c.read > 0) ? r : undefined;
      },
      30_000,
    );
    const stopping = workers.get(mid.worker as string);
    if (!stopping) throw new Error(`no worker ${mid.worker}`);
    stopping.child.kill('SIGTERM');
    expect(await exited(stopping.child)).toBe(0);
    const done = await until(
      'the run to end',
      async () => {
        const r = await run(queued.id);
        return ended(r) ? r : undefined;
      },
      60_000,
    );
    expect(done.status, JSON.stringify(done)).toBe('succeeded');
    await expectExactTables(flow.name);
    expect(stopping.output.join('')).toContain('stopped');
  }, 90_000);

  it('a second signal stops the run at once (exit 130); the run is handed back and ends elsewhere', async () => {
    const flow = flows[0] as { id: string; name: string };
    fs.rmSync(path.join(dataDir, `${flow.name}.db`), { force: true });
    const res = await api('POST', `/flows/${flow.id}/run`);
    const queued = ((await res.json()) as { run: RunView }).run;
    const mid = await until(
      'the run to be mid-way',
      async () => {
        const r = await run(queued.id);
        return r.status === 'running' && r.worker && r.counts.some((c) => c.read > 0) ? r : undefined;
      },
      30_000,
    );
    const stopping = workers.get(mid.worker as string);
    if (!stopping) throw new Error(`no worker ${mid.worker}`);
    stopping.child.kill('SIGTERM');
    await sleep(200);
    stopping.child.kill('SIGINT');
    expect(await exited(stopping.child)).toBe(130);
    const done = await until(
      'the run to end',
      async () => {
        const r = await run(queued.id);
        return ended(r) ? r : undefined;
      },
      60_000,
    );
    expect(done.status, JSON.stringify(done)).toBe('succeeded');
    expect(done.worker).not.toBe(mid.worker);
    await expectExactTables(flow.name);
  }, 90_000);

  it('no API key in any process output, log file or the fleet schemas', async () => {
    const outputs = [...workers.values()].map((w) => w.output.join(''));
    const logs = fs.existsSync(path.join(home, 'logs'))
      ? fs
          .readdirSync(path.join(home, 'logs'))
          .map((f) => fs.readFileSync(path.join(home, 'logs', f), 'utf8'))
      : [];
    expect(logs.join('')).toContain('worker started');
    const u = new URL(POSTGRES_URL as string);
    const dump = execFileSync(
      'pg_dump',
      ['--data-only', '--schema', schema, '--schema', `${schema}_queue`, u.toString()],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    // The runs and their jobs are there, named by credential id and run id.
    expect(dump).toContain('0052-run-worker');
    for (const key of KEYS)
      for (const [what, text] of [
        ['worker output', outputs.join('')],
        ['log files', logs.join('')],
        ['database', dump],
      ] as const)
        expect(text.includes(key), `${what} holds ${key}`).toBe(false);
  });
});

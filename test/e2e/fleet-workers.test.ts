/**
 * A fleet on PostgreSQL with real processes: `ashpipe serve --no-worker` queues the runs, three
 * `ashpipe worker` processes run them (the keys read from the vault in the control store). Twenty flows on
 * ten keys — source flows and destination flows (`candidate.create`) — each run completes once: the source
 * flows' tables equal the sandbox's world, each input row of the destination flows is one candidate,
 * created once, and done in the push ledger. A worker killed with SIGKILL mid-run has its run resumed by
 * another — a sync from its checkpoints, a push from its ledger without a second create; a worker told
 * SIGTERM drains and exits 0, a second signal stops its run at once (exit 130) and the run ends on
 * another; no run is left `running`.
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
const KEYS = Array.from({ length: 10 }, (_, i) => `sandbox-fleet-k${i + 1}`);
/**
 * What the source flows read. The destination flows create candidates while the source flows run, so the
 * source flows read streams those creates leave alone: each table then has one right answer, the world's.
 */
const STREAMS = ['applications', 'jobs', 'departments'];
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
  counts: Array<{ name: string; read: number; written?: number; status: string; message?: string }>;
}

interface FlowRef {
  id: string;
  name: string;
  kind: 'source' | 'destination';
}

/** A person of a destination flow's input: one row, one candidate to create. */
interface Person {
  name: string;
  email: string;
}

/** `n` people of one input, each with an email no other input and no seeded candidate has. */
const people = (tag: string, n: number): Person[] =>
  Array.from({ length: n }, (_, i) => ({
    name: `Fleet ${tag} ${i}`,
    email: `fleet.${tag}.${i}@example.com`,
  }));

/** The destination flows' inputs: two CSV files and two JSONL files given inline, one JSONL file on disk. */
const INPUTS = {
  p1: people('p1', 4),
  p2: people('p2', 4),
  p3: people('p3', 4),
  p4: people('p4', 4),
  pk: people('pk', 4),
};
/** What the file of `pk` holds for the run killed mid-way: twelve people it has not pushed before. */
const PK_SECOND = people('pk-second', 12);

const csv = (rows: Person[]) => ['Full Name,Email', ...rows.map((r) => `${r.name},${r.email}`)].join('\n');
const jsonl = (rows: Person[]) => rows.map((r) => JSON.stringify(r)).join('\n');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Candidates of the sandbox's world with `email`, read from the world itself. */
function candidatesWith(sandbox: Sandbox, email: string): number {
  return sandbox.world.allOf('candidate').filter((c) => {
    const addresses = (c as { emailAddresses?: Array<{ value?: unknown }> }).emailAddresses ?? [];
    return addresses.some((e) => e.value === email);
  }).length;
}

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
  const flows: FlowRef[] = [];
  const flow = (name: string): FlowRef => {
    const found = flows.find((f) => f.name === name);
    if (!found) throw new Error(`no flow ${name}`);
    return found;
  };

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
      await sleep(100);
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
  /**
   * Empties the source flow's target and runs it, every answer of the sandbox slowed: a full refresh from
   * an empty target, long enough to be stopped in the middle. Returns once a worker has read records of it.
   */
  async function runToMidway(f: FlowRef) {
    sandbox.faults.set({ latencyMs: 300 });
    fs.rmSync(path.join(dataDir, `${f.name}.db`), { force: true });
    const res = await api('POST', `/flows/${f.id}/run`);
    const queued = ((await res.json()) as { run: RunView }).run;
    const mid = await until(
      'the run to be mid-way',
      async () => {
        const r = await run(queued.id);
        return r.status === 'running' && r.worker && r.counts.some((c) => c.read > 0) ? r : undefined;
      },
      30_000,
    );
    return { queued, mid };
  }
  /** The run once it has ended, within a minute; the sandbox answers at full speed again. */
  const untilEnded = async (runId: string, what: string) => {
    const done = await until(
      what,
      async () => {
        const r = await run(runId);
        return ended(r) ? r : undefined;
      },
      60_000,
    );
    sandbox.faults.reset();
    return done;
  };

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

  /** Each person is exactly one candidate in the sandbox's world, created by one successful `candidate.create`. */
  function expectCreatedOnce(persons: Person[]) {
    for (const p of persons) expect(candidatesWith(sandbox, p.email), p.email).toBe(1);
    const writes = sandbox.stats().writesByKey['candidate.create'] ?? {};
    expect(persons.map((p) => writes[p.email] ?? 0)).toEqual(persons.map(() => 1));
  }
  /** Every `candidate.create` the sandbox was sent, answered or not. */
  const creates = () => sandbox.stats().requests['candidate.create'] ?? 0;

  /** The push ledger of `candidate.create`, read from PostgreSQL directly, and its runs' outcomes. */
  async function pushLedger() {
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      const entries = await admin.query<{ record_key: string; state: string }>(
        `SELECT record_key, state FROM "${schema}".push_ledger WHERE operation = 'candidate.create' ORDER BY record_key`,
      );
      const runs = await admin.query<{ outcome: string | null }>(
        `SELECT outcome FROM "${schema}".push_runs WHERE operation = 'candidate.create' AND dry_run = 0`,
      );
      return { entries: entries.rows, outcomes: runs.rows.map((r) => r.outcome) };
    } finally {
      await admin.end();
    }
  }
  const doneEntries = (persons: Person[]) =>
    persons
      .map((p) => ({ record_key: `key:${p.email}`, state: 'done' }))
      .sort((a, b) => (a.record_key < b.record_key ? -1 : 1));

  beforeAll(async () => {
    assertBuilt();
    // Few candidates: every stream is a page or two, so twenty runs take seconds.
    sandbox = await startSandbox({
      scale: 30,
      seed: 17,
      keys: KEYS.map((key) => ({ key, scopes: ALL_SCOPES, confidential: true })),
    });
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-fleet-'));
    dataDir = path.join(home, 'data');
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(dataDir, 'pk.jsonl'), jsonl(INPUTS.pk));
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
    // Twenty flows, two on each key: fifteen source flows and five destination flows of candidate.create
    // (the flow at position i is on key i mod 10).
    // Each keyed by its email column, so the ledger names each record by it.
    const destinations: Record<string, Record<string, unknown>> = {
      p1: {
        input: { type: 'csv', content: csv(INPUTS.p1) },
        mapping: { name: 'Full Name', email: 'Email' },
        options: { keyColumn: 'Email' },
      },
      p2: {
        input: { type: 'csv', content: csv(INPUTS.p2) },
        mapping: { name: 'Full Name', email: 'Email' },
        options: { keyColumn: 'Email' },
      },
      p3: { input: { type: 'jsonl', content: jsonl(INPUTS.p3) }, options: { keyColumn: 'email' } },
      p4: { input: { type: 'jsonl', content: jsonl(INPUTS.p4) }, options: { keyColumn: 'email' } },
      // One record at a time: the run killed mid-way has at most one create in flight.
      pk: {
        input: { type: 'jsonl', path: path.join(dataDir, 'pk.jsonl') },
        options: { keyColumn: 'email', concurrency: 1 },
      },
    };
    const names = [
      ...['s1', 'p1', 's2', 's3', 'p2', 's4', 's5', 'p3', 's6', 's7'],
      ...['p4', 's8', 's9', 'pk', 's10', 's11', 's12', 's13', 's14', 's15'],
    ];
    for (const [i, name] of names.entries()) {
      const credentialId = credentials[i % KEYS.length];
      const destination = destinations[name];
      const body = destination
        ? { kind: 'destination', name, credentialId, operation: 'candidate.create', ...destination }
        : {
            kind: 'source',
            name,
            credentialId,
            streams: STREAMS,
            target: { type: 'sqlite', path: path.join(dataDir, `${name}.db`) },
          };
      const res = await api('POST', '/flows', body);
      expect(res.status, await res.clone().text()).toBe(201);
      const id = ((await res.json()) as { flow: { id: string } }).flow.id;
      flows.push({ id, name, kind: destination ? 'destination' : 'source' });
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

  it('runs every flow once, on the workers: tables equal to the sandbox world, each input row one candidate created once', async () => {
    const queued: RunView[] = [];
    for (const f of flows) {
      const res = await api('POST', `/flows/${f.id}/run`);
      expect(res.status).toBe(202);
      const r = ((await res.json()) as { run: RunView }).run;
      // Queued, unless an idle worker took it before the answer was written (then it is its run).
      if (r.status === 'queued') expect(r.worker).toBeNull();
      else expect(r).toMatchObject({ status: 'running', worker: expect.stringMatching(/^w\d$/) });
      queued.push(r);
      // Queued or running already: never a second run of the flow.
      const again = await api('POST', `/flows/${f.id}/run`);
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
    // Every worker had a share of the work.
    expect(new Set(finished.map((r) => r.worker)).size).toBe(3);
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
    for (const f of flows)
      expect(text).toMatch(new RegExp(`ashpipe_flow_seconds_since_last_success\\{[^}]*flow_id="${f.id}"`));
    for (const key of KEYS) expect(text).not.toContain(key);
    const listed = (await (await api('GET', '/runs?limit=100')).json()) as { runs: RunView[] };
    expect(listed.runs).toHaveLength(flows.length);
    for (const f of flows) if (f.kind === 'source') await expectExactTables(f.name);

    // Each destination run read its four rows and created four candidates.
    for (const f of flows.filter((x) => x.kind === 'destination')) {
      const r = finished.find((x) => x.flowId === f.id);
      expect(r?.counts, f.name).toEqual([
        expect.objectContaining({ name: 'candidate.create', status: 'succeeded', read: 4, written: 4 }),
      ]);
    }
    const pushed = Object.values(INPUTS).flat();
    expectCreatedOnce(pushed);
    expect(creates()).toBe(pushed.length);
    const ledger = await pushLedger();
    expect(ledger.entries).toEqual(doneEntries(pushed));
    expect(ledger.outcomes).toEqual(Object.keys(INPUTS).map(() => 'finished'));

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

  it('a worker killed mid-sync: another resumes the run and it ends exact; none is left running', async () => {
    const f = flow('s2');
    const { queued, mid } = await runToMidway(f);
    const victim = workers.get(mid.worker as string);
    if (!victim) throw new Error(`no worker ${mid.worker}`);
    victim.child.kill('SIGKILL');
    await exited(victim.child);
    const killedAt = Date.now();
    const done = await untilEnded(queued.id, 'the run to end on another worker');
    expect(done.status, JSON.stringify(done)).toBe('succeeded');
    expect(done.worker).not.toBe(mid.worker);
    // Lease 4 s + maintenance 1 s + poll: well within the stated bound, and far under two minutes.
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    await expectExactTables(f.name);
    const listed = (await (await api('GET', '/runs?limit=100')).json()) as { runs: RunView[] };
    expect(listed.runs.filter((r) => !ended(r))).toEqual([]);
    startWorker(`${mid.worker}-again`);
  }, 90_000);

  it('a worker killed mid-push: another takes the run over from the ledger; each row one candidate, created once', async () => {
    const f = flow('pk');
    // The flow's file now holds twelve people it has not pushed; the sandbox answers slowly, so the kill
    // lands with creates still to send.
    fs.writeFileSync(path.join(dataDir, 'pk.jsonl'), jsonl(PK_SECOND));
    const before = creates();
    const sent = () => creates() - before;
    sandbox.faults.set({ latencyMs: 60 });
    const res = await api('POST', `/flows/${f.id}/run`);
    expect(res.status).toBe(202);
    const queued = ((await res.json()) as { run: RunView }).run;
    const mid = await until(
      'three creates of the run',
      async () => {
        const r = await run(queued.id);
        return r.status === 'running' && r.worker && sent() >= 3 ? r : undefined;
      },
      30_000,
    );
    const victim = workers.get(mid.worker as string);
    if (!victim) throw new Error(`no worker ${mid.worker}`);
    victim.child.kill('SIGKILL');
    await exited(victim.child);
    const killedAt = Date.now();
    expect(sent()).toBeLessThan(PK_SECOND.length);
    const done = await untilEnded(queued.id, 'the push to end on another worker');
    expect(done.status, JSON.stringify(done)).toBe('succeeded');
    expect(done.worker).not.toBe(mid.worker);
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    // The run read all twelve rows again; those the dead worker had created were found done, not sent.
    expect(done.counts).toEqual([
      expect.objectContaining({ name: 'candidate.create', read: PK_SECOND.length }),
    ]);
    const skipped = Number(/(\d+) skipped \(already applied\)/.exec(done.counts[0]?.message ?? '')?.[1]);
    expect(skipped).toBeGreaterThanOrEqual(2);
    expect((done.counts[0]?.written ?? 0) + skipped).toBe(PK_SECOND.length);
    // Each row sent once, whether the dead worker or its successor sent it.
    expectCreatedOnce(PK_SECOND);
    expect(sent()).toBe(PK_SECOND.length);
    // The ledger: every row of every push done; the dead worker's push run was found dead and abandoned.
    const ledger = await pushLedger();
    expect(ledger.entries).toEqual(doneEntries([...Object.values(INPUTS).flat(), ...PK_SECOND]));
    expect(ledger.outcomes.filter((o) => o === 'abandoned')).toHaveLength(1);
    expect(ledger.outcomes.filter((o) => o === null)).toEqual([]);
    const listed = (await (await api('GET', '/runs?limit=100')).json()) as { runs: RunView[] };
    expect(listed.runs.filter((r) => !ended(r))).toEqual([]);
    startWorker(`${mid.worker}-again`);
  }, 90_000);

  it('SIGTERM: the worker drains (finishes its run or hands it back) and exits 0; the run ends exact', async () => {
    const f = flow('s3');
    const { queued, mid } = await runToMidway(f);
    const stopping = workers.get(mid.worker as string);
    if (!stopping) throw new Error(`no worker ${mid.worker}`);
    stopping.child.kill('SIGTERM');
    expect(await exited(stopping.child)).toBe(0);
    const done = await untilEnded(queued.id, 'the run to end');
    expect(done.status, JSON.stringify(done)).toBe('succeeded');
    await expectExactTables(f.name);
    expect(stopping.output.join('')).toContain('stopped');
  }, 90_000);

  it('a second signal stops the run at once (exit 130); the run is handed back and ends elsewhere', async () => {
    const f = flow('s1');
    const { queued, mid } = await runToMidway(f);
    const stopping = workers.get(mid.worker as string);
    if (!stopping) throw new Error(`no worker ${mid.worker}`);
    stopping.child.kill('SIGTERM');
    await sleep(200);
    stopping.child.kill('SIGINT');
    expect(await exited(stopping.child)).toBe(130);
    const done = await untilEnded(queued.id, 'the run to end');
    expect(done.status, JSON.stringify(done)).toBe('succeeded');
    expect(done.worker).not.toBe(mid.worker);
    await expectExactTables(f.name);
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

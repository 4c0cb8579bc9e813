/**
 * The workers part of `bench/fleet.ts`: runs per minute, successful requests per second and the 429 share
 * of 1, 2 and 4 `ashpipe worker` processes (the built CLI) taking the runs of many accounts from one
 * PostgreSQL control store.
 *
 * A sandbox holds one world, so accounts of different sizes are several sandboxes of different scales in
 * this process; the accounts of one size share its world, each with its own key and so its own token
 * bucket. `ashpipe serve --no-worker` holds the vault and the flows; "run now" queues every flow, the
 * workers run them. Measured from the first "run now" to the last run's end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ALL_SCOPES } from '../src/ashby/catalogue.js';
import { type Sandbox, type SandboxStats, startSandbox } from '../src/sandbox/index.js';
import { BIN, ROOT } from '../test/support/built-cli.js';
import { expectedStreamRecords } from '../test/support/world-oracle.js';

/** What to measure. */
export interface WorkersOptions {
  /** PostgreSQL where a scratch control store is created (and dropped at the end). */
  postgresUrl: string;
  /** Accounts (one key, one flow each); account `i` has the size `scales[i % scales.length]`. */
  accounts: number;
  /** Seeded candidates of each account size. */
  scales: readonly number[];
  /** Worker processes of each measurement, e.g. [1, 2, 4]. */
  workerCounts: readonly number[];
  /** `ashpipe worker --concurrency`: runs at once in each worker. */
  concurrency: number;
  /** The sandbox's limit per key (token bucket, burst as large) and each flow's `requestsPerSecond`. */
  rate: number;
  log: (line: string) => void;
}

/** One measurement: N workers over every account. */
export interface WorkersRow {
  workers: number;
  runs: number;
  succeeded: number;
  seconds: number;
  runsPerMinute: number;
  /** Requests the sandboxes received, those answered 200 and those answered 429. */
  requests: number;
  successful: number;
  rateLimited: number;
  successfulPerSecond: number;
  /** Runs whose records read per stream equal the stream's records in the account's world. */
  countsMatching: number;
  /** The mean and the longest time a run ran (its start on a worker to its end), seconds. */
  meanRunSeconds: number;
  longestRunSeconds: number;
  /** The higher 1-minute load average of the start and the end of the measurement. */
  load: number;
  /**
   * CPU used over the measurement, in cores (CPU seconds per second): the worker processes together, the
   * server, and this process (the sandboxes, and the polling of the runs); undefined off Linux.
   */
  cpu: { workers: number; serve: number; bench: number } | undefined;
  /** Share of the machine's CPU time that was busy (every process, PostgreSQL and other jobs included). */
  machineBusy: number | undefined;
}

export interface WorkersResult {
  rows: WorkersRow[];
  /** Each account size: its accounts, and the records and requests of one of its runs (the first measured). */
  sizes: Array<{ scale: number; accounts: number; records: number; requests: number }>;
}

interface RunView {
  id: string;
  flowId: string;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  worker: string | null;
  counts: Array<{ name: string; read: number; requests?: number }>;
}

/** CPU seconds a process has used so far (Linux `/proc`; clock ticks of 1/100 s), undefined elsewhere. */
function processCpu(pid: number | undefined): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name in parentheses: state is field 3, utime 14 and stime 15 of the whole line.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** The machine's busy and total CPU time so far (`/proc/stat`), undefined off Linux. */
function machineCpu(): { busy: number; total: number } | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const ticks = line.split(/\s+/).slice(1, 9).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    // idle and iowait are the idle columns.
    return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PASSWORD = 'fleet bench password';

/** Sums the counters of several sandboxes. */
function addStats(all: SandboxStats[]): { requests: number; successful: number; rateLimited: number } {
  let requests = 0;
  let successful = 0;
  let rateLimited = 0;
  for (const s of all) {
    requests += Object.values(s.requests).reduce((a, b) => a + b, 0);
    successful += s.responses['200'] ?? 0;
    rateLimited += s.rateLimited;
  }
  return { requests, successful, rateLimited };
}

interface CpuSnapshot {
  workers: Array<number | undefined>;
  serve: number | undefined;
  bench: NodeJS.CpuUsage;
  machine: { busy: number; total: number } | undefined;
  at: number;
}

/** The CPU used between two snapshots, in cores, and the machine's busy share. */
function cpuUse(a: CpuSnapshot, b: CpuSnapshot): Pick<WorkersRow, 'cpu' | 'machineBusy'> {
  const seconds = (b.at - a.at) / 1000;
  const delta = (x: number | undefined, y: number | undefined) =>
    x === undefined || y === undefined ? undefined : (y - x) / seconds;
  const workers = a.workers.map((x, i) => delta(x, b.workers[i]));
  const serve = delta(a.serve, b.serve);
  const bench = b.bench.user - a.bench.user + b.bench.system - a.bench.system;
  const cpu =
    serve === undefined || workers.some((w) => w === undefined)
      ? undefined
      : {
          workers: workers.reduce((sum: number, w) => sum + (w ?? 0), 0),
          serve,
          bench: bench / 1e6 / seconds,
        };
  const machineBusy =
    a.machine && b.machine
      ? (b.machine.busy - a.machine.busy) / (b.machine.total - a.machine.total)
      : undefined;
  return { cpu, machineBusy };
}

export async function benchWorkers(options: WorkersOptions): Promise<WorkersResult> {
  const { log } = options;
  const accounts = Array.from({ length: options.accounts }, (_, i) => ({
    name: `account-${String(i + 1).padStart(2, '0')}`,
    key: `fleet-account-${String(i + 1).padStart(2, '0')}-${randomBytes(4).toString('hex')}`,
    scale: options.scales[i % options.scales.length] as number,
  }));
  const sandboxes = new Map<number, Sandbox>();
  for (const [j, scale] of options.scales.entries()) {
    sandboxes.set(
      scale,
      await startSandbox({
        scale,
        seed: 31 + j,
        keys: accounts
          .filter((a) => a.scale === scale)
          .map((a) => ({ key: a.key, scopes: ALL_SCOPES, confidential: true })),
        faults: { rateLimit: { rps: options.rate, burst: options.rate } },
      }),
    );
  }
  const sandboxOf = (scale: number) => sandboxes.get(scale) as Sandbox;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-bench-workers-'));
  // The server's data directory: flow targets must be inside it.
  fs.mkdirSync(path.join(home, 'data'), { mode: 0o700 });
  const schema = `ashpipe_bw_${randomBytes(4).toString('hex')}`;
  const control = new URL(options.postgresUrl);
  control.searchParams.set('schema', schema);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ASHPIPE_HOME: home,
    ASHPIPE_ADMIN_PASSWORD: PASSWORD,
    ASHPIPE_MASTER_KEY: randomBytes(32).toString('base64'),
  };
  const children: ChildProcess[] = [];
  const spawnCli = (args: string[], output: string[]): ChildProcess => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
    child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
    children.push(child);
    return child;
  };
  const exited = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
  const until = async <T>(what: string, find: () => Promise<T | undefined> | T | undefined, ms: number) => {
    const end = Date.now() + ms;
    for (;;) {
      const found = await find();
      if (found !== undefined) return found;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(250);
    }
  };

  const serveOutput: string[] = [];
  let url = '';
  let cookie = '';
  let csrf = '';
  const api = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}/api/v1${p}`, {
      method,
      headers: {
        cookie,
        'x-csrf-token': csrf,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  let serve: ChildProcess | undefined;
  const rows: WorkersRow[] = [];
  const sizes: WorkersResult['sizes'] = [];
  try {
    const server = spawnCli(
      [
        'serve',
        '--port',
        '0',
        '--control',
        control.toString(),
        '--no-worker',
        '--metrics',
        'off',
        '--allow-http-base-url',
      ],
      serveOutput,
    );
    serve = server;
    url = await until(
      'serve to listen',
      () => {
        if (server.exitCode !== null) throw new Error(`serve exited: ${serveOutput.join('')}`);
        return /listening on (http:\/\/\S+)/.exec(serveOutput.join(''))?.[1];
      },
      60_000,
    );
    const login = await fetch(`${url}/api/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ password: PASSWORD }),
    });
    if (login.status !== 200) throw new Error(`login: ${login.status}`);
    cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    csrf = ((await login.json()) as { csrfToken: string }).csrfToken;

    // One credential per account in the vault, pointing at its sandbox.
    const credentials = new Map<string, string>();
    for (const a of accounts) {
      const { credential } = await api<{ credential: { id: string } }>('POST', '/credentials', {
        name: a.name,
        apiKey: a.key,
        baseUrl: sandboxOf(a.scale).url,
      });
      credentials.set(a.name, credential.id);
    }

    // What a full sync of each stream reads, from each world enumerated directly (not through the API).
    const expected = new Map<number, Map<string, number>>();
    const expectedCount = (scale: number, stream: string): number => {
      const perScale = expected.get(scale) ?? new Map<string, number>();
      expected.set(scale, perScale);
      const known = perScale.get(stream);
      if (known !== undefined) return known;
      const n = expectedStreamRecords(sandboxOf(scale), stream).length;
      perScale.set(stream, n);
      return n;
    };

    for (const n of options.workerCounts) {
      // Fresh flows into new SQLite files: every measurement is a first, full sync of every account.
      const dataDir = path.join(home, 'data', `${n}-workers`);
      fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const flows = new Map<string, (typeof accounts)[number]>();
      for (const a of accounts) {
        const { flow } = await api<{ flow: { id: string } }>('POST', '/flows', {
          kind: 'source',
          name: `${a.name} (${n} workers)`,
          credentialId: credentials.get(a.name),
          target: { type: 'sqlite', path: path.join(dataDir, `${a.name}.db`) },
          options: { requestsPerSecond: options.rate },
        });
        flows.set(flow.id, a);
      }
      const workers: Array<{ child: ChildProcess; output: string[] }> = [];
      for (let w = 1; w <= n; w++) {
        const output: string[] = [];
        const child = spawnCli(
          [
            'worker',
            '--control',
            control.toString(),
            '--name',
            `w${w}`,
            '--concurrency',
            String(options.concurrency),
          ],
          output,
        );
        workers.push({ child, output });
      }
      await until(
        `${n} workers to start`,
        () => {
          for (const w of workers)
            if (w.child.exitCode !== null) throw new Error(`a worker exited: ${w.output.join('')}`);
          return workers.every((w) => w.output.join('').includes('taking runs from')) ? true : undefined;
        },
        60_000,
      );
      for (const s of sandboxes.values()) s.resetStats();
      const loadBefore = os.loadavg()[0] ?? 0;
      const cpuSnapshot = () => ({
        workers: workers.map((w) => processCpu(w.child.pid)),
        serve: processCpu(serve?.pid),
        bench: process.cpuUsage(),
        machine: machineCpu(),
        at: Date.now(),
      });
      const cpuFrom = cpuSnapshot();
      const from = Date.now();
      const runIds = new Set<string>();
      for (const flowId of flows.keys())
        runIds.add((await api<{ run: { id: string } }>('POST', `/flows/${flowId}/run`)).run.id);
      const ended = (r: RunView) => r.status !== 'queued' && r.status !== 'running';
      const runs = await until(
        'every run to end',
        async () => {
          const { runs } = await api<{ runs: RunView[] }>('GET', '/runs?limit=500');
          const ours = runs.filter((r) => runIds.has(r.id));
          return ours.length === runIds.size && ours.every(ended) ? ours : undefined;
        },
        30 * 60_000,
      );
      const to = Math.max(...runs.map((r) => Date.parse(r.finishedAt ?? '')));
      const cpuTo = cpuSnapshot();
      const load = os.loadavg()[0] ?? 0;
      const totals = addStats([...sandboxes.values()].map((s) => s.stats()));
      await Promise.all(
        workers.map(async (w) => {
          w.child.kill('SIGTERM');
          await exited(w.child);
        }),
      );
      let countsMatching = 0;
      for (const r of runs) {
        const a = flows.get(r.flowId);
        if (!a) throw new Error(`run ${r.id} of an unknown flow`);
        const wrong = r.counts.filter((c) => c.read !== expectedCount(a.scale, c.name));
        if (wrong.length === 0 && r.counts.length > 0) countsMatching++;
        else
          log(
            `run ${r.id} (${a.name}): ${wrong.map((c) => `${c.name} read ${c.read}, world ${expectedCount(a.scale, c.name)}`).join('; ')}`,
          );
      }
      if (sizes.length === 0)
        for (const scale of options.scales) {
          const run = runs.find((r) => flows.get(r.flowId)?.scale === scale);
          sizes.push({
            scale,
            accounts: accounts.filter((a) => a.scale === scale).length,
            records: run ? run.counts.reduce((sum, c) => sum + c.read, 0) : 0,
            requests: run ? run.counts.reduce((sum, c) => sum + (c.requests ?? 0), 0) : 0,
          });
        }
      const durations = runs.map((r) => (Date.parse(r.finishedAt ?? '') - Date.parse(r.startedAt)) / 1000);
      const seconds = (to - from) / 1000;
      const row: WorkersRow = {
        workers: n,
        runs: runs.length,
        succeeded: runs.filter((r) => r.status === 'succeeded').length,
        seconds,
        runsPerMinute: (runs.length / seconds) * 60,
        ...totals,
        successfulPerSecond: totals.successful / seconds,
        countsMatching,
        meanRunSeconds: durations.reduce((a, b) => a + b, 0) / durations.length,
        longestRunSeconds: Math.max(...durations),
        load: Math.max(load, loadBefore),
        ...cpuUse(cpuFrom, cpuTo),
      };
      log(`${n} workers: ${JSON.stringify(row)}`);
      rows.push(row);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.race([Promise.all(children.map(exited)), sleep(15_000)]);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of sandboxes.values()) await s.close();
    const admin = new pg.Client({ connectionString: options.postgresUrl });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}_queue" CASCADE`);
    await admin.end();
    fs.rmSync(home, { recursive: true, force: true });
  }
  return { rows, sizes };
}

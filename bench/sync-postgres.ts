import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { buildDist, ROOT, runChild, startSandboxProcess } from './children.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scale: { type: 'string' },
    pairs: { type: 'string' },
    pg: { type: 'string' },
    child: { type: 'string' },
    url: { type: 'string' },
    target: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
  },
});

interface Measured {
  records: number;
  requests: number;
  cpuUs: number;
  wallMs: number;
}

// ---------------------------------------------------------------------------------------------------
// The floor (child mode)

async function floorChild(): Promise<void> {
  const url = values.url;
  const target = values.target;
  if (!url || !target) throw new Error('floor: --url and --target are required');
  const schema = new URL(target).searchParams.get('schema') ?? 'public';
  const connection = new URL(target);
  connection.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: connection.toString() });
  await client.connect();
  const auth = `Basic ${Buffer.from('sandbox-full:').toString('base64')}`;
  const cpu = process.cpuUsage();
  const start = performance.now();
  let records = 0;
  let requests = 0;
  await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  for (const endpoint of ['candidate.list', 'application.list']) {
    const table = `"${schema}"."${endpoint.replace('.', '_')}"`;
    await client.query(`CREATE TABLE IF NOT EXISTS ${table} (id text PRIMARY KEY, raw jsonb NOT NULL)`);
    const upsert = {
      name: `floor_${endpoint.replace('.', '_')}`,
      text: `INSERT INTO ${table} (id, raw) SELECT e ->> 'id', e FROM jsonb_array_elements($1::jsonb) AS e
             ON CONFLICT (id) DO UPDATE SET raw = EXCLUDED.raw`,
    };
    let cursor: string | undefined;
    for (;;) {
      const res = await fetch(`${url}/${endpoint}`, {
        method: 'POST',
        headers: {
          authorization: auth,
          'content-type': 'application/json',
          accept: 'application/json; version=1',
        },
        body: JSON.stringify(cursor ? { limit: 100, cursor } : { limit: 100 }),
      });
      requests++;
      const page = JSON.parse(await res.text()) as {
        success: boolean;
        results: Array<{ id: string }>;
        moreDataAvailable?: boolean;
        nextCursor?: string;
      };
      if (!page.success) throw new Error(`${endpoint} failed`);
      await client.query('BEGIN');
      await client.query({ ...upsert, values: [JSON.stringify(page.results)] });
      await client.query('COMMIT');
      records += page.results.length;
      if (!page.moreDataAvailable || !page.nextCursor) break;
      cursor = page.nextCursor;
    }
  }
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - start;
  await client.end();
  process.stdout.write(`${JSON.stringify({ records, requests, cpuUs: used.user + used.system, wallMs })}\n`);
}

// ---------------------------------------------------------------------------------------------------
// Orchestration

/** Where this bench compiles `src/` for the sync child (its own directory, so other benches can run at once). */
const DIST = path.join(ROOT, 'node_modules', '.cache', 'ashpipe-bench', 'dist-sync-postgres');

const CLOCK_TICKS = 100;

/** utime + stime of a process in µs, or undefined once it is gone. */
function procCpuUs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * Samples the CPU of the server processes whose connections carry `application_name = tag` while `run`
 * goes; returns the sum of the last sample of each.
 */
async function withBackendCpu<T>(
  admin: pg.Client,
  tag: string,
  run: () => Promise<T>,
): Promise<{ value: T; backendCpuUs: number; backends: number }> {
  const last = new Map<number, number>();
  let done = false;
  const sampler = (async () => {
    let tick = 0;
    while (!done) {
      if (tick % 10 === 0) {
        const { rows } = await admin.query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
          [tag],
        );
        for (const r of rows) if (!last.has(r.pid)) last.set(r.pid, 0);
      }
      for (const pid of last.keys()) {
        const us = procCpuUs(pid);
        if (us !== undefined) last.set(pid, us);
      }
      tick++;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    const value = await run();
    return { value, backendCpuUs: [...last.values()].reduce((a, b) => a + b, 0), backends: last.size };
  } finally {
    done = true;
    await sampler;
  }
}

function tmpFile(name: string): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-')), name);
}

const fmt = (n: number, d = 2) => n.toFixed(d);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

async function main(): Promise<void> {
  const quick = values.quick ?? false;
  const scale = Number(values.scale ?? (quick ? 2_000 : 20_000));
  const pairs = Number(values.pairs ?? 3);
  const pgUrl = values.pg ?? process.env.ASHPIPE_TEST_POSTGRES_URL;
  if (!pgUrl) throw new Error('bench:sync:postgres needs --pg postgres://… (or ASHPIPE_TEST_POSTGRES_URL)');
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log('building the compiled sync child');
  await buildDist(DIST);
  const admin = new pg.Client({ connectionString: pgUrl });
  await admin.connect();
  const serverVersion = String((await admin.query('SHOW server_version')).rows[0]?.server_version ?? '?');
  const schemas: string[] = [];
  const targetFor = (kind: string, i: number): { target: string; tag: string } => {
    const schema = `bench_p7_${process.pid}_${kind}_${i}`;
    schemas.push(schema);
    const url = new URL(pgUrl);
    url.searchParams.set('schema', schema);
    url.searchParams.set('application_name', schema);
    return { target: url.toString(), tag: schema };
  };
  const drop = async () => {
    for (const s of schemas.splice(0)) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  };
  log(`P7: sandbox scale ${scale}, ${pairs} pairs`);
  const sb = await startSandboxProcess(scale);
  const runs: Array<{
    floor: Measured & { backendCpuUs: number };
    sync: Measured & { backendCpuUs: number };
    sqlite: Measured;
  }> = [];
  try {
    // Warm the sandbox's generated records so that no measured run pays for it first.
    await runChild<Measured>([
      'bench/sync-postgres.ts',
      '--child',
      'floor',
      '--url',
      sb.url,
      '--target',
      targetFor('warm', 0).target,
    ]);
    await drop();
    for (let i = 0; i < pairs; i++) {
      const f = targetFor('floor', i);
      const floor = await withBackendCpu(admin, f.tag, () =>
        runChild<Measured>([
          'bench/sync-postgres.ts',
          '--child',
          'floor',
          '--url',
          sb.url,
          '--target',
          f.target,
        ]),
      );
      const s = targetFor('sync', i);
      const sync = await withBackendCpu(admin, s.tag, () =>
        runChild<Measured>(['bench/sync-child.mjs', '--dist', DIST, '--url', sb.url, '--target', s.target]),
      );
      await drop();
      const sqlite = await runChild<Measured>([
        'bench/sync-child.mjs',
        '--dist',
        DIST,
        '--url',
        sb.url,
        '--target',
        `sqlite:${tmpFile('p7.db')}`,
      ]);
      const perRecord = (m: Measured) => m.cpuUs / Math.max(1, m.records);
      log(
        `pair ${i + 1}: floor ${fmt(perRecord(floor.value), 1)} µs/record (backend ${fmt(floor.backendCpuUs / floor.value.records, 1)}), ` +
          `sync ${fmt(perRecord(sync.value), 1)} µs/record (backend ${fmt(sync.backendCpuUs / sync.value.records, 1)}, ${sync.backends} connections), ` +
          `wall ${fmt(sync.value.wallMs / 1000, 1)} s vs SQLite ${fmt(sqlite.wallMs / 1000, 1)} s`,
      );
      runs.push({
        floor: { ...floor.value, backendCpuUs: floor.backendCpuUs },
        sync: { ...sync.value, backendCpuUs: sync.backendCpuUs },
        sqlite,
      });
    }
  } finally {
    await drop().catch(() => undefined);
    await admin.end();
    await sb.stop();
  }
  const perRecord = (m: Measured) => m.cpuUs / Math.max(1, m.records);
  const backendPerRecord = (m: Measured & { backendCpuUs: number }) =>
    m.backendCpuUs / Math.max(1, m.records);
  const ratios = runs.map((r) => perRecord(r.sync) / perRecord(r.floor));
  const walls = runs.map((r) => r.sync.wallMs / r.sqlite.wallMs);
  const ratio = median(ratios);
  const wall = median(walls);
  const records = runs[0]?.sync.records ?? 0;
  const verdict = (ok: boolean) => (ok ? 'pass' : '**FAIL**');
  const heading = '## Sync on PostgreSQL';
  const section = [
    heading,
    '',
    `Command: \`npm run bench:sync:postgres${quick || values.pairs ? ` --${quick ? ' --quick' : ''}${values.pairs ? ` --pairs ${pairs}` : ''}` : ''}\`. ${quick ? '**Quick run (small scale): not the target scale.** ' : ''}` +
      `A sandbox of ${scale} candidates in its own process; a full sync of candidates + applications (${records} records) by the compiled sync in a fresh child process (\`bench/sync-child.mjs\`) into a new PostgreSQL schema, against the floor in \`bench/sync-postgres.ts\` (fetch each page of 100, \`JSON.parse\`, upsert \`(id, raw jsonb)\` with one prepared multi-row statement, the page as one jsonb parameter, one transaction per page), ${pairs} alternating floor/sync pairs, each followed by a SQLite sync of the same sandbox for the wall time. ` +
      'Client CPU: `process.cpuUsage()` of the child. Backend CPU: utime + stime of the PostgreSQL server processes of the run (`/proc/<pid>/stat`, found by `application_name`, sampled every 20 ms). ' +
      `PostgreSQL ${serverVersion} on the same machine. Machine: ${os.cpus()[0]?.model ?? 'unknown'} (${os.cpus().length} logical CPUs), load average ${os
        .loadavg()
        .map((l) => fmt(l, 1))
        .join(' ')} at the end, Node ${process.version}. Date: ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| | measure | median | target | result |',
    '| --- | --- | ---: | --- | --- |',
    `| P7 | client CPU per record: ashpipe ${fmt(median(runs.map((r) => perRecord(r.sync))), 1)} µs vs floor ${fmt(median(runs.map((r) => perRecord(r.floor))), 1)} µs (pairs: ${ratios.map((r) => fmt(r)).join(', ')}) | ${fmt(ratio)}× | ≤ 1.2× | ${verdict(ratio <= 1.2)} |`,
    `| P7 | backend CPU per record: ashpipe ${fmt(median(runs.map((r) => backendPerRecord(r.sync))), 1)} µs vs floor ${fmt(median(runs.map((r) => backendPerRecord(r.floor))), 1)} µs | ${fmt(median(runs.map((r) => backendPerRecord(r.sync) / backendPerRecord(r.floor))))}× | stated | — |`,
    `| P7 | wall: PostgreSQL ${fmt(median(runs.map((r) => r.sync.wallMs)) / 1000, 1)} s vs SQLite ${fmt(median(runs.map((r) => r.sqlite.wallMs)) / 1000, 1)} s (pairs: ${walls.map((w) => fmt(w)).join(', ')}) | ${fmt(wall)}× | ≤ 1.3× | ${verdict(wall <= 1.3)} |`,
    '',
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (!values['dry-run']) writeSection(heading, section);
}

/** Replaces (or appends) the section that starts with `heading` in BENCHMARKS.md. */
function writeSection(heading: string, section: string): void {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const re = new RegExp(`${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n[\\s\\S]*?(?=\n## |$)`);
  const next = re.test(current) ? current.replace(re, section) : `${current.trimEnd()}\n\n${section}`;
  fs.writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}

if (values.child === 'floor') await floorChild();
else await main();

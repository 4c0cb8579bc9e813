import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildDist, ROOT, runChild, startSandboxProcess } from './children.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scale: { type: 'string' },
    'p1-scale': { type: 'string' },
    'big-scale': { type: 'string' },
    child: { type: 'string' },
    url: { type: 'string' },
    faults: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    only: { type: 'string' },
    'nc-scale': { type: 'string' },
    'reads-scale': { type: 'string' },
    pairs: { type: 'string' },
    pg: { type: 'string' },
  },
});

interface Measured {
  records: number;
  requests: number;
  cpuUs: number;
  wallMs: number;
  maxRssKb: number;
  streams?: Array<{ stream: string; pages: number; requests: number; records: number; notDue?: boolean }>;
  rateLimited?: number;
  /** From the first request sent to the last response received. */
  requestWindowMs?: number;
}

// ---------------------------------------------------------------------------------------------------
// Child modes

async function childSandbox(): Promise<void> {
  const { startSandbox } = await import('../src/sandbox/index.js');
  const faults = values.faults ? (JSON.parse(values.faults) as Record<string, unknown>) : {};
  const sandbox = await startSandbox({ scale: Number(values.scale ?? 1000), faults });
  process.stdout.write(`${sandbox.url}\n`);
  process.on('SIGTERM', () => {
    void sandbox.close().then(() => process.exit(0));
  });
}

// ---------------------------------------------------------------------------------------------------
// Orchestration

/** Where the bench compiles `src/` (under node_modules, so that the compiled code finds the dependencies). */
// One per mode, so that two modes can run at once without removing each other's build.
const DIST = path.join(ROOT, 'node_modules', '.cache', 'ashpipe-bench', `dist-${values.only ?? 'all'}`);

/** Runs the sync child (compiled code, plain node) with `args`. */
function syncArgs(args: string[]): string[] {
  return ['bench/sync-child.mjs', '--dist', DIST, ...args];
}

async function control(url: string, pathName: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${url}${pathName}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return res.json();
}

function tmpFile(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  return path.join(dir, name);
}

const fmt = (n: number, d = 2) => n.toFixed(d);
/** The machine's 1, 5 and 15 minute load averages (2 cores shared with other jobs move every CPU figure). */
const loadAverage = (): string =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const mb = (kb: number) => kb / 1024;

async function main(): Promise<void> {
  const quick = values.quick ?? false;
  // Candidates + applications ≈ 2.3 records per candidate in the sandbox.
  const p1Scale = Number(values['p1-scale'] ?? (quick ? 4_000 : 100_000));
  const scale = Number(values.scale ?? (quick ? 4_000 : 43_500));
  const bigScale = Number(values['big-scale'] ?? (quick ? 40_000 : 435_000));
  const lines: string[] = [];
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log('building the compiled sync child');
  await buildDist(DIST);

  // P1 + P3 on one sandbox.
  log(`P1/P3: sandbox scale ${p1Scale}`);
  const sb = await startSandboxProcess(p1Scale);
  let p1: { floor: Measured; sync: Measured; pairs: Array<{ floor: number; sync: number }> };
  let p3: { full: Measured; incremental: Measured; churned: unknown };
  let small: Measured;
  try {
    // Warm the sandbox's generated records so neither measured run pays for it first.
    await runChild<Measured>(['bench/floor.ts', '--url', sb.url, '--db', tmpFile('warm.db')]);
    // Alternating pairs, so that a neighbour's load moves both sides of a pair alike; the median pair counts.
    const perRecord = (m: Measured) => m.cpuUs / Math.max(1, m.records);
    const runs = await p1Pairs(sb.url);
    const target = runs.target;
    const { floor, sync } = runs;
    p1 = {
      floor,
      sync,
      pairs: runs.pairs.map((p) => ({ floor: perRecord(p.floor), sync: perRecord(p.sync) })),
    };
    const churned = await control(sb.url, '/_sandbox/mutate/churn', { fraction: 0.01, seed: 7 });
    const incremental = await runChild<Measured>(syncArgs(['--url', sb.url, '--target', target]));
    p3 = { full: sync, incremental, churned };
  } finally {
    await sb.stop();
  }

  if (scale === p1Scale) small = p1.sync;
  else {
    log(`P2: sandbox scale ${scale}`);
    const sbSmall = await startSandboxProcess(scale);
    try {
      small = await runChild<Measured>(
        syncArgs(['--url', sbSmall.url, '--target', `sqlite:${tmpFile('small.db')}`]),
      );
    } finally {
      await sbSmall.stop();
    }
  }

  log(`P2: sandbox scale ${bigScale}`);
  const big = await startSandboxProcess(bigScale);
  let large: Measured;
  try {
    large = await runChild<Measured>(syncArgs(['--url', big.url, '--target', `sqlite:${tmpFile('big.db')}`]));
  } finally {
    await big.stop();
  }

  log('P4/P5: sandbox at 10 req/s, 100 ms latency');
  const rate = 10;
  const latencyMs = 100;
  const limited = await startSandboxProcess(quick ? 1_500 : 3_000, {
    rateLimit: { rps: rate, burst: rate },
    latencyMs,
  });
  let p4: Measured;
  let stats: { rateLimited: number; requests: Record<string, number> };
  try {
    await control(limited.url, '/_sandbox/reset-stats', {});
    p4 = await runChild<Measured>(
      syncArgs([
        '--url',
        limited.url,
        '--target',
        `sqlite:${tmpFile('limited.db')}`,
        '--streams',
        'candidates,applications,jobs,users,departments,locations',
        '--rps',
        String(rate),
      ]),
    );
    stats = (await control(limited.url, '/_sandbox/stats')) as typeof stats;
  } finally {
    await limited.stop();
  }

  const r1 = median(p1.pairs.map((p) => p.sync / p.floor));
  const r2 = large.maxRssKb / small.maxRssKb;
  const r3 = p3.incremental.requests / p3.full.requests;
  const served = Object.values(stats.requests).reduce((a, b) => a + b, 0);
  // Sustained: requests over the window in which they were sent (first request to last response).
  const windowS = (p4.requestWindowMs ?? p4.wallMs) / 1000;
  const sustained = served / windowS / rate;
  const share429 = stats.rateLimited / Math.max(1, served);
  const longestPages = Math.max(...(p4.streams ?? []).map((s) => s.pages));
  const bound = Math.max(served / rate, (longestPages * latencyMs) / 1000);
  const r5 = p4.wallMs / 1000 / bound;

  const verdict = (ok: boolean) => (ok ? 'pass' : '**FAIL**');
  lines.push(
    '## Sync',
    '',
    `Command: \`npm run bench:sync${quick ? ' -- --quick' : ''}\`. ${quick ? '**Quick run (small scales): the figures below are not the full-scale targets.** ' : ''}` +
      'The sandbox runs in its own process; every sync runs in a fresh child process on `src/` compiled by the bench, without the TypeScript loader (`bench/sync-child.mjs`; `process.cpuUsage()`, peak RSS from `process.resourceUsage().maxRSS`).',
    '',
    '| | measure | ratio | target | result |',
    '| --- | --- | ---: | --- | --- |',
    `| P1 | CPU per record, full sync of candidates + applications (${p1.sync.records} records): ashpipe ${fmt(median(p1.pairs.map((p) => p.sync)), 1)} µs vs floor ${fmt(median(p1.pairs.map((p) => p.floor)), 1)} µs (medians of ${p1.pairs.length} alternating pairs; pair ratios ${p1.pairs.map((p) => fmt(p.sync / p.floor)).join(', ')}) | ${fmt(r1)}× | ≤ 1.15× | ${verdict(r1 <= 1.15)} |`,
    `| P2 | peak RSS: ${large.records} records ${fmt(mb(large.maxRssKb), 0)} MB vs ${small.records} records ${fmt(mb(small.maxRssKb), 0)} MB | ${fmt(r2)}× | ≤ 1.15×, < 200 MB | ${verdict(r2 <= 1.15 && mb(large.maxRssKb) < 200)} |`,
    `| P3 | requests: incremental after 1 % churn ${p3.incremental.requests} vs full refresh ${p3.full.requests} | 1/${fmt(1 / Math.max(r3, 1e-9), 0)} | ≤ 1/50 | ${verdict(r3 <= 1 / 50)} |`,
    `| P4 | at ${rate} req/s + ${latencyMs} ms latency: ${served} requests from first request to last response in ${fmt(windowS, 1)} s, ${stats.rateLimited} answered 429 | ${fmt(sustained * 100, 1)} % of the limit, ${fmt(share429 * 100, 2)} % 429 | ≥ 90 %, ≤ 1 % | ${verdict(sustained >= 0.9 && share429 <= 0.01)} |`,
    `| P5 | wall ${fmt(p4.wallMs / 1000, 1)} s vs max(${served} ÷ ${rate}, ${longestPages} pages × ${latencyMs} ms) = ${fmt(bound, 1)} s | ${fmt(r5)}× | ≤ 1.1× | ${verdict(r5 <= 1.1)} |`,
    '',
    `Scales: P1/P3 sandbox ${p1Scale} candidates; P2 ${scale} and ${bigScale} candidates; P4/P5 ${quick ? 1_500 : 3_000} candidates, \`--requests-per-second ${rate}\`. ` +
      `Churn: ${JSON.stringify(p3.churned)}. Machine: ${os.cpus()[0]?.model ?? 'unknown'} (${os.cpus().length} logical CPUs), ${os.platform()} ${os.release()}, load average ${loadAverage()} at the end, Node ${process.version}. Date: ${new Date().toISOString().slice(0, 10)}.`,
    '',
  );
  const section = lines.join('\n');
  process.stdout.write(`${section}\n`);
  if (!values['dry-run']) {
    const file = path.join(ROOT, 'BENCHMARKS.md');
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\n';
    const re = /## Sync\n[\s\S]*?(?=\n## |$)/;
    const next = re.test(current) ? current.replace(re, section) : `${current.trimEnd()}\n\n${section}`;
    fs.writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
  }
}

/** Replaces (or appends) the section that starts with `heading` in BENCHMARKS.md. */
function writeSection(heading: string, section: string): void {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n\n';
  const re = new RegExp(`${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n[\\s\\S]*?(?=\n## |$)`);
  const next = re.test(current) ? current.replace(re, section) : `${current.trimEnd()}\n\n${section}`;
  fs.writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}

/** Floor/sync pairs behind each P1 figure: enough for a median that a noisy neighbour cannot move. */
const PAIRS = Number(values.pairs ?? 5);

/**
 * {@link PAIRS} floor/sync pairs run alternately on one sandbox (each sync into a new SQLite file); returns
 * them with the last pair's runs and target (P3 continues from that target).
 */
async function p1Pairs(url: string): Promise<{
  pairs: Array<{ floor: Measured; sync: Measured }>;
  floor: Measured;
  sync: Measured;
  target: string;
}> {
  const pairs: Array<{ floor: Measured; sync: Measured }> = [];
  let target = '';
  for (let i = 0; i < PAIRS; i += 1) {
    const floor = await runChild<Measured>(['bench/floor.ts', '--url', url, '--db', tmpFile('floor.db')]);
    target = `sqlite:${tmpFile('sync.db')}`;
    const sync = await runChild<Measured>(syncArgs(['--url', url, '--target', target]));
    pairs.push({ floor, sync });
    process.stderr.write(
      `P1 pair ${i + 1}/${PAIRS}: ${(sync.cpuUs / sync.records / (floor.cpuUs / floor.records)).toFixed(2)}×\n`,
    );
  }
  const last = pairs[pairs.length - 1];
  if (!last) throw new Error('--pairs must be at least 1');
  return { pairs, floor: last.floor, sync: last.sync, target };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

/**
 * P1 on the Node running the bench, with the SQLite build `src/util/sqlite.ts` picks for it: five
 * floor/sync pairs run alternately on one sandbox, the median of the per-pair ratios. One row per Node.
 */
async function p1ByNode(): Promise<void> {
  const quick = values.quick ?? false;
  const p1Scale = Number(values['p1-scale'] ?? (quick ? 4_000 : 100_000));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log('building the compiled sync child');
  await buildDist(DIST);
  const { SQLITE_DRIVER } = await import('../src/util/sqlite.js');
  const driverVersion = (
    JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', SQLITE_DRIVER, 'package.json'), 'utf8')) as {
      version: string;
    }
  ).version;
  log(`P1 on Node ${process.version} (${SQLITE_DRIVER} ${driverVersion}): sandbox scale ${p1Scale}`);
  const sb = await startSandboxProcess(p1Scale);
  const pairs: Array<{ floor: number; sync: number }> = [];
  const perRecord = (m: Measured) => m.cpuUs / Math.max(1, m.records);
  try {
    await runChild<Measured>(['bench/floor.ts', '--url', sb.url, '--db', tmpFile('warm.db')]);
    for (let i = 0; i < PAIRS; i += 1) {
      const floor = await runChild<Measured>([
        'bench/floor.ts',
        '--url',
        sb.url,
        '--db',
        tmpFile('floor.db'),
      ]);
      const sync = await runChild<Measured>(
        syncArgs(['--url', sb.url, '--target', `sqlite:${tmpFile('sync.db')}`]),
      );
      pairs.push({ floor: perRecord(floor), sync: perRecord(sync) });
    }
  } finally {
    await sb.stop();
  }
  const ratio = median(pairs.map((p) => p.sync / p.floor));
  const row = `| ${process.version} | ${SQLITE_DRIVER} ${driverVersion} | ${fmt(median(pairs.map((p) => p.floor)), 1)} | ${fmt(median(pairs.map((p) => p.sync)), 1)} | ${fmt(ratio)}× | ${pairs.map((p) => fmt(p.sync / p.floor)).join(', ')} | ${ratio <= 1.15 ? 'pass' : '**FAIL**'} |`;
  const heading = '## SQLite build by Node';
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const existing = current.match(new RegExp(`${heading}\n[\\s\\S]*?(?=\n## |$)`))?.[0] ?? '';
  const major = process.version.split('.')[0] ?? '';
  const rows = existing
    .split('\n')
    .filter((l) => /^\| v\d/.test(l) && !l.startsWith(`| ${major}.`))
    .concat(row)
    .sort();
  const section = [
    heading,
    '',
    `P1 (CPU per record of a full sync of candidates + applications, ${p1Scale} candidates, against \`bench/floor.ts\` on the same SQLite build) on each Node the project supports, with the build \`src/util/sqlite.ts\` chooses there. Median of ${PAIRS} alternating floor/sync pairs on one sandbox; target ≤ 1.15× (issue #19). Command, under each Node: \`npm run bench:sync -- --only p1-node\`. Machine: ${os.cpus()[0]?.model ?? 'unknown'} (${os.cpus().length} logical CPUs), ${os.platform()} ${os.release()}, load average ${loadAverage()} at the end of the last run. Last updated: ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| Node | SQLite build | floor µs/record | ashpipe µs/record | ratio | pairs | result |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
    ...rows,
    '',
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (!values['dry-run']) writeSection(heading, section);
}

/**
 * Requests of an incremental run in which nothing changed, every default stream: with refresh intervals
 * (the streams without a sync token stay fresh for a day) against the same run with `--refresh`.
 */
async function noChange(): Promise<void> {
  const quick = values.quick ?? false;
  const scale = Number(values['nc-scale'] ?? (quick ? 4_000 : 200_000));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log('building the compiled sync child');
  await buildDist(DIST);
  const { selectStreams } = await import('../src/streams/index.js');
  const streams = selectStreams().map((s) => s.name);
  log(`no-change run: sandbox scale ${scale}, ${streams.length} streams`);
  const sb = await startSandboxProcess(scale);
  let full: Measured;
  let fresh: Measured;
  let refreshed: Measured;
  try {
    const target = `sqlite:${tmpFile('nochange.db')}`;
    const args = ['--url', sb.url, '--target', target, '--streams', streams.join(',')];
    full = await runChild<Measured>(syncArgs(args));
    log(`full: ${full.requests} requests`);
    fresh = await runChild<Measured>(syncArgs(args));
    log(`no change: ${fresh.requests} requests`);
    refreshed = await runChild<Measured>(syncArgs([...args, '--refresh']));
    log(`no change, --refresh: ${refreshed.requests} requests`);
  } finally {
    await sb.stop();
  }
  const incremental = (fresh.streams ?? []).filter((s) => !s.notDue).length;
  const skipped = (fresh.streams ?? []).filter((s) => s.notDue);
  const top = [...(refreshed.streams ?? [])].sort((a, b) => b.requests - a.requests).slice(0, 3);
  const heading = '## No-change run';
  const section = [
    heading,
    '',
    `Command: \`npm run bench:sync -- --only no-change\`. Sandbox of ${scale} candidates, every default stream (${streams.length}) into SQLite: a full sync, then an incremental run with nothing changed, then the same run with \`--refresh\` (every stream without a sync token read again, which is what every run did before refresh intervals). Machine: ${os.cpus()[0]?.model ?? 'unknown'} (${os.cpus().length} logical CPUs), ${os.platform()} ${os.release()}, Node ${process.version}. Date: ${new Date().toISOString().slice(0, 10)}.`,
    '',
    '| run | requests | records read | wall |',
    '| --- | ---: | ---: | ---: |',
    `| full sync | ${full.requests} | ${full.records} | ${fmt(full.wallMs / 1000, 1)} s |`,
    `| no change (streams without a sync token still fresh) | ${fresh.requests} | ${fresh.records} | ${fmt(fresh.wallMs / 1000, 1)} s |`,
    `| no change, \`--refresh\` | ${refreshed.requests} | ${refreshed.records} | ${fmt(refreshed.wallMs / 1000, 1)} s |`,
    '',
    `The no-change run read ${incremental} streams (one request each where the stream has a sync token) and left ${skipped.length} streams without a sync token alone (${skipped.map((s) => s.stream).join(', ')}). With \`--refresh\` the most requests went to ${top.map((s) => `${s.stream} (${s.requests})`).join(', ')}.`,
    '',
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (!values['dry-run']) writeSection(heading, section);
}

/** Milliseconds `fn` takes, `runs` times. */
async function timed(runs: number, fn: (i: number) => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn(i);
    out.push(performance.now() - start);
  }
  return out;
}

const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

/** One object's values and a group-by over titles, on a SQLite and a PostgreSQL target synced from one sandbox. */
async function reads(): Promise<void> {
  const quick = values.quick ?? false;
  const scale = Number(values['reads-scale'] ?? (quick ? 4_000 : 200_000));
  const pgUrl = values.pg ?? process.env.ASHPIPE_TEST_POSTGRES_URL;
  if (!pgUrl) throw new Error('--only reads needs --pg postgres://… (or ASHPIPE_TEST_POSTGRES_URL)');
  const log = (s: string) => process.stderr.write(`${s}\n`);
  log('building the compiled sync child');
  await buildDist(DIST);
  const { openSqlite } = await import('../src/util/sqlite.js');
  const pg = (await import('pg')).default;
  const schema = `bench_reads_${process.pid}`;
  const file = tmpFile('reads.db');
  const pgTarget = new URL(pgUrl);
  pgTarget.searchParams.set('schema', schema);
  const one =
    "SELECT field_id, title, value FROM custom_field_values WHERE object_type = 'Candidate' AND object_id = $id";
  const group = 'SELECT title, count(*) AS n FROM custom_field_values GROUP BY title';
  const ONE_RUNS = 200;
  const GROUP_RUNS = 5;
  log(`reads: sandbox scale ${scale}`);
  const sb = await startSandboxProcess(scale);
  const rows: string[] = [];
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    const syncs: Record<string, Measured> = {};
    for (const [name, target] of [
      ['SQLite', `sqlite:${file}`],
      ['PostgreSQL', pgTarget.toString()],
    ] as const) {
      log(`reads: syncing candidates into ${name}`);
      syncs[name] = await runChild<Measured>(
        syncArgs(['--url', sb.url, '--target', target, '--streams', 'candidates']),
      );
    }
    const db = openSqlite(file, { readonly: true });
    try {
      const ids = (
        db.prepare(`SELECT id FROM candidates ORDER BY random() LIMIT ${ONE_RUNS}`).all() as Array<{
          id: string;
        }>
      ).map((r) => r.id);
      const count = (db.prepare('SELECT count(*) AS n FROM custom_field_values').get() as { n: number }).n;
      const sqliteOne = db.prepare(one.replace('$id', '?'));
      const sqliteGroup = db.prepare(group);
      const oneMs = await timed(ids.length, (i) => sqliteOne.all(ids[i]));
      const groupMs = await timed(GROUP_RUNS, () => sqliteGroup.all());
      rows.push(
        `| SQLite | ${syncs.SQLite?.records} | ${count} | ${fmt(quantile(oneMs, 0.5), 2)} / ${fmt(quantile(oneMs, 0.99), 2)} ms | ${fmt(quantile(groupMs, 0.5), 0)} ms | ${quantile(oneMs, 0.99) <= 10 && quantile(groupMs, 0.5) <= 1000 ? 'pass' : '**FAIL**'} |`,
      );
      await client.query(`SET search_path TO "${schema}"`);
      await client.query('ANALYZE custom_field_values');
      const pgCount = Number(
        (await client.query('SELECT count(*) AS n FROM custom_field_values')).rows[0]?.n,
      );
      const pgOne = await timed(ids.length, (i) => client.query(one.replace('$id', '$1'), [ids[i]]));
      const pgGroup = await timed(GROUP_RUNS, () => client.query(group));
      rows.push(
        `| PostgreSQL | ${syncs.PostgreSQL?.records} | ${pgCount} | ${fmt(quantile(pgOne, 0.5), 2)} / ${fmt(quantile(pgOne, 0.99), 2)} ms | ${fmt(quantile(pgGroup, 0.5), 0)} ms | ${quantile(pgOne, 0.99) <= 10 && quantile(pgGroup, 0.5) <= 1000 ? 'pass' : '**FAIL**'} |`,
      );
    } finally {
      db.close();
    }
  } finally {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await client.end();
    await sb.stop();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
  const heading = '## Custom field value reads';
  const section = [
    heading,
    '',
    `Command: \`npm run bench:sync -- --only reads\`. A sandbox of ${scale} candidates, its \`candidates\` stream synced into a new SQLite file and a new PostgreSQL schema by the compiled sync, then two reads of \`custom_field_values\` from the bench process: one object's values (\`${one.replace('$id', '?')}\`, ${ONE_RUNS} random candidates: median / p99; target ≤ 10 ms) and a group-by over all of them (\`${group}\`, median of ${GROUP_RUNS}; target ≤ 1 s). PostgreSQL ${quick ? '' : 'on the same machine, '}after ANALYZE. Machine: ${os.cpus()[0]?.model ?? 'unknown'} (${os.cpus().length} logical CPUs), load average ${os
      .loadavg()
      .map((l) => fmt(l, 1))
      .join(' ')} at the end, Node ${process.version}. Date: ${new Date().toISOString().slice(0, 10)}.`,
    '',
    "| store | records synced | values | one object's values | group-by over titles | result |",
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...rows,
    '',
  ].join('\n');
  process.stdout.write(`${section}\n`);
  if (!values['dry-run']) writeSection(heading, section);
}

if (values.child === 'sandbox') await childSandbox();
else if (values.only === 'p1-node') await p1ByNode();
else if (values.only === 'no-change') await noChange();
else if (values.only === 'reads') await reads();
else await main();

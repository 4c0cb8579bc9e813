/**
 * History mode benchmark: what `--history` costs a sync. The same runs of `candidates` + `applications`
 * into two targets of the same sink, one with history off and one with `--history candidates,applications`:
 * a first full sync, a full pass that finds nothing changed, and an incremental run after the sandbox
 * changed a share of its records (`churn`). SQLite always, PostgreSQL when ASHPIPE_TEST_POSTGRES_URL is set.
 *
 * Usage: npm run bench:history-mode [-- --scale 3000 --churn 0.05] [-- --dry-run]
 * Writes the "## History mode" section of BENCHMARKS.md.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startSandbox } from '../src/sandbox/index.js';
import { selectStreams } from '../src/streams/index.js';
import { type SyncSummary, syncToTarget } from '../src/sync/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = '## History mode';
const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '3000' },
    churn: { type: 'string', default: '0.05' },
    'dry-run': { type: 'boolean', default: false },
  },
});
const STREAMS = ['candidates', 'applications'];

interface Row {
  sink: string;
  run: string;
  off: number;
  on: number;
  versions: number;
}

async function main(): Promise<void> {
  const scale = Number(values.scale);
  const churn = Number(values.churn);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-bench-history-mode-'));
  const sandbox = await startSandbox({ scale, seed: 4 });
  const pgUrl = process.env.ASHPIPE_TEST_POSTGRES_URL;
  const schemas: string[] = [];
  const rows: Row[] = [];
  try {
    const targets: Array<{ sink: string; off: string; on: string; count: (t: string) => Promise<number> }> = [
      {
        sink: 'SQLite',
        off: `sqlite:${path.join(dir, 'off.db')}`,
        on: `sqlite:${path.join(dir, 'on.db')}`,
        count: async (t) => {
          const { openSqlite } = await import('../src/util/sqlite.js');
          const db = openSqlite(t.slice('sqlite:'.length), { readonly: true });
          try {
            return STREAMS.reduce(
              (n, s) => n + (db.prepare(`SELECT count(*) AS n FROM ${s}_history`).get() as { n: number }).n,
              0,
            );
          } finally {
            db.close();
          }
        },
      },
    ];
    if (pgUrl) {
      const schema = () => {
        const name = `bench_hist_${randomBytes(4).toString('hex')}`;
        schemas.push(name);
        return name;
      };
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      const off = schema();
      const on = schema();
      for (const s of [off, on]) await client.query(`CREATE SCHEMA ${s}`);
      await client.end();
      const sep = pgUrl.includes('?') ? '&' : '?';
      targets.push({
        sink: 'PostgreSQL',
        off: `${pgUrl}${sep}schema=${off}`,
        on: `${pgUrl}${sep}schema=${on}`,
        count: async () => {
          const c = new pg.Client({ connectionString: pgUrl });
          await c.connect();
          try {
            let n = 0;
            for (const s of STREAMS)
              n += Number((await c.query(`SELECT count(*) AS n FROM ${on}.${s}_history`)).rows[0]?.n ?? 0);
            return n;
          } finally {
            await c.end();
          }
        },
      });
    }
    const timed = async (target: string, history: boolean, fullRefresh: boolean): Promise<number> => {
      const started = performance.now();
      const summary: SyncSummary = await syncToTarget({
        apiKey: 'sandbox-full',
        baseUrl: sandbox.url,
        target,
        streams: selectStreams({ streams: STREAMS }),
        ...(history ? { history: STREAMS } : {}),
        ...(fullRefresh ? { fullRefresh: true } : {}),
      });
      if (summary.exitCode !== 0) throw new Error(`sync failed: ${JSON.stringify(summary.streams)}`);
      return performance.now() - started;
    };
    const runs: Array<{ run: string; fullRefresh: boolean; before?: () => void }> = [
      { run: 'first full sync', fullRefresh: false },
      { run: 'full pass, nothing changed', fullRefresh: true },
      { run: 'full pass, nothing changed (again)', fullRefresh: true },
      {
        run: `incremental after ${Math.round(churn * 100)}% of records changed`,
        fullRefresh: false,
        before: () => sandbox.mutate.churn(churn, 7),
      },
    ];
    for (const step of runs) {
      step.before?.();
      for (const t of targets) {
        const before = step.run === 'first full sync' ? 0 : await t.count(t.on);
        // Alternating which goes first spreads the machine's load over both.
        const first = rows.length % 2 === 0;
        const off = first ? await timed(t.off, false, step.fullRefresh) : 0;
        const on = await timed(t.on, true, step.fullRefresh);
        const offAfter = first ? off : await timed(t.off, false, step.fullRefresh);
        rows.push({
          sink: t.sink,
          run: step.run,
          off: offAfter,
          on,
          versions: (await t.count(t.on)) - before,
        });
      }
    }
    const records = sandbox.records('candidate.list').length + sandbox.records('application.list').length;
    const section = [
      SECTION,
      '',
      `Command: \`npm run bench:history-mode\`. In-process sandbox (scale ${scale}: ${records} candidates and applications), \`candidates\` + \`applications\`, the same runs into a target with history off and one with \`--history candidates,applications\`, one after the other (which goes first alternates); wall time of each run. The machine is shared (2 cores, other jobs running): ratios are from one run.`,
      '',
      '| sink | run | history off | history on | on / off | versions written |',
      '| ---- | --- | ----------: | ---------: | -------: | ---------------: |',
      ...rows.map(
        (r) =>
          `| ${r.sink} | ${r.run} | ${(r.off / 1000).toFixed(2)} s | ${(r.on / 1000).toFixed(2)} s | ${(r.on / r.off).toFixed(2)} | ${r.versions} |`,
      ),
      '',
      'With history off a page pays one property check (the "off" column is the sync as it was before history mode).',
      '',
      `Machine: ${os.cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'unknown'} (${os.cpus().length} logical CPUs), ${os.platform()} ${os.release()}, Node ${process.version}. Date: ${new Date().toISOString().slice(0, 10)}.`,
      '',
    ].join('\n');
    process.stdout.write(`${section}\n`);
    if (!values['dry-run']) writeSection(section);
  } finally {
    await sandbox.close();
    fs.rmSync(dir, { recursive: true, force: true });
    if (pgUrl && schemas.length > 0) {
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
      await c.end();
    }
  }
}

/** Replaces this benchmark's section of BENCHMARKS.md (or appends it), leaving other sections alone. */
function writeSection(section: string): void {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = existing.indexOf(`\n${SECTION}\n`);
  let next: string;
  if (start === -1) {
    next = `${existing.trimEnd()}\n\n${section}`;
  } else {
    const rest = existing.slice(start + 1 + SECTION.length);
    const end = rest.search(/^## /m);
    next = `${existing.slice(0, start + 1)}${section}${end === -1 ? '' : `\n${rest.slice(end)}`}`;
  }
  fs.writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}

await main();

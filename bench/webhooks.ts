/**
 * Webhook throughput and latency: signed `applicationUpdate` deliveries POSTed over loopback HTTP to the
 * receiver (signature check, inbox insert, 200), applied into SQLite and PostgreSQL through the sink's
 * write path. The receiver and the applier share this Node process (one core); the sender runs in a
 * process of its own (`webhooks-sender.ts`), so building, signing and sending requests is not counted
 * against the receiver.
 * Reports sustained events/s (first request to last row written) and event → row latency percentiles.
 *
 * Usage: npm run bench:webhooks [-- --events 5000 --records 500 --concurrency 16]
 * Writes the "## Webhooks" section of BENCHMARKS.md. PostgreSQL: ASHPIPE_TEST_POSTGRES_URL (skipped unset).
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openSink } from '../src/sinks/index.js';
import { inboxFor, startReceiver, WebhookApplier } from '../src/webhooks/index.js';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '5000' },
    records: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '16' },
    'dry-run': { type: 'boolean', default: false },
  },
});
const EVENTS = Number(values.events);
const RECORDS = Number(values.records);
const CONCURRENCY = Number(values.concurrency);
const SECRET = 'bench-secret';

interface Result {
  target: string;
  events: number;
  seconds: number;
  perSecond: number;
  /** Events per second of CPU time the receiver's process used (receiving, storing, applying). */
  perCpuSecond: number;
  p50: number;
  p95: number;
  p99: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Runs the sender process against `url`; resolves with when it sent each delivery (wall-clock ms), once
 * every delivery has been answered 200.
 */
function send(url: string, label: string): Promise<Map<string, number>> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(here, 'webhooks-sender.ts'),
      url,
      label,
      String(EVENTS),
      String(RECORDS),
      String(CONCURRENCY),
      SECRET,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`the sender exited with ${code}`));
      const sent = JSON.parse(out) as Array<[string, number]>;
      resolve(new Map(sent));
    });
  });
}

async function run(target: string, label: string): Promise<Result> {
  const sink = openSink(target);
  await sink.open();
  const inbox = inboxFor(target);
  await inbox.open();
  const appliedAt = new Map<string, number>();
  let allApplied: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allApplied = resolve;
  });
  const applier = new WebhookApplier({
    inbox,
    sink,
    client: {
      call: async () => {
        throw new Error('no re-read in this benchmark');
      },
    },
    onApplied: (ids) => {
      // Wall-clock milliseconds, comparable with the sender process's.
      const now = performance.timeOrigin + performance.now();
      for (const id of ids) appliedAt.set(id, now);
      if (appliedAt.size >= EVENTS) allApplied();
    },
  });
  const receiver = await startReceiver({ inbox, secret: SECRET, port: 0, onStored: () => applier.kick() });
  applier.start();
  const cpu = process.cpuUsage();
  const sentAt = await send(receiver.url, label);
  await done;
  const used = process.cpuUsage(cpu);
  const cpuSeconds = (used.user + used.system) / 1e6;
  const latencies = [...sentAt].map(([id, at]) => (appliedAt.get(id) ?? Number.NaN) - at);
  if (latencies.some((l) => Number.isNaN(l))) throw new Error(`${label}: an event was never applied`);
  // From the first request sent to the last event applied.
  const seconds = (Math.max(...appliedAt.values()) - Math.min(...sentAt.values())) / 1000;
  await receiver.close();
  await applier.stop();
  const rows = await sink.readRows('applications');
  if (rows.length !== RECORDS) throw new Error(`${label}: ${rows.length} rows, expected ${RECORDS}`);
  await inbox.close();
  await sink.close();
  latencies.sort((a, b) => a - b);
  return {
    target: label,
    events: EVENTS,
    seconds,
    perSecond: EVENTS / seconds,
    perCpuSecond: EVENTS / cpuSeconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
  };
}

async function main(): Promise<void> {
  const results: Result[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-bench-wh-'));
  try {
    results.push(await run(`sqlite:${path.join(dir, 'hooks.db')}`, 'SQLite'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const url = process.env.ASHPIPE_TEST_POSTGRES_URL;
  if (url) {
    const schema = `ashpipe_bench_${process.pid}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    try {
      results.push(await run(`${url}${url.includes('?') ? '&' : '?'}schema=${schema}`, 'PostgreSQL'));
    } finally {
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
      await admin.end();
    }
  } else process.stderr.write('ASHPIPE_TEST_POSTGRES_URL is not set: PostgreSQL skipped\n');
  const met = results.every((r) => r.perSecond >= 500 && r.p95 <= 1000);
  const section = [
    '## Webhooks',
    '',
    `${EVENTS} signed \`applicationUpdate\` deliveries (${RECORDS} applications, about 1.5 kB each) POSTed over loopback HTTP, ${CONCURRENCY} at a time, to \`startReceiver\` (signature check on the raw body, inbox insert, 200) with the applier writing through the sink; receiver and applier in one Node process (one core), the sender in a process of its own. Events/s: first request to last row applied. Latency: request sent → its event applied (row written and the inbox settled).`,
    '',
    '| target | events | seconds | events/s | events per CPU second | p50 ms | p95 ms | p99 ms |',
    '| ------ | -----: | ------: | -------: | --------------------: | -----: | -----: | -----: |',
    ...results.map(
      (r) =>
        `| ${r.target} | ${r.events} | ${r.seconds.toFixed(1)} | ${r.perSecond.toFixed(0)} | ${r.perCpuSecond.toFixed(0)} | ${r.p50.toFixed(0)} | ${r.p95.toFixed(0)} | ${r.p99.toFixed(0)} |`,
    ),
    '',
    "Events per CPU second: events divided by the CPU time the receiver's process used (user + system), what one core of its own would sustain; on a shared machine events/s is bounded by the share of a core the process gets.",
    '',
    `Targets: at least 500 events/s on one core and p95 at most 1 s — ${met ? 'met' : 'NOT met'}.`,
    '',
    `Machine: ${os.cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'unknown'} (${os.cpus().length} logical CPUs), ${os.platform()} ${os.release()}, Node ${process.version}, load average ${os.loadavg()[0]?.toFixed(1)} at the end. Date: ${new Date().toISOString().slice(0, 10)}. Command: \`npm run bench:webhooks\`.`,
    '',
  ].join('\n');
  if (!values['dry-run']) writeSection(section);
  process.stdout.write(`${section}\n`);
  if (!met) process.exitCode = 1;
}

/** Replaces the "## Webhooks" section of BENCHMARKS.md (or appends it), leaving other sections alone. */
function writeSection(section: string): void {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'BENCHMARKS.md');
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = existing.search(/^## Webhooks\s*$/m);
  let next: string;
  if (start === -1) {
    next = `${existing.trimEnd()}\n\n${section}`;
  } else {
    const rest = existing.slice(start + '## Webhooks'.length);
    const end = rest.search(/^## /m);
    next = `${existing.slice(0, start)}${section}${end === -1 ? '' : `\n${rest.slice(end)}`}`;
  }
  fs.writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}

await main();

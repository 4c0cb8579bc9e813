/**
 * Push throughput under a rate limit: `candidate.create` of new candidates (one `candidate.search` look-up
 * and one create each) against the in-process sandbox limited to `--rps` requests per second per key.
 * Reports successful requests per second as a share of the limit, the 429s the limiter ran into, and
 * duplicates counted by the sandbox per email (creates of one email beyond the first).
 *
 * Usage: npm run bench:push [-- --records 300 --rps 10 --concurrency 4]
 * Writes the "## Push" section of BENCHMARKS.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AshbyClient } from '../src/ashby/client.js';
import { Limiter } from '../src/ashby/limiter.js';
import { openControl } from '../src/control/open.js';
import { runPush } from '../src/push/engine.js';
import type { InputRow } from '../src/push/input.js';
import { findOperation } from '../src/push/operations/index.js';
import { startSandbox } from '../src/sandbox/index.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '300' },
    rps: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '4' },
  },
});
const records = Number(values.records);
const rps = Number(values.rps);
const concurrency = Number(values.concurrency);
const burst = rps;

async function main(): Promise<void> {
  const operation = findOperation('candidate.create');
  if (!operation) throw new Error('candidate.create is not registered');
  const sandbox = await startSandbox({ scale: 100, faults: { rateLimit: { rps, burst } } });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  const control = await openControl({ home });
  try {
    const rows: InputRow[] = Array.from({ length: records }, (_, i) => {
      const record = { name: `Bench ${i}`, email: `bench.${i}@example.com` };
      return { row: i + 1, record, raw: record };
    });
    const client = new AshbyClient({ apiKey: 'sandbox-full', baseUrl: sandbox.url, limiter: new Limiter() });
    sandbox.resetStats();
    const started = performance.now();
    const summary = await runPush({ client, control, operation, rows, concurrency });
    const seconds = (performance.now() - started) / 1000;

    const stats = sandbox.stats();
    const ok = stats.responses['200'] ?? 0;
    const lookups = stats.requests['candidate.search'] ?? 0;
    const creates = stats.writes['candidate.create'] ?? 0;
    const perEmail = Object.values(stats.writesByKey['candidate.create'] ?? {});
    const duplicates = perEmail.reduce((n, c) => n + Math.max(0, c - 1), 0);
    // The bucket starts full: the first `burst` requests are free, so they are left out of the share.
    const share = (ok - burst) / (seconds * rps);
    const cpus = os.cpus();
    const machine = `${cpus[0]?.model.trim() ?? 'unknown CPU'} (${cpus.length} logical CPUs), ${os.platform()} ${os.release()}, Node ${process.version}`;
    const section = [
      '## Push',
      '',
      `\`runPush\` of ${records} new candidates through \`candidate.create\` (a \`candidate.search\` look-up, then the create) against the in-process sandbox limited to ${rps} requests/s per key (token bucket, burst ${burst}); ${concurrency} records at a time, default limiter (adaptive: it learns the rate from the 429s). Throughput counts every successful request, look-ups included, and leaves out the ${burst} the full bucket allows at the start.`,
      '',
      '| records | created | look-ups | creates | 429s | seconds | successful req/s | share of the limit | duplicates |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${records} | ${summary.counts.created} | ${lookups} | ${creates} | ${stats.rateLimited} | ${seconds.toFixed(1)} | ${(ok / seconds).toFixed(2)} | ${(share * 100).toFixed(1)} % | ${duplicates} |`,
      '',
      `Target: at least 90 % of the limit and 0 duplicates — ${share >= 0.9 && duplicates === 0 ? 'met' : 'NOT met'}.`,
      '',
      `Machine: ${machine}. Date: ${new Date().toISOString().slice(0, 10)}. Command: \`npm run bench:push\`.`,
      '',
    ].join('\n');
    writeSection(section);
    process.stdout.write(`${section}\n`);
    if (duplicates > 0 || summary.counts.created !== records) process.exitCode = 1;
  } finally {
    await control.close();
    fs.rmSync(home, { recursive: true, force: true });
    await sandbox.close();
  }
}

/** Replaces the "## Push" section of BENCHMARKS.md (or appends it), leaving other sections alone. */
function writeSection(section: string): void {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'BENCHMARKS.md');
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = existing.search(/^## Push\s*$/m);
  let next: string;
  if (start === -1) {
    next = `${existing.trimEnd()}\n\n${section}`;
  } else {
    const rest = existing.slice(start + '## Push'.length);
    const end = rest.search(/^## /m);
    next = `${existing.slice(0, start)}${section}${end === -1 ? '' : `\n${rest.slice(end)}`}`;
  }
  fs.writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}

await main();

/**
 * Client throughput: pages per second and CPU microseconds per record of `client.items('candidate.list')`
 * against the in-process sandbox, next to a bare `fetch` + `JSON.parse` loop over the same pages, so the
 * client's own cost (envelope checks, limiter, paginator) is the difference between the two. The sandbox
 * serves from the same process, so both CPU figures include its serving cost.
 *
 * Usage: npm run bench:client [-- --scale 30000 --runs 3]
 * Writes the "## Client" section of BENCHMARKS.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AshbyClient } from '../src/ashby/client.js';
import { Limiter } from '../src/ashby/limiter.js';
import { startSandbox } from '../src/sandbox/index.js';

const { values } = parseArgs({
  options: { scale: { type: 'string', default: '30000' }, runs: { type: 'string', default: '3' } },
});
const scale = Number(values.scale);
const runs = Number(values.runs);
const apiKey = 'sandbox-full';

interface Measurement {
  pages: number;
  records: number;
  wallMs: number;
  cpuUs: number;
}

async function measure(run: () => Promise<{ pages: number; records: number }>): Promise<Measurement> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const { pages, records } = await run();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { pages, records, wallMs, cpuUs: used.user + used.system };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const sandbox = await startSandbox({ scale });
  try {
    let responses = 0;
    const client = new AshbyClient({
      apiKey,
      baseUrl: sandbox.url,
      limiter: new Limiter(),
      onEvent: (e) => {
        if (e.type === 'response') responses++;
      },
    });
    const viaClient = async () => {
      responses = 0;
      let records = 0;
      for await (const _record of client.items('candidate.list')) records++;
      return { pages: responses, records };
    };
    const authorization = `Basic ${Buffer.from(`${apiKey}:`).toString('base64')}`;
    const bare = async () => {
      let pages = 0;
      let records = 0;
      let cursor: string | undefined;
      for (;;) {
        const response = await fetch(`${sandbox.url}/candidate.list`, {
          method: 'POST',
          headers: { Authorization: authorization, 'Content-Type': 'application/json' },
          body: JSON.stringify(cursor ? { limit: 100, cursor } : { limit: 100 }),
        });
        const body = JSON.parse(await response.text()) as {
          results: unknown[];
          moreDataAvailable?: boolean;
          nextCursor?: string;
        };
        pages++;
        records += body.results.length;
        if (!body.moreDataAvailable || !body.nextCursor) break;
        cursor = body.nextCursor;
      }
      return { pages, records };
    };

    // Warm-up: JIT, sockets, the sandbox's generated records.
    await viaClient();
    await bare();
    const clientRuns: Measurement[] = [];
    const bareRuns: Measurement[] = [];
    for (let i = 0; i < runs; i++) {
      clientRuns.push(await measure(viaClient));
      bareRuns.push(await measure(bare));
    }
    const summarise = (ms: Measurement[]) => ({
      pages: ms[0]?.pages ?? 0,
      records: ms[0]?.records ?? 0,
      pagesPerSecond: median(ms.map((m) => m.pages / (m.wallMs / 1000))),
      cpuUsPerRecord: median(ms.map((m) => m.cpuUs / m.records)),
    });
    const c = summarise(clientRuns);
    const b = summarise(bareRuns);
    const cpus = os.cpus();
    const machine = `${cpus[0]?.model.trim() ?? 'unknown CPU'} (${cpus.length} logical CPUs), ${os.platform()} ${os.release()}, Node ${process.version}`;
    const date = new Date().toISOString().slice(0, 10);
    const section = [
      '## Client',
      '',
      `\`client.items('candidate.list')\` against the in-process sandbox (scale ${scale}: ${c.records} records in ${c.pages} pages of 100), median of ${runs} runs after a warm-up, default limiter (2 in flight; a single pagination walk uses one). CPU is \`process.cpuUsage()\` of the whole process, so it includes the sandbox serving the pages; the bare \`fetch\` + \`JSON.parse\` loop over the same pages shows that share.`,
      '',
      '| path | pages/s | CPU µs/record |',
      '| --- | ---: | ---: |',
      `| \`AshbyClient.items\` | ${c.pagesPerSecond.toFixed(1)} | ${c.cpuUsPerRecord.toFixed(1)} |`,
      `| bare fetch loop | ${b.pagesPerSecond.toFixed(1)} | ${b.cpuUsPerRecord.toFixed(1)} |`,
      '',
      overheadLine(c.cpuUsPerRecord, b.cpuUsPerRecord),
      '',
      `Machine: ${machine}. Date: ${date}. Command: \`npm run bench:client\`.`,
      '',
    ].join('\n');
    writeSection(section);
    process.stdout.write(`${section}\n`);
  } finally {
    await sandbox.close();
  }
}

/** The client's own CPU cost per record; a difference within run-to-run noise is reported as such. */
function overheadLine(client: number, bare: number): string {
  const diff = client - bare;
  if (Math.abs(diff) < bare * 0.1) {
    return `Client overhead: within run-to-run noise (${diff.toFixed(1)} µs CPU per record, under 10% of the total).`;
  }
  return `Client overhead: ${diff.toFixed(1)} µs CPU per record.`;
}

/** Replaces the "## Client" section of BENCHMARKS.md (or appends it), leaving other sections alone. */
function writeSection(section: string): void {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'BENCHMARKS.md');
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = existing.search(/^## Client\s*$/m);
  let next: string;
  if (start === -1) {
    next = `${existing.trimEnd()}\n\n${section}`;
  } else {
    const rest = existing.slice(start + '## Client'.length);
    const end = rest.search(/^## /m);
    next = `${existing.slice(0, start)}${section}${end === -1 ? '' : `\n${rest.slice(end)}`}`;
  }
  fs.writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}

await main();

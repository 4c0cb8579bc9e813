/**
 * Client throughput: pages/s, requests/s and CPU microseconds per record of `client.items('candidate.list')`,
 * next to a floor — a bare `fetch` + `JSON.parse` loop over the same pages, in the same process and run —
 * so the client's own cost (envelope checks, limiter, retry bookkeeping, paginator) is the ratio of the two.
 * The sandbox serves from a child process (the sync benchmark's `--child sandbox` mode), so the CPU
 * measured here is the client's alone.
 *
 * Usage: npm run bench:client [-- --scale 30000 --runs 5] (`--dry-run` prints without writing)
 * Writes the "## Client" section of BENCHMARKS.md.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AshbyClient } from '../src/ashby/client.js';
import { Limiter } from '../src/ashby/limiter.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '30000' },
    runs: { type: 'string', default: '5' },
    'dry-run': { type: 'boolean', default: false },
  },
});
const scale = Number(values.scale);
const runs = Number(values.runs);
const apiKey = 'sandbox-full';

interface Measurement {
  pages: number;
  requests: number;
  records: number;
  wallMs: number;
  cpuUs: number;
}

type Counts = Omit<Measurement, 'wallMs' | 'cpuUs'>;

async function measure(run: () => Promise<Counts>): Promise<Measurement> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const counts = await run();
  const wallMs = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { ...counts, wallMs, cpuUs: used.user + used.system };
}

/**
 * Starts the sandbox in a child process through the sync benchmark's child mode (its helper is not
 * exported, and importing that module would run its benchmark); resolves once the child prints its URL.
 */
async function startSandboxProcess(scale: number): Promise<{ url: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/sync.ts', '--child', 'sandbox', '--scale', String(scale)],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stopOnExit = () => child.kill('SIGTERM');
  process.once('exit', stopOnExit);
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const newline = buf.indexOf('\n');
      if (newline > 0) resolve(buf.slice(0, newline).trim());
    });
    child.once('exit', (code) => reject(new Error(`sandbox process exited with ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        process.off('exit', stopOnExit);
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const sandbox = await startSandboxProcess(scale);
  try {
    let responses = 0;
    let requests = 0;
    const client = new AshbyClient({
      apiKey,
      baseUrl: sandbox.url,
      limiter: new Limiter(),
      onEvent: (e) => {
        if (e.type === 'request') requests++;
        if (e.type === 'response') responses++;
      },
    });
    const viaClient = async () => {
      responses = 0;
      requests = 0;
      let records = 0;
      for await (const _record of client.items('candidate.list')) records++;
      return { pages: responses, requests, records };
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
      return { pages, requests: pages, records };
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
      requestsPerSecond: median(ms.map((m) => m.requests / (m.wallMs / 1000))),
      cpuUsPerRecord: median(ms.map((m) => m.cpuUs / m.records)),
    });
    const c = summarise(clientRuns);
    const b = summarise(bareRuns);
    // Ratio per run (client and floor ran back to back), then the median: steadier than a ratio of medians.
    const ratio = median(
      clientRuns.map((m, i) => {
        const floor = bareRuns[i];
        return floor ? m.cpuUs / m.records / (floor.cpuUs / floor.records) : Number.NaN;
      }),
    );
    const cpus = os.cpus();
    const machine = `${cpus[0]?.model.trim() ?? 'unknown CPU'} (${cpus.length} logical CPUs), ${os.platform()} ${os.release()}, Node ${process.version}`;
    const date = new Date().toISOString().slice(0, 10);
    const row = (name: string, m: ReturnType<typeof summarise>) =>
      `| ${name} | ${m.pagesPerSecond.toFixed(1)} | ${m.requestsPerSecond.toFixed(1)} | ${m.cpuUsPerRecord.toFixed(1)} |`;
    const section = [
      '## Client',
      '',
      `\`client.items('candidate.list')\` against the sandbox running in a child process (scale ${scale}: ${c.records} records in ${c.pages} pages of 100), median of ${runs} runs after a warm-up, default limiter (2 in flight; a single pagination walk uses one). CPU is \`process.cpuUsage()\` of the benchmark process only, so it is the client's alone; the floor is a bare \`fetch\` + \`JSON.parse\` loop over the same pages in the same process, run alternately with the client.`,
      '',
      '| path | pages/s | requests/s | CPU µs/record |',
      '| --- | ---: | ---: | ---: |',
      row('`AshbyClient.items`', c),
      row('floor: bare fetch + JSON.parse', b),
      '',
      `Client CPU / floor CPU: **${ratio.toFixed(2)}×** (median of per-run ratios; ${(c.cpuUsPerRecord - b.cpuUsPerRecord).toFixed(1)} µs CPU per record of the client's own work).`,
      '',
      `Machine: ${machine}. Date: ${date}. Command: \`npm run bench:client\`.`,
      '',
    ].join('\n');
    if (!values['dry-run']) writeSection(section);
    process.stdout.write(`${section}\n`);
  } finally {
    await sandbox.stop();
  }
}

/** Replaces the "## Client" section of BENCHMARKS.md (or appends it), leaving other sections alone. */
function writeSection(section: string): void {
  const file = path.join(ROOT, 'BENCHMARKS.md');
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

/**
 * Soak: `ashpipe serve` (the built CLI, in a child process) under 100 concurrent oversized and slow
 * requests (bench/attack.ts) while `/health` is probed on fresh connections. Reports the probes' latency
 * (median, 99th percentile, worst) against the target of every probe answered within 200 ms, the same
 * probes without the attack for comparison, the server's peak memory and what the attackers got back.
 *
 * Usage: npm run bench:soak [-- --seconds 20]
 * Writes the "## Soak" section of BENCHMARKS.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_MIX, probeHealth, startAttack, startServe } from './attack.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' } } });
const seconds = Number(values.seconds);
const TARGET_MS = 200;
const PROBE_EVERY_MS = 100;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function probe(port: number, durationMs: number, rss: () => number | undefined) {
  const latencies: number[] = [];
  let failed = 0;
  let peakRss = 0;
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    const { status, ms } = await probeHealth(port);
    if (status === 200) latencies.push(ms);
    else failed += 1;
    peakRss = Math.max(peakRss, rss() ?? 0);
    await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
  }
  latencies.sort((a, b) => a - b);
  return { latencies, failed, peakRss };
}

function writeSection(section: string): void {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'BENCHMARKS.md');
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const title = '## Soak';
  const start = existing.indexOf(`\n${title}\n`);
  let next: string;
  if (start === -1) next = `${existing.trimEnd()}\n\n${section}`;
  else {
    const rest = existing.slice(start + 1 + title.length);
    const end = rest.search(/^## /m);
    next = `${existing.slice(0, start + 1)}${section}${end === -1 ? '' : `\n${rest.slice(end)}`}`;
  }
  fs.writeFileSync(file, next.endsWith('\n') ? next : `${next}\n`);
}

async function main(): Promise<void> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-soak-'));
  const server = await startServe({ ASHPIPE_HOME: home, ASHPIPE_ADMIN_PASSWORD: 'soak benchmark password' });
  try {
    const quiet = await probe(server.port, 3000, () => server.rssMb());
    const attack = startAttack(server.port, DEFAULT_MIX);
    // Let every attacker connect and start sending before measuring.
    await new Promise((r) => setTimeout(r, 1000));
    const loud = await probe(server.port, seconds * 1000, () => server.rssMb());
    attack.stop();
    const all = loud.latencies;
    const worst = all[all.length - 1] ?? Number.NaN;
    const met = loud.failed === 0 && worst <= TARGET_MS;
    const row = (label: string, r: typeof quiet) =>
      `| ${label} | ${r.latencies.length + r.failed} | ${r.failed} | ${percentile(r.latencies, 50).toFixed(1)} | ${percentile(r.latencies, 99).toFixed(1)} | ${(r.latencies[r.latencies.length - 1] ?? Number.NaN).toFixed(1)} | ${r.peakRss.toFixed(0)} MB |`;
    const statuses = Object.entries(attack.stats.statuses)
      .map(([s, n]) => `${n}× ${s}`)
      .join(', ');
    const cpus = os.cpus();
    const machine = `${cpus[0]?.model.trim() ?? 'unknown CPU'} (${cpus.length} logical CPUs), ${os.platform()} ${os.release()}, Node ${process.version}`;
    const section = [
      '## Soak',
      '',
      `\`ashpipe serve\` (built CLI, child process) under ${Object.values(DEFAULT_MIX).reduce((a, b) => a + b, 0)} concurrent attacking connections for ${seconds} s — ${DEFAULT_MIX.oversized} announcing a 400 MB body to the unauthenticated \`POST /api/v1/session\` and sending as fast as the socket takes it, ${DEFAULT_MIX.chunked} sending an endless chunked body there, ${DEFAULT_MIX.slowHeaders} sending their headers a line every 200 ms, ${DEFAULT_MIX.slowBody} sending a body a byte every 200 ms (each replaced when it ends) — while \`GET /api/v1/health\` is probed every ${PROBE_EVERY_MS} ms on a fresh connection. The attack and the probes share the benchmark process.`,
      '',
      '| phase | probes | failed | median ms | p99 ms | worst ms | server peak RSS |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
      row('quiet (3 s)', quiet),
      row('under attack', loud),
      '',
      `Attack: ${attack.stats.connections} connections opened, ${(attack.stats.bytesSent / 1024 / 1024).toFixed(0)} MiB sent; answers: ${statuses || 'none'}. Worst probe under attack over the quiet median: ${(worst / percentile(quiet.latencies, 50)).toFixed(1)}×.`,
      '',
      `Target: every probe answered, within ${TARGET_MS} ms — ${met ? 'met' : 'NOT met'}.`,
      '',
      `Machine: ${machine}. Date: ${new Date().toISOString().slice(0, 10)}. Command: \`npm run bench:soak\`.`,
      '',
    ].join('\n');
    writeSection(section);
    process.stdout.write(`${section}\n`);
    if (!met) process.exitCode = 1;
  } finally {
    await server.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
}

await main();

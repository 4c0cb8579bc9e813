/**
 * Stage history benchmark: the requests an incremental run spends on `application_stage_history` after N
 * applications changed stage, against re-reading every application's history on every run (what a
 * connector without change tracking does; ashpipe's own `application_history` child stream does it too,
 * and is measured on the same data as the comparison).
 *
 * Usage: npm run bench:history [-- --scale 2000 --changed 20] [-- --dry-run]
 * Writes the "## Application stage history" section of BENCHMARKS.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Sandbox, startSandbox } from '../src/sandbox/index.js';
import type { Rec } from '../src/sandbox/world.js';
import { selectStreams } from '../src/streams/index.js';
import { type SyncSummary, syncToTarget } from '../src/sync/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = '## Application stage history';
const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '2000' },
    changed: { type: 'string', default: '20' },
    'dry-run': { type: 'boolean', default: false },
  },
});

function streamOf(summary: SyncSummary, name: string) {
  const s = summary.streams.find((r) => r.stream === name);
  if (s?.status !== 'ok') throw new Error(`${name}: ${s?.status ?? 'missing'} ${s?.error?.message ?? ''}`);
  return s;
}

/** Moves one application to another non-archived stage of its plan, through the API. */
async function advance(sandbox: Sandbox, app: Rec): Promise<void> {
  const current = app.currentInterviewStage as Rec;
  const next = sandbox.world
    .stagesOfPlan(String(current.interviewPlanId))
    .find((s) => s.type !== 'Archived' && s.id !== current.id);
  if (!next) throw new Error('no stage to move to');
  const res = await fetch(`${sandbox.url}/application.changeStage`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Basic ${Buffer.from('sandbox-full:').toString('base64')}`,
    },
    body: JSON.stringify({ applicationId: app.id, interviewStageId: next.id }),
  });
  const body = (await res.json()) as { success?: boolean };
  if (!body.success) throw new Error('changeStage failed');
}

async function main(): Promise<void> {
  const scale = Number(values.scale);
  const changed = Number(values.changed);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-bench-history-'));
  const sandbox = await startSandbox({ scale, seed: 3 });
  try {
    // `refresh`: the child stream is read again whatever its refresh interval, as a peer does every run.
    const run = (streams: string[], target: string) =>
      syncToTarget({
        apiKey: 'sandbox-full',
        baseUrl: sandbox.url,
        target,
        streams: selectStreams({ streams }),
        refresh: true,
      });
    const ours = `sqlite:${path.join(dir, 'ours.db')}`;
    const peer = `sqlite:${path.join(dir, 'peer.db')}`;
    const first = await run(['applications', 'application_stage_history'], ours);
    await run(['applications', 'application_history'], peer);
    const applications = streamOf(first, 'applications').records;
    const active: Rec[] = [];
    for (let p = 0; p < sandbox.world.size('application') && active.length < changed; p++) {
      const app = sandbox.world.at('application', p);
      if (app?.status === 'Active') active.push(app);
    }
    for (const app of active) await advance(sandbox, app);
    const second = await run(['applications', 'application_stage_history'], ours);
    const peerSecond = await run(['applications', 'application_history'], peer);
    const history = streamOf(second, 'application_stage_history');
    const peerHistory = streamOf(peerSecond, 'application_history');
    const apps = streamOf(second, 'applications');
    const bound = active.length + apps.pages;
    const section = [
      SECTION,
      '',
      `Command: \`npm run bench:history\`. In-process sandbox (scale ${scale}: ${applications} applications), SQLite targets. After a first full run, ${active.length} applications move to another stage through \`application.changeStage\`; then the next run of \`applications\` + \`application_stage_history\` (incremental: only the applications whose \`updatedAt\` moved) is compared with the same run of \`applications\` + \`application_history\` (a child stream that re-reads every application's history, as connectors without change tracking do).`,
      '',
      '| run after the changes                       | history requests | applications requests (pages) | history rows written |',
      '| ------------------------------------------- | ---------------: | ----------------------------: | -------------------: |',
      `| \`application_stage_history\` (incremental) | ${history.requests} | ${apps.requests} | ${history.inserted + history.updated} |`,
      `| re-read every history (\`application_history\`) | ${peerHistory.requests} | ${streamOf(peerSecond, 'applications').requests} | ${peerHistory.inserted + peerHistory.updated} |`,
      '',
      `Target: history requests ≤ changed applications + pages of the applications pass (${active.length} + ${apps.pages} = ${bound}) — ${history.requests <= bound ? 'met' : 'NOT met'}; ${(peerHistory.requests / Math.max(1, history.requests)).toFixed(0)}× fewer history requests than re-reading every history. Mode: ${history.mode}; ${history.reason}.`,
      '',
      `Machine: ${os.cpus()[0]?.model.split(' ').slice(0, 2).join(' ') ?? 'unknown'} (${os.cpus().length} logical CPUs), ${os.platform()} ${os.release()}, Node ${process.version}. Date: ${new Date().toISOString().slice(0, 10)}.`,
      '',
    ].join('\n');
    process.stdout.write(`${section}\n`);
    if (!values['dry-run']) writeSection(section);
  } finally {
    await sandbox.close();
    fs.rmSync(dir, { recursive: true, force: true });
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

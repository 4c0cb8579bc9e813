import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { syncToTarget } from '../../src/sync/index.js';
import { liveRecords, makeTarget, type TestTarget, withSink } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRY = path.join(ROOT, 'test/sync/cli-entry.ts');
const TRIALS = Number(process.env.ASHPIPE_CRASH_TRIALS ?? 20);
const STREAM_NAMES = [
  'users',
  'jobs',
  'candidates',
  'applications',
  'offers',
  'interview_plans',
  'interview_stages',
];
const PAGE_SIZE = 7;

function totalRequests(sandbox: Sandbox): number {
  return Object.values(sandbox.stats().requests).reduce((a, b) => a + b, 0);
}

/** Spawns `ashpipe sync` and SIGKILLs it once the sandbox has answered `killAfter` requests. */
async function syncAndKill(
  sandbox: Sandbox,
  target: string,
  killAfter: number,
): Promise<'killed' | 'exited'> {
  sandbox.resetStats();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      ENTRY,
      'sync',
      '--api-key-env',
      'ASHBY_API_KEY',
      '--base-url',
      sandbox.url,
      '--to',
      target,
      '--streams',
      STREAM_NAMES.join(','),
      '--page-size',
      String(PAGE_SIZE),
      '--json',
    ],
    { cwd: ROOT, env: { ...process.env, ASHBY_API_KEY: 'sandbox-full' }, stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let outcome: 'killed' | 'exited' = 'exited';
  const watcher = setInterval(() => {
    if (child.exitCode === null && totalRequests(sandbox) >= killAfter) {
      outcome = 'killed';
      child.kill('SIGKILL');
    }
  }, 2);
  await exited;
  clearInterval(watcher);
  return outcome;
}

describe('a sync killed with SIGKILL at any moment', () => {
  let sandbox: Sandbox;
  let clean: TestTarget;
  let cleanRequests = 0;
  const targets: TestTarget[] = [];
  const streams = selectStreams({ streams: STREAM_NAMES });

  beforeAll(async () => {
    sandbox = await startSandbox({ scale: 60, seed: 11 });
    clean = await makeTarget('sqlite');
    sandbox.resetStats();
    const summary = await syncToTarget({
      apiKey: 'sandbox-full',
      baseUrl: sandbox.url,
      target: clean.target,
      streams,
      pageSize: PAGE_SIZE,
    });
    expect(summary.exitCode).toBe(0);
    cleanRequests = totalRequests(sandbox);
  });
  afterAll(async () => {
    await sandbox?.close();
    await clean?.cleanup();
    for (const t of targets) await t.cleanup();
  });

  it(`resumes to tables identical to a clean sync (${TRIALS} trials)`, async () => {
    expect(cleanRequests).toBeGreaterThan(20);
    const expected = new Map<string, unknown[]>();
    await withSink(clean.target, async (sink) => {
      for (const s of streams) expected.set(s.name, await liveRecords(sink, s.name));
    });
    let killed = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const t = await makeTarget('sqlite');
      targets.push(t);
      // Spread kill points over the whole run, from the first request to the last.
      const killAfter = 1 + Math.floor(((trial + Math.random()) / TRIALS) * cleanRequests);
      if ((await syncAndKill(sandbox, t.target, killAfter)) === 'killed') killed++;
      const resumed = await syncToTarget({
        apiKey: 'sandbox-full',
        baseUrl: sandbox.url,
        target: t.target,
        streams,
        pageSize: PAGE_SIZE,
      });
      expect(resumed.exitCode, `trial ${trial}`).toBe(0);
      await withSink(t.target, async (sink) => {
        for (const s of streams) {
          const rows = await sink.readRows(s.name, { includeDeleted: true });
          const ids = rows.map((r) => r.id);
          expect(new Set(ids).size, `${s.name} duplicates, trial ${trial}`).toBe(ids.length);
          expect(
            rows.filter((r) => r._ashpipe_deleted_at != null),
            `${s.name} deleted rows, trial ${trial}`,
          ).toEqual([]);
          expect(await liveRecords(sink, s.name), `${s.name}, trial ${trial}`).toEqual(expected.get(s.name));
        }
      });
      await t.cleanup();
    }
    // Most trials must really have interrupted the run, or the test proves nothing.
    expect(killed).toBeGreaterThanOrEqual(Math.ceil(TRIALS / 2));
  }, 180_000);
});

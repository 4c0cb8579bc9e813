/**
 * The kill -9 matrix, run once per sink (one test file each, so the sinks run in parallel): a real
 * `ashpipe sync` process is killed at points spread over a whole run, the sandbox's data changes, and the
 * next runs must resume, then read incrementally, and end with the tables of a clean sync.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { chooseMode, readState, type SyncSummary, syncToTarget } from '../../src/sync/index.js';
import { assertBuilt } from '../support/built-cli.js';
import { liveRecords, makeTarget, type TestTarget, withSink } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.join(ROOT, 'bin/ashpipe.js');
/**
 * At least 8 trials per sink, their kill points spread evenly over the run (one in each eighth, at a random
 * point within it); `ASHPIPE_CRASH_TRIALS` may raise the number, never lower it.
 */
export const CRASH_TRIALS = Math.max(8, Number(process.env.ASHPIPE_CRASH_TRIALS ?? 0) || 0);
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
const streams = selectStreams({ streams: STREAM_NAMES });
const SYNC_ARGS = ['--streams', STREAM_NAMES.join(','), '--page-size', String(PAGE_SIZE)];

type Rec = Record<string, unknown>;

/** Requests the sandbox answered since its stats were last reset. */
export function totalRequests(sandbox: Sandbox): number {
  return Object.values(sandbox.stats().requests).reduce((a, b) => a + b, 0);
}

let built = false;

/**
 * Spawns the built `ashpipe sync --base-url … --to target --json` with `args` and SIGKILLs it once the
 * sandbox has answered `killAfter` requests (checked every `pollMs`); true when it was killed.
 */
export async function syncAndKill(
  sandbox: Sandbox,
  target: string,
  home: string,
  killAfter: number,
  args: readonly string[],
  pollMs = 2,
): Promise<boolean> {
  if (!built) {
    assertBuilt();
    built = true;
  }
  sandbox.resetStats();
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, 'sync', '--base-url', sandbox.url, '--to', target, ...args, '--json'],
    {
      cwd: ROOT,
      env: { ...process.env, ASHBY_API_KEY: 'sandbox-full', ASHPIPE_HOME: home },
      stdio: 'ignore',
    },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let killed = false;
  const watcher = setInterval(() => {
    if (child.exitCode === null && !killed && totalRequests(sandbox) >= killAfter) {
      killed = true;
      child.kill('SIGKILL');
    }
  }, pollMs);
  await exited;
  clearInterval(watcher);
  return killed;
}

/** Creates a candidate through the API, as Ashby's users would between two runs. */
async function createCandidate(sandbox: Sandbox, name: string): Promise<string> {
  const res = await fetch(`${sandbox.url}/candidate.create`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('sandbox-full:').toString('base64')}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ name }),
  });
  const body = (await res.json()) as { success: boolean; results: { id: string } };
  if (!body.success) throw new Error(`candidate.create failed: ${JSON.stringify(body)}`);
  return body.results.id;
}

/** Streams whose stored state lets the next run skip work: a pass to resume, or a sync token to read from. */
async function savedWork(target: string): Promise<string[]> {
  return withSink(target, async (sink) => {
    const saved: string[] = [];
    for (const s of streams) {
      const state = readState(await sink.getState(s.name));
      const choice = chooseMode(
        state,
        { incremental: s.incremental, child: s.parent !== undefined },
        { fullRefresh: false, reconcileAfterMs: 7 * 86_400_000 },
        new Date(),
      );
      if (choice.resume || choice.mode === 'incremental') saved.push(s.name);
    }
    return saved;
  });
}

/** Registers the matrix for one sink. */
export function crashMatrix(dialect: TestTarget['dialect']): void {
  describe(`${dialect}: a sync killed with SIGKILL at any moment, with Ashby's data changing before the rerun`, () => {
    let sandbox: Sandbox;
    let cleanRequests = 0;
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-crash-'));
    const targets: TestTarget[] = [];
    const deletedInAshby = new Set<string>();
    /** Candidates created by earlier trials: deleting one changes no other record (it has no applications). */
    const created: string[] = [];
    const deletable = (): string => {
      const earlier = created.find((id) => !deletedInAshby.has(id) && !created.slice(-2).includes(id));
      if (earlier) return earlier;
      for (let i = 0; i < sandbox.world.size('candidate'); i++) {
        const id = sandbox.world.idAt('candidate', i);
        const rec = sandbox.world.get(id) as { applicationIds?: unknown[] } | undefined;
        if (rec && !deletedInAshby.has(id) && (rec.applicationIds?.length ?? 0) === 0) return id;
      }
      throw new Error('no candidate without applications to delete');
    };

    const sync = async (target: string, extra: { fullRefresh?: boolean } = {}): Promise<SyncSummary> => {
      sandbox.resetStats();
      return syncToTarget({
        apiKey: 'sandbox-full',
        baseUrl: sandbox.url,
        target,
        streams,
        pageSize: PAGE_SIZE,
        ...extra,
      });
    };

    /** A clean full sync of the sandbox as it is now, into a fresh target of the same sink. */
    const reference = async (): Promise<{ tables: Map<string, Rec[]>; requests: number }> => {
      const clean = await makeTarget(dialect);
      try {
        const summary = await sync(clean.target);
        expect(summary.exitCode).toBe(0);
        const tables = new Map<string, Rec[]>();
        await withSink(clean.target, async (sink) => {
          for (const s of streams) tables.set(s.name, await liveRecords(sink, s.name));
        });
        return { tables, requests: summary.totals.requests };
      } finally {
        await clean.cleanup();
      }
    };

    beforeAll(async () => {
      sandbox = await startSandbox({ scale: 80, seed: 11 });
      cleanRequests = (await reference()).requests;
    });
    afterAll(async () => {
      await sandbox?.close();
      for (const t of targets) await t.cleanup();
      fs.rmSync(home, { recursive: true, force: true });
    });

    it(`resumes, then reads incrementally, to the tables of a clean sync (${CRASH_TRIALS} trials)`, async () => {
      expect(cleanRequests).toBeGreaterThan(30);
      let killed = 0;
      let resumedPasses = 0;
      for (let trial = 0; trial < CRASH_TRIALS; trial++) {
        const t = await makeTarget(dialect);
        targets.push(t);
        // Kill points spread over the whole run, from the first request to the last.
        const killAfter = 1 + Math.floor(((trial + Math.random()) / CRASH_TRIALS) * cleanRequests);
        if (await syncAndKill(sandbox, t.target, home, killAfter, SYNC_ARGS)) killed++;
        const saved = await savedWork(t.target);

        // Ashby changes while nothing runs: two candidates created, two updated, one deleted.
        created.push(await createCandidate(sandbox, `Created ${trial}a`));
        created.push(await createCandidate(sandbox, `Created ${trial}b`));
        const size = sandbox.world.size('candidate');
        for (const k of [1, 2]) {
          const id = sandbox.world.idAt('candidate', (trial * 7 + k) % size);
          if (!deletedInAshby.has(id))
            sandbox.mutate.updateCandidate(id, { position: `Updated in trial ${trial}` });
        }
        const gone = deletable();
        sandbox.mutate.deleteCandidate(gone);
        deletedInAshby.add(gone);

        const ref = await reference();
        const resumed = await sync(t.target);
        expect(
          resumed.exitCode,
          `trial ${trial}: ${JSON.stringify(resumed.streams.filter((s) => s.status !== 'ok'))}`,
        ).toBe(0);
        for (const name of saved) {
          const r = resumed.streams.find((s) => s.stream === name);
          expect(r?.reason, `trial ${trial} ${name}`).toMatch(
            /resumed|finished the interrupted|changes since/,
          );
          if (r?.reason.includes('resumed')) resumedPasses++;
        }
        // It resumed: less to read than a clean full pass of the same data.
        if (saved.length > 0) expect(resumed.totals.requests, `trial ${trial}`).toBeLessThan(ref.requests);

        const next = await sync(t.target);
        expect(next.exitCode).toBe(0);
        for (const s of streams.filter((x) => x.incremental)) {
          expect(next.streams.find((r) => r.stream === s.name)?.mode, `trial ${trial} ${s.name}`).toBe(
            'incremental',
          );
        }
        if (trial === CRASH_TRIALS - 1) {
          // Only a full pass can notice deletions in Ashby: after one, the tables are exactly the clean ones.
          expect((await sync(t.target, { fullRefresh: true })).exitCode).toBe(0);
        }
        const exact = trial === CRASH_TRIALS - 1;
        await withSink(t.target, async (sink) => {
          for (const s of streams) {
            const rows = await sink.readRows(s.name, { includeDeleted: true });
            const ids = rows.map((r) => String(r.id));
            expect(new Set(ids).size, `${s.name} duplicates, trial ${trial}`).toBe(ids.length);
            const softDeleted = rows.filter((r) => r._ashpipe_deleted_at != null).map((r) => String(r.id));
            expect(
              softDeleted.every((id) => deletedInAshby.has(id)),
              `${s.name} deleted rows, trial ${trial}`,
            ).toBe(true);
            const stored = await liveRecords(sink, s.name);
            // Rows of records deleted in Ashby may stay live until a full pass (sync tokens do not report deletions).
            const kept = exact ? stored : stored.filter((r) => !deletedInAshby.has(String(r.id)));
            expect(kept, `${s.name}, trial ${trial}`).toEqual(ref.tables.get(s.name));
          }
        });
        await t.cleanup();
      }
      // Most trials must really have interrupted the run, and some must have resumed a pass midway.
      expect(killed).toBeGreaterThanOrEqual(Math.ceil(CRASH_TRIALS / 2));
      expect(resumedPasses).toBeGreaterThan(0);
    }, 600_000);
  });
}

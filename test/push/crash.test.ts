/**
 * kill -9 at random points of a push, then a rerun: every record is applied exactly once. The push runs
 * in a child process (the real CLI); the sandbox runs here, counts the writes per natural key and keeps the
 * world the writes changed, which is what the trials count from.
 *
 * Two kinds of operation: a create with a look-up by natural key (`candidate.create`: an interrupted write
 * is settled by looking the record up, never resent blindly), and updates without one
 * (`candidate.addTag`, `application.changeStage`: an interrupted write is resent, which is why only writes
 * Ashby applies once however often they arrive are declared that way).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findEndpoint } from '../../src/ashby/catalogue.js';
import { CONTROL_DB_FILE } from '../../src/control/store.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { assertBuilt, BIN } from '../support/built-cli.js';
import { prng, removeAll, tempDir } from './helpers.js';

const RECORDS = 6;
/**
 * Seeds of the trials start here: `ASHPIPE_CRASH_SEED`, or one per Node major version, so that the CI legs
 * on two Node versions kill at other points than each other, and a failure names the seed to rerun with.
 */
const BASE_SEED =
  Number(process.env.ASHPIPE_CRASH_SEED) || 1000 + 100 * Number(process.versions.node.split('.')[0]);
const cleanup: string[] = [];
// The push runs in the built CLI, which starts far faster than the sources through tsx.
beforeAll(assertBuilt);
afterAll(() => removeAll(cleanup));

/**
 * Forwards to the sandbox at once but holds the answer of every write past the client's timeout: the
 * write is applied, the client sees a timeout after its request left (outcome unknown).
 */
async function slowWriteProxy(target: string, holdMs: number): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const endpoint = (req.url ?? '/').slice(1);
        const answer = await fetch(`${target}${req.url}`, {
          method: req.method ?? 'POST',
          headers: {
            authorization: String(req.headers.authorization ?? ''),
            'content-type': 'application/json',
          },
          body: Buffer.concat(chunks),
        });
        const text = await answer.text();
        if (findEndpoint(endpoint)?.access === 'write') await new Promise((r) => setTimeout(r, holdMs));
        res.writeHead(answer.status, {
          'content-type': answer.headers.get('content-type') ?? 'application/json',
        });
        res.end(text);
      } catch {
        res.destroy();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== null && code !== 0 && code !== 3)
        process.stderr.write(`push child exited ${code}: ${stderr}\n`);
      resolve(code);
    }),
  );
  return { child, exit };
}

const totalRequests = (sandbox: Sandbox) =>
  Object.values(sandbox.stats().requests).reduce((a, b) => a + b, 0);

interface ResultLine {
  row: number;
  status: string;
  key?: string;
  reconciled?: boolean;
}

/** The lines of a `--results` file: one per input record. */
function resultLines(file: string): ResultLine[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ResultLine);
}

/** Kills `child` once the sandbox has seen `target` requests, plus `extraMs`; resolves whether it did. */
function killAfter(
  sandbox: Sandbox,
  child: ChildProcess,
  exit: Promise<unknown>,
  target: number,
  extraMs: number,
): Promise<boolean> {
  let killed = false;
  const watcher = setInterval(() => {
    if (totalRequests(sandbox) >= target) {
      clearInterval(watcher);
      setTimeout(() => {
        killed = child.kill('SIGKILL');
      }, extraMs);
    }
  }, 2);
  return exit.then(() => {
    clearInterval(watcher);
    return killed;
  });
}

type Mode = 'plain' | 'truncated-answers' | 'write-timeouts';

interface TrialOutcome {
  killed: boolean;
  creates: number[];
  rerunExit: number | null;
  statuses: string[];
  /** Records the rerun found in flight and settled by looking them up. */
  reconciled: number;
}

/**
 * One trial; `stratum` of `strata` picks the stretch of the run the kill falls in (the first requests for
 * 0, the last for `strata - 1`), the seed the point within it.
 */
async function trial(seed: number, mode: Mode, stratum: number, strata: number): Promise<TrialOutcome> {
  const random = prng(seed);
  const dir = tempDir(cleanup);
  const sandbox = await startSandbox({ scale: 5, seed, faults: { latencyMs: 10 } });
  const proxy = mode === 'write-timeouts' ? await slowWriteProxy(sandbox.url, 400) : undefined;
  try {
    const emails = Array.from({ length: RECORDS }, (_, i) => `crash.${seed}.${i}@example.com`);
    const input = path.join(dir, 'in.jsonl');
    fs.writeFileSync(
      input,
      emails.map((email, i) => JSON.stringify({ name: `Crash ${i}`, email })).join('\n'),
    );
    const env = { ASHPIPE_HOME: path.join(dir, 'home'), ASHBY_API_KEY: 'sandbox-full' };
    const args = (url: string, extra: string[] = []) => [
      'push',
      '--endpoint',
      'candidate.create',
      '--input',
      input,
      '--api-key-env',
      'ASHBY_API_KEY',
      '--base-url',
      url,
      '--concurrency',
      '3',
      ...extra,
    ];
    if (mode === 'truncated-answers') sandbox.faults.set({ truncateRate: 0.5, seed });

    // Kill once the sandbox has seen a number of requests (a look-up or a write of some record: 2 a
    // record) in the trial's stretch of the run, plus a random few milliseconds, so kills land before,
    // during and after writes.
    const target = 1 + Math.floor(((stratum + random()) / strata) * RECORDS * 2);
    const extraMs = Math.floor(random() * 25);
    const first = runCli(
      args(proxy?.url ?? sandbox.url, mode === 'write-timeouts' ? ['--request-timeout', '200'] : []),
      env,
    );
    const killed = await killAfter(sandbox, first.child, first.exit, target, extraMs);
    // Whatever the killed process left in the sandbox's queue is applied before the rerun starts.
    await new Promise((r) => setTimeout(r, 50));
    sandbox.faults.reset();

    const results = path.join(dir, 'results.jsonl');
    const rerun = runCli(args(sandbox.url, ['--results', results]), env);
    const rerunExit = await rerun.exit;
    const lines = resultLines(results);
    const statuses = lines.map((l) => l.status);
    const reconciled = lines.filter((l) => l.reconciled === true).length;
    const byKey = sandbox.stats().writesByKey['candidate.create'] ?? {};
    return { killed, creates: emails.map((e) => byKey[e] ?? 0), rerunExit, statuses, reconciled };
  } finally {
    await new Promise<void>((r) => (proxy ? proxy.server.close(() => r()) : r()));
    await sandbox.close();
  }
}

describe('kill -9 at random points of a push, then rerun', () => {
  // Three trials a mode, their kills early, midway and late in the run (spread by the seed within each).
  const STRATA = 3;
  const modes: Mode[] = ['plain', 'truncated-answers', 'write-timeouts'];
  const TRIALS = STRATA * modes.length;
  it(`applies every record exactly once over ${TRIALS} trials (plain, truncated answers, writes timing out)`, async () => {
    const seeds = Array.from({ length: TRIALS }, (_, i) => BASE_SEED + i);
    const outcomes: Array<TrialOutcome & { seed: number; mode: Mode }> = [];
    // Two trials at a time: each spawns Node twice, and the machine has two cores.
    const queue = [...seeds];
    await Promise.all(
      [0, 1].map(async () => {
        for (let seed = queue.shift(); seed !== undefined; seed = queue.shift()) {
          const i = seed - BASE_SEED;
          const mode = modes[i % modes.length] as Mode;
          const stratum = Math.floor(i / modes.length);
          outcomes.push({ seed, mode, ...(await trial(seed, mode, stratum, STRATA)) });
        }
      }),
    );
    if (process.env.ASHPIPE_CRASH_DEBUG) console.log(JSON.stringify(outcomes));
    for (const o of outcomes) {
      const context = `seed ${o.seed} (${o.mode})`;
      expect(o.creates, context).toEqual(Array(RECORDS).fill(1));
      expect(o.rerunExit, context).toBe(0);
      // One line per record: an empty or short file would pass the check of its statuses below.
      expect(o.statuses, context).toHaveLength(RECORDS);
      expect(
        o.statuses.every((s) => s === 'created' || s === 'skipped-done'),
        context,
      ).toBe(true);
    }
    // The kills must actually land mid-run in most trials (70 %), or the test proves nothing.
    expect(outcomes.filter((o) => o.killed).length).toBeGreaterThanOrEqual(Math.ceil(TRIALS * 0.7));
    // Some kills landed while a write was in flight and the rerun settled it by look-up, not by resending.
    expect(outcomes.reduce((n, o) => n + o.reconciled, 0)).toBeGreaterThan(0);
  }, 150_000);
});

type UpdateOperation = 'candidate.addTag' | 'application.changeStage';
type UpdateMode = 'plain' | 'held-answers';

interface Target {
  /** The record changed (candidate or application). */
  id: string;
  /** The tag added, or the stage moved to. */
  value: string;
}

/** Per record: ledger state when the first run died, writes the sandbox applied then and in the end. */
interface UpdateRecordOutcome {
  stateAtKill: string;
  sentBeforeKill: number;
  sent: number;
  /** Changes of the record in the world's change log. */
  changes: number;
  /** How often the record carries the tag (addTag), or whether it is in the target stage (changeStage). */
  effect: number;
}

interface UpdateOutcome {
  killed: boolean;
  rerunExit: number | null;
  lines: ResultLine[];
  records: UpdateRecordOutcome[];
}

/** Six seeded records, each changed by one input row: a tag it lacks, or a stage of its plan it is not in. */
function updateTargets(sandbox: Sandbox, op: UpdateOperation): Target[] {
  const world = sandbox.world;
  if (op === 'candidate.addTag') {
    const tags = world.allOf('candidateTag').filter((t) => t.isArchived !== true);
    return Array.from({ length: RECORDS }, (_, i) => {
      const c = world.at('candidate', i);
      if (!c) throw new Error(`no candidate ${i}`);
      const has = new Set((c.tags as Array<{ id: string }>).map((t) => t.id));
      const tag = tags.find((t) => !has.has(t.id));
      if (!tag) throw new Error('no tag to add');
      return { id: c.id, value: tag.id };
    });
  }
  return Array.from({ length: RECORDS }, (_, i) => {
    const app = world.at('application', i);
    if (!app) throw new Error(`no application ${i}`);
    const current = app.currentInterviewStage as { id: string; interviewPlanId: string };
    const stage = world
      .stagesOfPlan(current.interviewPlanId)
      .find((s) => s.id !== current.id && s.type !== 'Archived');
    if (!stage) throw new Error('no stage to move to');
    return { id: app.id, value: stage.id };
  });
}

/** Ledger state of each record key when the first run died (no row: the record was never reached). */
function ledgerStates(home: string, op: string): Map<string, string> {
  const file = path.join(home, CONTROL_DB_FILE);
  const states = new Map<string, string>();
  if (!fs.existsSync(file)) return states;
  const db = openSqlite(file);
  try {
    const rows = db
      .prepare('SELECT record_key AS key, state FROM push_ledger WHERE operation = ?')
      .all(op) as Array<{ key: string; state: string }>;
    for (const r of rows) states.set(r.key, r.state);
  } finally {
    db.close();
  }
  return states;
}

async function updateTrial(
  seed: number,
  op: UpdateOperation,
  mode: UpdateMode,
  stratum: number,
  strata: number,
): Promise<UpdateOutcome> {
  const random = prng(seed);
  const dir = tempDir(cleanup);
  const sandbox = await startSandbox({ scale: 10, seed, faults: { latencyMs: 10 } });
  // Answers held after the write is applied: kills land between Ashby applying a write and the ledger
  // hearing of it, the case a resend must be safe for.
  const proxy = mode === 'held-answers' ? await slowWriteProxy(sandbox.url, 80) : undefined;
  try {
    const idField = op === 'candidate.addTag' ? 'candidateId' : 'applicationId';
    const valueField = op === 'candidate.addTag' ? 'tagId' : 'interviewStageId';
    const targets = updateTargets(sandbox, op);
    const input = path.join(dir, 'in.jsonl');
    fs.writeFileSync(
      input,
      targets.map((t) => JSON.stringify({ [idField]: t.id, [valueField]: t.value })).join('\n'),
    );
    const home = path.join(dir, 'home');
    const env = { ASHPIPE_HOME: home, ASHBY_API_KEY: 'sandbox-full' };
    const args = (url: string, extra: string[] = []) => [
      'push',
      '--endpoint',
      op,
      '--input',
      input,
      '--key',
      idField,
      '--api-key-env',
      'ASHBY_API_KEY',
      '--base-url',
      url,
      '--concurrency',
      '3',
      ...extra,
    ];
    const sends = () => {
      const byKey = sandbox.stats().writesByKey[op] ?? {};
      return targets.map((t) => byKey[`${t.id}:${t.value}`] ?? 0);
    };

    const first = runCli(args(proxy?.url ?? sandbox.url), env);
    const killed = await killAfter(
      sandbox,
      first.child,
      first.exit,
      1 + Math.floor(((stratum + random()) / strata) * RECORDS),
      Math.floor(random() * 25),
    );
    // Whatever the killed process left in flight reaches the sandbox before anything is counted.
    await new Promise((r) => setTimeout(r, proxy ? 150 : 50));
    const sentBeforeKill = sends();
    const states = ledgerStates(home, op);

    const results = path.join(dir, 'results.jsonl');
    const rerunExit = await runCli(args(sandbox.url, ['--results', results]), env).exit;
    const sent = sends();
    const records = targets.map((t, i): UpdateRecordOutcome => {
      const rec = sandbox.world.get(t.id);
      const effect =
        op === 'candidate.addTag'
          ? ((rec?.tags as Array<{ id: string }> | undefined) ?? []).filter((tag) => tag.id === t.value)
              .length
          : (rec?.currentInterviewStage as { id?: string } | undefined)?.id === t.value
            ? 1
            : 0;
      return {
        stateAtKill: states.get(`key:${t.id}`) ?? 'not reached',
        sentBeforeKill: sentBeforeKill[i] ?? 0,
        sent: sent[i] ?? 0,
        changes: sandbox.world.changesOf(t.id).length,
        effect,
      };
    });
    return { killed, rerunExit, lines: resultLines(results), records };
  } finally {
    await new Promise<void>((r) => (proxy ? proxy.server.close(() => r()) : r()));
    await sandbox.close();
  }
}

describe('kill -9 during a push of updates without a look-up, then rerun', () => {
  // Two trials a mode, one killing in the first half of the run and one in the second.
  const STRATA = 2;
  const TRIALS = STRATA * 2;
  it.each(['candidate.addTag', 'application.changeStage'] as const)(
    '%s: every record applied, a finished one never sent again, an interrupted one sent exactly once more',
    async (op) => {
      const outcomes: Array<UpdateOutcome & { seed: number; mode: UpdateMode }> = [];
      const queue = Array.from({ length: TRIALS }, (_, i) => BASE_SEED + 1000 + i);
      await Promise.all(
        [0, 1].map(async () => {
          for (let seed = queue.shift(); seed !== undefined; seed = queue.shift()) {
            const i = seed - BASE_SEED - 1000;
            const mode: UpdateMode = i % 2 === 0 ? 'plain' : 'held-answers';
            const stratum = Math.floor(i / 2);
            outcomes.push({ seed, mode, ...(await updateTrial(seed, op, mode, stratum, STRATA)) });
          }
        }),
      );
      if (process.env.ASHPIPE_CRASH_DEBUG) console.log(JSON.stringify(outcomes));
      for (const o of outcomes) {
        const context = `${op} seed ${o.seed} (${o.mode})`;
        expect(o.rerunExit, context).toBe(0);
        expect(o.lines, context).toHaveLength(RECORDS);
        o.records.forEach((r, i) => {
          const where = `${context}, record ${i} (${r.stateAtKill} at the kill)`;
          // The ledger row is written before a request leaves: a record neither done nor in flight never left.
          if (r.stateAtKill === 'done') expect(r.sentBeforeKill, where).toBe(1);
          else if (r.stateAtKill === 'in-flight') expect(r.sentBeforeKill, where).toBeLessThanOrEqual(1);
          else expect(r.sentBeforeKill, where).toBe(0);
          // Finished before the kill: never sent again. Otherwise sent exactly once more, by the rerun.
          expect(r.sent, where).toBe(r.stateAtKill === 'done' ? 1 : r.sentBeforeKill + 1);
          const line = o.lines.find((l) => l.row === i + 1);
          expect(line?.status, where).toBe(r.stateAtKill === 'done' ? 'skipped-done' : 'updated');
          // What the world holds: the change made, once. A tag sent twice is on the candidate once and
          // changed it once; a stage move sent twice is in the change log twice (the sandbox records every
          // move, even to the stage the application is in), and the application is in the stage.
          expect(r.effect, where).toBe(1);
          expect(r.changes, where).toBe(op === 'candidate.addTag' ? 1 : r.sent);
        });
      }
      // The kills must land mid-run, and some between a write being applied and the ledger hearing of it.
      expect(outcomes.filter((o) => o.killed).length).toBeGreaterThanOrEqual(TRIALS / 2);
      expect(
        outcomes
          .flatMap((o) => o.records)
          .filter((r) => r.stateAtKill === 'in-flight' && r.sentBeforeKill === 1).length,
      ).toBeGreaterThan(0);
    },
    150_000,
  );
});

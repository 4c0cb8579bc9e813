import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AshbyClient } from '../../src/ashby/index.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSink, type Sink } from '../../src/sinks/index.js';
import { selectStreams } from '../../src/streams/index.js';
import {
  runSync,
  type SyncEvent,
  type SyncOptions,
  type SyncSummary,
  syncToTarget,
} from '../../src/sync/index.js';
import { harness } from '../server/helpers.js';
import {
  DIALECTS,
  deletedIds,
  liveRecords,
  makeTarget,
  POSTGRES_URL,
  type TestTarget,
  withoutLocks,
  withSink,
} from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const STREAMS = ['candidates', 'applications'];
const LIST_ENDPOINTS = ['candidate.list', 'application.list'];
const PAGE_SIZE = 10;
/** Candidates in the sandbox: 15 pages, so a run started at another's second page overlaps it. */
const SCALE = 150;
const streams = selectStreams({ streams: STREAMS });

/** A run into `sink` whose events are kept; `onPage` hears each committed page of candidates. */
function startRun(
  sandbox: Sandbox,
  sink: Sink,
  options: Partial<SyncOptions> = {},
  onPage?: (pages: number) => void,
  onCandidatesStart?: () => void,
): { done: Promise<SyncSummary>; events: Array<SyncEvent & { at: number }> } {
  const events: Array<SyncEvent & { at: number }> = [];
  const client = new AshbyClient({ apiKey: 'sandbox-full', baseUrl: sandbox.url });
  const done = runSync({
    client,
    sink,
    streams,
    pageSize: PAGE_SIZE,
    ...options,
    onEvent: (event) => {
      events.push({ ...event, at: performance.now() });
      if (event.type === 'page' && event.stream === 'candidates') onPage?.(event.pages);
      if (event.type === 'stream-start' && event.stream === 'candidates') onCandidatesStart?.();
    },
  });
  return { done, events };
}

/** One clean full sync of the sandbox as it is now, into a fresh target of the same sink. */
async function reference(
  sandbox: Sandbox,
  dialect: TestTarget['dialect'],
  targets: TestTarget[],
): Promise<Map<string, unknown[]>> {
  const clean = await makeTarget(dialect);
  targets.push(clean);
  const summary = await syncToTarget({
    apiKey: 'sandbox-full',
    baseUrl: sandbox.url,
    target: clean.target,
    streams,
    pageSize: 100,
  });
  expect(summary.exitCode).toBe(0);
  const expected = new Map<string, unknown[]>();
  await withSink(clean.target, async (sink) => {
    for (const s of STREAMS) expected.set(s, await liveRecords(sink, s));
  });
  expect(expected.get('candidates')?.length).toBeGreaterThan(0);
  return expected;
}

/** When the run committed its first and last page of candidates. */
function pageWindow(events: ReadonlyArray<SyncEvent & { at: number }>): [number, number] {
  const pages = events.filter((e) => e.type === 'page' && e.stream === 'candidates').map((e) => e.at);
  return [Math.min(...pages), Math.max(...pages)];
}

for (const dialect of DIALECTS) {
  describe(`overlapping runs into one ${dialect} target`, () => {
    let sandbox: Sandbox;
    const targets: TestTarget[] = [];
    const target = async () => {
      const t = await makeTarget(dialect);
      targets.push(t);
      return t;
    };

    beforeAll(async () => {
      sandbox = await startSandbox({ scale: SCALE, seed: 21 });
    });
    afterAll(async () => {
      await sandbox?.close();
      for (const t of targets) await t.cleanup();
    });

    /** Every row live and equal to the reference, none soft-deleted. */
    async function expectIntact(sink: Sink): Promise<void> {
      const expected = await reference(sandbox, dialect, targets);
      for (const s of STREAMS) {
        expect(await deletedIds(sink, s), `${s} soft-deleted rows`).toEqual([]);
        expect(await liveRecords(sink, s), s).toEqual(expected.get(s));
      }
    }

    it('a second full refresh started while one runs is refused per stream, naming the holder, and deletes nothing', async () => {
      const t = await target();
      const a = openSink(t.target);
      const b = openSink(t.target);
      await a.open();
      await b.open();
      try {
        await syncToTarget({ apiKey: 'sandbox-full', baseUrl: sandbox.url, target: t.target, streams });
        let second: ReturnType<typeof startRun> | undefined;
        let started!: () => void;
        const secondStarted = new Promise<void>((resolve) => (started = resolve));
        const first = startRun(sandbox, a, { fullRefresh: true, lockLabel: 'nightly cron' }, (pages) => {
          if (pages === 2 && !second) {
            second = startRun(sandbox, b, { fullRefresh: true });
            started();
          }
        });
        await secondStarted;
        const [one, two] = await Promise.all([first.done, (second as ReturnType<typeof startRun>).done]);
        expect(one.exitCode).toBe(0);
        expect(one.totals.deleted).toBe(0);
        expect(two.exitCode).toBe(3);
        for (const name of STREAMS) {
          const r = two.streams.find((s) => s.stream === name);
          expect(r?.status).toBe('skipped');
          expect(r?.error?.code).toBe('stream_locked');
          expect(r?.error?.message).toMatch(
            new RegExp(
              `^${name} is being synced by pid ${process.pid} on host ${os.hostname()} \\(nightly cron\\) since \\d\\d:\\d\\d:\\d\\d UTC; skipped$`,
            ),
          );
        }
        await expectIntact(a);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('two full refreshes that bypass the lock and overlap delete no live row', async () => {
      const t = await target();
      const a = openSink(t.target);
      const b = openSink(t.target);
      await a.open();
      await b.open();
      try {
        await syncToTarget({ apiKey: 'sandbox-full', baseUrl: sandbox.url, target: t.target, streams });
        let second: ReturnType<typeof startRun> | undefined;
        const first = startRun(sandbox, withoutLocks(a), { fullRefresh: true }, (pages) => {
          if (pages === 3 && !second) second = startRun(sandbox, withoutLocks(b), { fullRefresh: true });
        });
        const one = await first.done;
        const two = await (second as ReturnType<typeof startRun>).done;
        expect([one.exitCode, two.exitCode]).toEqual([0, 0]);
        // They really overlapped: the second committed candidates while the first still did.
        const [, firstEnd] = pageWindow(first.events);
        const [secondStart] = pageWindow((second as ReturnType<typeof startRun>).events);
        expect(secondStart).toBeLessThan(firstEnd);
        expect(one.totals.deleted + two.totals.deleted).toBe(0);
        await expectIntact(a);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('a full pass and an incremental run that overlap delete nothing; with --wait the incremental runs after the full one', async () => {
      const t = await target();
      const a = openSink(t.target);
      const b = openSink(t.target);
      await a.open();
      await b.open();
      try {
        await syncToTarget({ apiKey: 'sandbox-full', baseUrl: sandbox.url, target: t.target, streams });
        // Changes for an incremental pass to read: half the candidates and applications updated.
        sandbox.mutate.churn(0.5, 7);
        // Bypassing the lock: the incremental pass (mode chosen before the full pass stored anything) writes
        // its pages while the full pass writes its own.
        let full: ReturnType<typeof startRun> | undefined;
        const inc = startRun(sandbox, withoutLocks(b), {}, undefined, () => {
          full ??= startRun(sandbox, withoutLocks(a), { fullRefresh: true });
        });
        const i = await inc.done;
        const f = await (full as ReturnType<typeof startRun>).done;
        expect([f.exitCode, i.exitCode]).toEqual([0, 0]);
        expect(i.streams.find((s) => s.stream === 'candidates')).toMatchObject({
          mode: 'incremental',
          records: SCALE / 2,
        });
        const [fullStart] = pageWindow((full as ReturnType<typeof startRun>).events);
        const [, incEnd] = pageWindow(inc.events);
        expect(fullStart).toBeLessThan(incEnd);
        expect(f.totals.deleted + i.totals.deleted).toBe(0);
        await expectIntact(a);

        // With the lock, an incremental run started during a full pass waits for it, then reads the changes.
        let waiting: ReturnType<typeof startRun> | undefined;
        const again = startRun(sandbox, a, { fullRefresh: true }, (pages) => {
          if (pages === 2 && !waiting) waiting = startRun(sandbox, b, { lockWaitMs: 120_000 });
        });
        const g = await again.done;
        const waited = waiting as ReturnType<typeof startRun>;
        const w = await waited.done;
        expect([g.exitCode, w.exitCode]).toEqual([0, 0]);
        const notice = waited.events.find((e) => e.type === 'warning' && e.stream === 'candidates');
        expect(notice).toMatchObject({
          message: expect.stringMatching(/^candidates is being synced by pid \d+ .*; waiting up to 2m00s$/),
        });
        // It ran after the full pass, as an incremental pass of what the full pass stored.
        const [, fullEnd] = pageWindow(again.events);
        const [waitedStart] = pageWindow(waited.events);
        expect(waitedStart).toBeGreaterThan(fullEnd);
        expect(w.streams.find((s) => s.stream === 'candidates')).toMatchObject({
          status: 'ok',
          mode: 'incremental',
        });
        await expectIntact(a);
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}

/** The lock record of a stream in a SQLite or PostgreSQL target, read without taking anything. */
async function lockRecord(
  target: string,
  stream: string,
): Promise<{ pid: number; label: string | null } | undefined> {
  if (target.startsWith('jsonl:')) {
    try {
      const file = path.join(target.slice('jsonl:'.length), '_ashpipe_locks', `${stream}.lock`);
      return JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number; label: string | null };
    } catch {
      return undefined;
    }
  }
  if (target.startsWith('sqlite:')) {
    const { openSqlite } = await import('../../src/util/sqlite.js');
    const db = openSqlite(target.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT pid, label FROM _ashpipe_locks WHERE stream = ?').get(stream) as
        | { pid: number; label: string | null }
        | undefined;
    } catch {
      return undefined;
    } finally {
      db.close();
    }
  }
  const schema = new URL(target).searchParams.get('schema') ?? 'public';
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT pid, label FROM "${schema}"._ashpipe_locks WHERE stream = $1`,
      [stream],
    );
    return rows[0] as { pid: number; label: string | null } | undefined;
  } catch {
    return undefined;
  } finally {
    await client.end();
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a CLI run and a scheduled flow on one target', () => {
  let sandbox: Sandbox;
  const cleanups: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    // Slow answers keep each run going long enough for the other to start during it.
    sandbox = await startSandbox({ scale: 400, seed: 22, faults: { latencyMs: 25 } });
  });
  afterAll(async () => {
    await sandbox?.close();
    for (const c of cleanups) await c();
  });

  /** A server with a source flow into `target`, running the real sync engine against the sandbox. */
  async function flowInto(t: TestTarget) {
    // The target is the CLI's file: the server is told its directory is one of its data directories.
    const file = t.dialect === 'postgres' ? undefined : t.target.replace(/^(sqlite|jsonl):/, '');
    const h = await harness({
      realSource: true,
      baseUrl: sandbox.url,
      ...(file ? { dataDirs: [path.dirname(path.resolve(file))] } : {}),
    });
    cleanups.push(() => h.close());
    const cred = await h.deps.services.credentials.add({ name: 'sandbox', apiKey: 'sandbox-full' });
    const target =
      t.dialect === 'sqlite'
        ? { type: 'sqlite' as const, path: t.target.slice('sqlite:'.length) }
        : t.dialect === 'jsonl'
          ? { type: 'jsonl' as const, path: t.target.slice('jsonl:'.length) }
          : {
              type: 'postgres' as const,
              url: POSTGRES_URL ?? '',
              schema: new URL(t.target).searchParams.get('schema') ?? '',
            };
    const flow = await h.deps.store.createFlow({
      kind: 'source',
      name: 'Nightly',
      credentialId: cred.id,
      schedule: '0 3 * * *',
      streams: STREAMS,
      target,
      options: {},
    });
    // Flows are created paused, and a paused flow's scheduled slot is skipped: this one is switched on.
    await h.deps.store.setFlowStatus(flow.id, 'active');
    return { h, flow };
  }

  async function expectNothingDeleted(t: TestTarget): Promise<void> {
    const refs: TestTarget[] = [];
    const expected = await reference(sandbox, t.dialect, refs);
    await withSink(t.target, async (sink) => {
      for (const s of STREAMS) {
        expect(await deletedIds(sink, s), s).toEqual([]);
        expect(await liveRecords(sink, s), s).toEqual(expected.get(s));
      }
    });
    for (const r of refs) await r.cleanup();
  }

  it.each(['sqlite', 'jsonl'] as const)(
    '%s: `ashpipe sync` during a scheduled run is refused per stream, naming the flow',
    async (dialect) => {
      const t = await makeTarget(dialect);
      cleanups.push(() => t.cleanup());
      const { h, flow } = await flowInto(t);
      // The flow's candidate pages are held (100 records a page, 3 s each) so that it keeps candidates while
      // the CLI starts, however slowly on a loaded machine; the CLI never reads that list (it is refused).
      sandbox.faults.set({ slowEndpoints: { 'candidate.list': 3_000 } });
      cleanups.push(async () => sandbox.faults.set({ slowEndpoints: {} }));
      const run = await h.deps.scheduler.trigger(flow.id, 'schedule');
      await until('the flow holds candidates', async () => {
        const now = await h.deps.store.getRun(run.id);
        if (now?.status !== 'running') throw new Error(`the flow run ended early: ${JSON.stringify(now)}`);
        return (await lockRecord(t.target, 'candidates')) !== undefined;
      });
      const { runCli } = await import('../support/cli.js');
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
      cleanups.push(async () => fs.rmSync(home, { recursive: true, force: true }));
      const cli = await runCli(
        [
          'sync',
          '--base-url',
          sandbox.url,
          '--to',
          t.target,
          '--streams',
          STREAMS.join(','),
          '--full-refresh',
          '--json',
        ],
        { ASHBY_API_KEY: 'sandbox-full', ASHPIPE_HOME: home },
      );
      sandbox.faults.set({ slowEndpoints: {} });
      expect(cli.code).toBe(3);
      const summary = JSON.parse(cli.out) as SyncSummary;
      const candidates = summary.streams.find((s) => s.stream === 'candidates');
      expect(candidates).toMatchObject({ status: 'skipped', error: { code: 'stream_locked' } });
      expect(candidates?.error?.message).toContain(
        `is being synced by pid ${process.pid} on host ${os.hostname()} (flow "Nightly" (run ${run.id}))`,
      );
      const finished = await h.deps.scheduler.waitFor(run.id);
      expect(finished?.status).toBe('succeeded');
      await expectNothingDeleted(t);
    },
  );

  it.skipIf(!POSTGRES_URL)(
    'postgres: a scheduled run during `ashpipe sync` (another process) skips its streams, naming the CLI',
    async () => {
      const t = await makeTarget('postgres');
      cleanups.push(() => t.cleanup());
      const { h, flow } = await flowInto(t);
      const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
      cleanups.push(async () => fs.rmSync(home, { recursive: true, force: true }));
      // The CLI's list answers are held (pages of 5, ~30 pages each) so that it keeps both streams until the
      // scheduled run has met them, however long that run takes to start on a loaded machine; the scheduled
      // run reads neither list (both streams are locked), so only the CLI waits. They end once it has.
      sandbox.faults.set({ slowEndpoints: Object.fromEntries(LIST_ENDPOINTS.map((e) => [e, 2_000])) });
      cleanups.push(async () => sandbox.faults.set({ slowEndpoints: {} }));
      const child = spawn(
        process.execPath,
        [
          path.join(ROOT, 'bin/ashpipe.js'),
          'sync',
          '--base-url',
          sandbox.url,
          '--to',
          t.target,
          '--streams',
          STREAMS.join(','),
          '--page-size',
          '5',
          '--json',
        ],
        {
          env: { ...process.env, ASHBY_API_KEY: 'sandbox-full', ASHPIPE_HOME: home },
          stdio: ['ignore', 'pipe', 'ignore'],
        },
      );
      let out = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await until(
        'the CLI holds candidates and applications',
        async () =>
          (await lockRecord(t.target, 'candidates'))?.pid === child.pid &&
          (await lockRecord(t.target, 'applications'))?.pid === child.pid,
      );
      const run = await h.deps.scheduler.trigger(flow.id, 'schedule');
      const finished = await h.deps.scheduler.waitFor(run.id);
      // The scheduled run has met the CLI's locks: the CLI's remaining pages need no slow answers.
      sandbox.faults.set({ slowEndpoints: {} });
      expect(finished?.status).toBe('partial');
      const messages = (finished?.errors ?? []).map((e) => e.message);
      for (const s of STREAMS) {
        expect(messages).toContainEqual(
          expect.stringMatching(
            new RegExp(
              `^${s} is being synced by pid ${child.pid} on host .* \\(ashpipe sync\\) since .*; skipped$`,
            ),
          ),
        );
      }
      expect(await exited).toBe(0);
      expect((JSON.parse(out) as SyncSummary).exitCode).toBe(0);
      await expectNothingDeleted(t);
    },
    45_000,
  );
});

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
const PAGE_SIZE = 10;
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

    /** One clean full sync of the sandbox as it is now, into a fresh target of the same sink. */
    async function reference(): Promise<Map<string, unknown[]>> {
      const clean = await target();
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
      expect(expected.get('candidates')?.length).toBe(300);
      return expected;
    }

    beforeAll(async () => {
      sandbox = await startSandbox({ scale: 300, seed: 21 });
    });
    afterAll(async () => {
      await sandbox?.close();
      for (const t of targets) await t.cleanup();
    });

    /** Every row live and equal to the reference, none soft-deleted. */
    async function expectIntact(sink: Sink): Promise<void> {
      const expected = await reference();
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
          records: 150,
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

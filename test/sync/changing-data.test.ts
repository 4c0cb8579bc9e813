import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AshbyClient } from '../../src/ashby/index.js';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { openSink, type Sink } from '../../src/sinks/index.js';
import { selectStreams } from '../../src/streams/index.js';
import { runSync, type SyncSummary, syncToTarget } from '../../src/sync/index.js';
import { DIALECTS, deletedIds, liveRecords, makeTarget, type TestTarget, withSink } from './helpers.js';

const streams = selectStreams({ streams: ['candidates'] });
const PAGE_SIZE = 10;
const SCALE = 120;

type Rec = Record<string, unknown>;

for (const dialect of DIALECTS) {
  describe(`Ashby's data changing during a full pass (${dialect})`, () => {
    let sandbox: Sandbox;
    const targets: TestTarget[] = [];
    beforeAll(async () => {
      sandbox = await startSandbox({ scale: SCALE, seed: 51 });
    });
    afterAll(async () => {
      await sandbox?.close();
      for (const t of targets) await t.cleanup();
    });

    async function reference(): Promise<Rec[]> {
      const clean = await makeTarget(dialect);
      targets.push(clean);
      expect(
        (await syncToTarget({ apiKey: 'sandbox-full', baseUrl: sandbox.url, target: clean.target, streams }))
          .exitCode,
      ).toBe(0);
      return withSink(clean.target, (sink) => liveRecords(sink, 'candidates'));
    }

    async function run(
      sink: Sink,
      options: { fullRefresh?: boolean; onPage?: (pages: number) => Promise<void> } = {},
    ): Promise<SyncSummary> {
      return runSync({
        client: new AshbyClient({ apiKey: 'sandbox-full', baseUrl: sandbox.url }),
        sink: options.onPage ? afterEachPage(sink, options.onPage) : sink,
        streams,
        pageSize: PAGE_SIZE,
        ...(options.fullRefresh ? { fullRefresh: true } : {}),
      });
    }

    it('loses no row; a record deleted after the pass read it is marked deleted by the next complete pass', async () => {
      const t = await makeTarget(dialect);
      targets.push(t);
      const sink = openSink(t.target);
      await sink.open();
      try {
        expect((await run(sink)).exitCode).toBe(0);
        const ids = (await liveRecords(sink, 'candidates')).map((r) => String(r.id));
        // The full pass reads in the world's order: position 5 is on page 1, position 100 on page 11.
        const order = Array.from({ length: SCALE }, (_, i) => sandbox.world.idAt('candidate', i));
        const readEarly = order[5] as string;
        const readLate = order[100] as string;
        const updatedEarly = order[6] as string;
        const updatedLate = order[101] as string;
        const created: string[] = [];

        const during = await run(sink, {
          fullRefresh: true,
          onPage: async (pages) => {
            if (pages !== 4) return;
            // Between pages 4 and 5: records created, updated on both sides of the cursor, deleted on both sides.
            for (const name of ['During A', 'During B']) {
              const res = await fetch(`${sandbox.url}/candidate.create`, {
                method: 'POST',
                headers: {
                  authorization: `Basic ${Buffer.from('sandbox-full:').toString('base64')}`,
                  'content-type': 'application/json',
                },
                body: JSON.stringify({ name }),
              });
              created.push(((await res.json()) as { results: { id: string } }).results.id);
            }
            sandbox.mutate.updateCandidate(updatedEarly, { position: 'Changed after it was read' });
            sandbox.mutate.updateCandidate(updatedLate, { position: 'Changed before it was read' });
            sandbox.mutate.deleteCandidate(readEarly);
            sandbox.mutate.deleteCandidate(readLate);
          },
        });
        expect(during.exitCode).toBe(0);
        const afterPass = await liveRecords(sink, 'candidates');
        const live = new Set(afterPass.map((r) => String(r.id)));
        // No row lost: every record that existed throughout the pass is live.
        for (const id of ids) if (id !== readLate) expect(live.has(id), id).toBe(true);
        // Read before its deletion: still live, as the pass saw it.
        expect(live.has(readEarly)).toBe(true);
        // Deleted before the pass reached it: the pass never saw it, so it is marked deleted.
        expect(await deletedIds(sink, 'candidates')).toEqual([readLate]);
        expect(during.streams[0]?.deleted).toBe(1);
        const byId = new Map(afterPass.map((r) => [String(r.id), r]));
        expect(byId.get(updatedLate)?.position).toBe('Changed before it was read');
        expect(byId.get(updatedEarly)?.position).not.toBe('Changed after it was read');

        // The next incremental run brings what changed behind the cursor; only a full pass sees deletions.
        const next = await run(sink);
        expect(next.streams[0]).toMatchObject({ mode: 'incremental', deleted: 0 });
        const expected = await reference();
        expect((await liveRecords(sink, 'candidates')).filter((r) => r.id !== readEarly)).toEqual(expected);
        for (const id of created) expect(expected.some((r) => r.id === id)).toBe(true);

        const complete = await run(sink, { fullRefresh: true });
        expect(complete.streams[0]?.deleted).toBe(1);
        expect(await liveRecords(sink, 'candidates')).toEqual(expected);
        expect((await deletedIds(sink, 'candidates')).sort()).toEqual([readEarly, readLate].sort());
      } finally {
        await sink.close();
      }
    });
  });
}

/** The sink, calling `hook` after each committed page of candidates (with the number of pages so far). */
function afterEachPage(sink: Sink, hook: (pages: number) => Promise<void>): Sink {
  let pages = 0;
  return new Proxy(sink, {
    get(target, property, receiver) {
      if (property === 'upsertPage') {
        return async (...args: Parameters<Sink['upsertPage']>) => {
          const result = await target.upsertPage(...args);
          if (args[0].name === 'candidates') await hook(++pages);
          return result;
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

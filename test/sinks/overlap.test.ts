import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Sink, StreamShape, StreamState } from '../../src/sinks/index.js';
import { KINDS, opened } from './harness.js';

const candidates: StreamShape = { name: 'candidates', primaryKey: ['id'] };
const full = (passId: string): StreamState => ({ passId, passKind: 'full' });
const recs = (...ids: string[]) => ids.map((id) => ({ id }));

async function liveIds(sink: Sink): Promise<string[]> {
  const rows = await sink.readRows('candidates', { includeDeleted: false });
  return rows.map((r) => String(r.id));
}

for (const k of KINDS) {
  describe.skipIf(k.skip)(`${k.kind} sink: a full pass deletes only rows last seen before it started`, () => {
    const open: Sink[] = [];
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });
    afterAll(async () => {
      await k.cleanup();
    });

    /** Two writers on one target, as two processes that bypass the lock would be. */
    async function twoWriters(): Promise<[Sink, Sink]> {
      const target = await k.target();
      return [await opened(target, open), await opened(target, open)];
    }

    it('two interleaved full passes that each saw every record delete nothing', async () => {
      const [a, b] = await twoWriters();
      await a.upsertPage(candidates, recs('r1', 'r2', 'r3', 'r4'), full('old'));
      await a.finishFullPass(candidates, 'old', full('old'));
      await a.beginPass('candidates', 'A');
      await b.beginPass('candidates', 'B');
      await a.upsertPage(candidates, recs('r1', 'r2'), full('A'));
      await b.upsertPage(candidates, recs('r1', 'r2', 'r3'), full('B'));
      await a.upsertPage(candidates, recs('r3', 'r4'), full('A'));
      await b.upsertPage(candidates, recs('r4'), full('B'));
      // With "delete what this pass id did not see", A would delete r1..r3's rows last written by B, and B
      // A's r4: every finishing pass erasing the other's sightings.
      expect((await a.finishFullPass(candidates, 'A', full('A'))).deleted).toBe(0);
      expect((await b.finishFullPass(candidates, 'B', full('B'))).deleted).toBe(0);
      expect(await liveIds(a)).toEqual(['r1', 'r2', 'r3', 'r4']);
    });

    it('a row another pass saw after this one started stays, even when this pass never saw it', async () => {
      const [a, b] = await twoWriters();
      await a.upsertPage(candidates, recs('r1', 'r2'), full('old'));
      await a.finishFullPass(candidates, 'old', full('old'));
      await a.beginPass('candidates', 'A');
      await a.upsertPage(candidates, recs('r1', 'r2'), full('A'));
      // r5 was created in Ashby behind A's cursor; a pass that started before A (B) reads it later.
      await b.upsertPage(candidates, recs('r5'), full('B-started-earlier'));
      // And an incremental pass sees r6.
      await b.upsertPage(candidates, recs('r6'), { passId: 'I', passKind: 'incremental' });
      expect((await a.finishFullPass(candidates, 'A', full('A'))).deleted).toBe(0);
      expect(await liveIds(a)).toEqual(['r1', 'r2', 'r5', 'r6']);
    });

    it('a row nobody saw since the pass started is deleted, whichever pass saw it before', async () => {
      const [a, b] = await twoWriters();
      await a.upsertPage(candidates, recs('r1', 'r2', 'gone'), full('old'));
      await a.finishFullPass(candidates, 'old', full('old'));
      await b.upsertPage(candidates, recs('gone-too'), { passId: 'I0', passKind: 'incremental' });
      await a.beginPass('candidates', 'A');
      await b.beginPass('candidates', 'B');
      await a.upsertPage(candidates, recs('r1', 'r2'), full('A'));
      await b.upsertPage(candidates, recs('r1'), full('B'));
      expect((await a.finishFullPass(candidates, 'A', full('A'))).deleted).toBe(2);
      expect(await liveIds(a)).toEqual(['r1', 'r2']);
      // B started before A finished and never saw r2 after A did: r2's last sighting is A's, after B started.
      expect((await b.finishFullPass(candidates, 'B', full('B'))).deleted).toBe(0);
      expect(await liveIds(b)).toEqual(['r1', 'r2']);
    });

    it('a resumed pass keeps the start it registered first', async () => {
      const [a, b] = await twoWriters();
      await a.upsertPage(candidates, recs('r1', 'r2'), full('old'));
      await a.finishFullPass(candidates, 'old', full('old'));
      await a.beginPass('candidates', 'A');
      await a.upsertPage(candidates, recs('r1'), full('A'));
      // Another writer sees r2 after A started; then A is resumed (beginPass again) and finishes.
      await b.upsertPage(candidates, recs('r2'), { passId: 'I', passKind: 'incremental' });
      await a.beginPass('candidates', 'A');
      expect((await a.finishFullPass(candidates, 'A', full('A'))).deleted).toBe(0);
      // A second full pass that starts now and sees only r1 does delete r2.
      await a.beginPass('candidates', 'A2');
      await a.upsertPage(candidates, recs('r1'), full('A2'));
      expect((await a.finishFullPass(candidates, 'A2', full('A2'))).deleted).toBe(1);
      expect(await liveIds(a)).toEqual(['r1']);
    });
  });
}

for (const k of KINDS.filter((x) => x.kind !== 'jsonl')) {
  describe.skipIf(k.skip)(`${k.kind} sink: a table of an earlier version`, () => {
    const open: Sink[] = [];
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });

    it('gets the sighting column when opened; its rows count as seen before any pass that starts now', async () => {
      const target = await k.target();
      const first = await opened(target, open);
      await first.upsertPage(candidates, recs('r1', 'r2', 'r3'), full('old'));
      await first.close();
      // The table as an earlier version left it: no _ashpipe_seen_seq.
      if (k.kind === 'sqlite') {
        const { openSqlite } = await import('../../src/util/sqlite.js');
        const db = openSqlite(target.slice('sqlite:'.length));
        db.exec('ALTER TABLE candidates DROP COLUMN _ashpipe_seen_seq');
        db.close();
      } else {
        const { default: pg } = await import('pg');
        const schema = new URL(target).searchParams.get('schema');
        const client = new pg.Client({ connectionString: process.env.ASHPIPE_TEST_POSTGRES_URL });
        await client.connect();
        await client.query(`ALTER TABLE "${schema}".candidates DROP COLUMN _ashpipe_seen_seq`);
        await client.end();
      }
      const sink = await opened(target, open);
      await sink.beginPass('candidates', 'A');
      await sink.upsertPage(candidates, recs('r1'), full('A'));
      expect((await sink.finishFullPass(candidates, 'A', full('A'))).deleted).toBe(2);
      expect(await liveIds(sink)).toEqual(['r1']);
    });
  });
}

import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Sink, StreamShape, StreamState } from '../../src/sinks/index.js';
import { KINDS, opened, raws } from './harness.js';

const candidates: StreamShape = {
  name: 'candidates',
  primaryKey: ['id'],
  customFieldsObjectType: 'Candidate',
};
const state = (passId: string, extra: Partial<StreamState> = {}): StreamState => ({
  passId,
  passKind: 'full',
  pagesCommitted: 1,
  ...extra,
});

for (const k of KINDS) {
  describe.skipIf(k.skip)(`${k.kind} sink`, () => {
    const open: Sink[] = [];
    const sink = async (target?: string): Promise<Sink> => opened(target ?? (await k.target()), open);
    const isSql = k.kind !== 'jsonl';

    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });
    afterAll(async () => {
      await k.cleanup();
    });

    it('counts inserted, updated and unchanged records and saves the state with the page', async () => {
      const s = await sink();
      const first = await s.upsertPage(
        candidates,
        [
          { id: 'c1', name: 'Ada' },
          { id: 'c2', name: 'Grace' },
          { id: 'c3', name: 'Edsger' },
        ],
        state('p1', { cursor: 'cur-1' }),
      );
      expect(first).toMatchObject({ inserted: 3, updated: 0, unchanged: 0, undeleted: 0 });
      expect(await s.getState('candidates')).toEqual(state('p1', { cursor: 'cur-1' }));

      const second = await s.upsertPage(
        candidates,
        [
          { id: 'c1', name: 'Ada' },
          { id: 'c2', name: 'Grace Hopper' },
          { id: 'c4', name: 'Barbara' },
        ],
        state('p1', { cursor: 'cur-2', pagesCommitted: 2 }),
      );
      expect(second).toMatchObject({ inserted: 1, updated: 1, unchanged: 1, undeleted: 0, newColumns: [] });
      const rows = await s.readRows('candidates');
      expect(raws(rows)).toEqual([
        { id: 'c1', name: 'Ada' },
        { id: 'c2', name: 'Grace Hopper' },
        { id: 'c3', name: 'Edsger' },
        { id: 'c4', name: 'Barbara' },
      ]);
      expect((await s.getState('candidates'))?.cursor).toBe('cur-2');
      expect(await s.getState('jobs')).toBeUndefined();
    });

    it('keeps every record exactly, whatever its strings contain', async () => {
      const s = await sink();
      const tricky = [
        {
          id: 'u1',
          name: 'Zoë 🦄 Ünïcødé — 日本語',
          note: 'line1\nline2\r\n\ttab',
          path: 'C:\\dir\\"quoted"',
        },
        { id: 'u2', name: 'x'.repeat(10_000), nested: { deep: [1, 2.5, null, { e: '🎉' }] }, empty: '' },
        { id: 'u3', name: null, flag: false, count: 0, tags: [], obj: {}, quote: 'it\'s "fine"; --' },
      ];
      await s.upsertPage(candidates, tricky, state('p1'));
      const rows = await s.readRows('candidates');
      expect(raws(rows)).toEqual(tricky);
      if (isSql) {
        expect(rows[0]?.name).toBe(tricky[0]?.name);
        expect(rows[0]?.note).toBe(tricky[0]?.note);
        expect(rows[0]?.path).toBe(tricky[0]?.path);
        expect(rows[1]?.name).toHaveLength(10_000);
        expect(rows[1]?.nested).toEqual(tricky[1]?.nested);
        expect(rows[2]?.flag).toBe(false);
        expect(rows[2]?.count).toBe(0);
      }
    });

    it('stores NUL characters and lone surrogates (PostgreSQL, which cannot, as U+FFFD)', async () => {
      const s = await sink();
      const odd = {
        id: 'n1',
        text: 'a\u0000b',
        half: 'x\ud800y',
        literal: 'back\\u0000slash \\\u0000',
        nested: { t: 'c\u0000', pair: '😀' },
      };
      await s.upsertPage(candidates, [odd], state('p1'));
      const expected =
        k.kind === 'postgres'
          ? {
              id: 'n1',
              text: 'a\ufffdb',
              half: 'x\ufffdy',
              literal: 'back\\u0000slash \\\ufffd',
              nested: { t: 'c\ufffd', pair: '😀' },
            }
          : odd;
      const rows = await s.readRows('candidates');
      expect(raws(rows)).toEqual([expected]);
      if (isSql) expect(rows[0]?.nested).toEqual(expected.nested);
      expect(await s.upsertPage(candidates, [odd], state('p1'))).toMatchObject({ unchanged: 1 });
    });

    it('adds a column for a new field, reports it, and leaves older rows NULL there', async () => {
      const s = await sink();
      const first = await s.upsertPage(candidates, [{ id: 'a', name: 'A' }], state('p1'));
      if (isSql) expect(first.newColumns).toEqual(['id', 'name']);
      const second = await s.upsertPage(
        candidates,
        [{ id: 'b', name: 'B', sourceChannel: 'referral', isPrivate: true }],
        state('p1'),
      );
      if (isSql) expect(second.newColumns).toEqual(['source_channel', 'is_private']);
      const rows = await s.readRows('candidates');
      expect(raws(rows)).toEqual([
        { id: 'a', name: 'A' },
        { id: 'b', name: 'B', sourceChannel: 'referral', isPrivate: true },
      ]);
      if (isSql) {
        expect(rows[0]?.source_channel).toBeNull();
        expect(rows[1]?.source_channel).toBe('referral');
        expect(rows[1]?.is_private).toBe(true);
      }
    });

    it('stores NULL when a value does not fit its column type, keeping it in _ashpipe_raw', async () => {
      const s = await sink();
      await s.upsertPage(candidates, [{ id: 'a', score: 5, label: 'x', meta: { a: 1 } }], state('p1'));
      await s.upsertPage(
        candidates,
        [
          { id: 'b', score: 'high', label: 7, meta: 'flat' },
          { id: 'c', score: 2.5, label: null, meta: [1] },
        ],
        state('p1'),
      );
      const rows = await s.readRows('candidates');
      expect(raws(rows)).toEqual([
        { id: 'a', score: 5, label: 'x', meta: { a: 1 } },
        { id: 'b', score: 'high', label: 7, meta: 'flat' },
        { id: 'c', score: 2.5, label: null, meta: [1] },
      ]);
      if (isSql) {
        expect(rows.map((r) => r.score)).toEqual([5, null, null]);
        expect(rows.map((r) => r.label)).toEqual(['x', null, null]);
        expect(rows.map((r) => r.meta)).toEqual([{ a: 1 }, null, [1]]);
      }
    });

    it('writes nothing of a page that fails part-way: neither rows, columns nor state', async () => {
      const s = await sink();
      await s.upsertPage(
        candidates,
        [
          { id: 'a', name: 'A' },
          { id: 'b', name: 'B' },
        ],
        state('p1', { cursor: 'one' }),
      );
      const before = await s.readRows('candidates');
      // JSON.stringify throws on a BigInt, so the third record fails after the first two were written.
      const failing = [
        { id: 'a', name: 'A changed', brandNew: 'x' },
        { id: 'z', name: 'Z' },
        { id: 'boom', name: 'bad', size: BigInt(1) },
      ];
      await expect(s.upsertPage(candidates, failing, state('p1', { cursor: 'two' }))).rejects.toThrow();
      expect(await s.readRows('candidates')).toEqual(before);
      expect((await s.getState('candidates'))?.cursor).toBe('one');
      const retry = await s.upsertPage(candidates, failing.slice(0, 2), state('p1', { cursor: 'two' }));
      expect(retry).toMatchObject({ inserted: 1, updated: 1 });
      if (isSql) expect(retry.newColumns).toEqual(['brand_new']);
      expect((await s.getState('candidates'))?.cursor).toBe('two');
    });

    it('soft-deletes only rows unseen in a complete full pass, and undeletes rows that reappear', async () => {
      const s = await sink();
      const abc = [{ id: 'a' }, { id: 'b' }, { id: 'c' }];
      await s.upsertPage(candidates, abc, state('p1'));
      expect((await s.finishFullPass(candidates, 'p1', state('p1'))).deleted).toBe(0);

      await s.upsertPage(candidates, [{ id: 'a' }, { id: 'c', changed: true }], state('p2'));
      const done = state('p2', { lastFullPassCompletedAt: '2026-01-01T00:00:00.000Z' });
      expect((await s.finishFullPass(candidates, 'p2', done)).deleted).toBe(1);
      expect(await s.getState('candidates')).toEqual(done);

      const all = await s.readRows('candidates');
      expect(all.map((r) => [JSON.parse(String(r._ashpipe_raw)).id, r._ashpipe_deleted_at !== null])).toEqual(
        [
          ['a', false],
          ['b', true],
          ['c', false],
        ],
      );
      expect(String(all[1]?._ashpipe_deleted_at)).toMatch(/^\d{4}-\d\d-\d\dT/);
      const live = await s.readRows('candidates', { includeDeleted: false });
      expect(raws(live)).toEqual([{ id: 'a' }, { id: 'c', changed: true }]);

      const back = await s.upsertPage(candidates, abc, state('p3'));
      expect(back).toMatchObject({ inserted: 0, undeleted: 1, updated: 1, unchanged: 1 });
      expect((await s.finishFullPass(candidates, 'p3', state('p3'))).deleted).toBe(0);
      expect(await s.readRows('candidates', { includeDeleted: false })).toHaveLength(3);
      expect(await s.readRows('candidates', { limit: 1, offset: 1 })).toHaveLength(1);
    });

    it.skipIf(!isSql)('replaces custom field values per object on every upsert', async () => {
      const target = await k.target();
      const s = await sink(target);
      const title = `Bob's "fav"; drop table candidates; -- 🎯 a.b`;
      await s.upsertPage(
        candidates,
        [
          {
            id: 'c1',
            customFields: [
              { id: 'f1', title, value: 'x' },
              { id: 'f2', title: 'Level', value: 3 },
            ],
          },
          { id: 'c2', customFields: [{ id: 'f1', title: 'Other', value: { nested: [true] } }] },
        ],
        state('p1'),
      );
      await s.upsertPage(
        candidates,
        [{ id: 'c1', customFields: [{ id: 'f2', title: 'Level', value: 4 }] }],
        state('p1'),
      );
      const rows = await k.customFieldValues(target);
      expect(rows.map((r) => [r.object_type, r.object_id, r.field_id, r.title, r.value])).toEqual([
        ['Candidate', 'c1', 'f2', 'Level', 4],
        ['Candidate', 'c2', 'f1', 'Other', { nested: [true] }],
      ]);
      await s.upsertPage(
        candidates,
        [{ id: 'c2', customFields: [{ id: 'f9', title, value: null }] }],
        state('p1'),
      );
      const after = await k.customFieldValues(target);
      expect(after.map((r) => [r.object_id, r.field_id, r.title, r.value])).toEqual([
        ['c1', 'f2', 'Level', 4],
        ['c2', 'f9', title, null],
      ]);
      expect(await s.readRows('candidates')).toHaveLength(2);
    });

    it('maps hostile field names to distinct safe columns without injecting SQL', async () => {
      const s = await sink();
      const hostile: Record<string, unknown> = {
        id: 'h1',
        ID: 'upper',
        '"; drop table candidates; --': 'inject',
        "a'); DELETE FROM _ashpipe_state; --": 'inject2',
        'a.b': 'dotted',
        a_b: 'underscored',
        '🦄': 'emoji',
        '🎉': 'emoji2',
        _ashpipe_raw: 'impostor',
        _ashpipe_deleted_at: 'impostor2',
        '': 'empty',
        '123': 'digits',
        ['x'.repeat(200)]: 'long',
      };
      await s.upsertPage(candidates, [hostile], state('p1'));
      await s.upsertPage(candidates, [{ id: 'h2', ID: 'second' }], state('p1'));
      const rows = await s.readRows('candidates');
      expect(raws(rows)).toEqual([hostile, { id: 'h2', ID: 'second' }]);
      expect(await s.getState('candidates')).toEqual(state('p1'));
      if (isSql) {
        const row = rows[0] ?? {};
        expect(row._ashpipe_deleted_at).toBeNull();
        expect(JSON.parse(String(row._ashpipe_raw))).toEqual(hostile);
        for (const column of Object.keys(row)) expect(column).toMatch(/^[a-z0-9_]{1,63}$/);
        // Every value lands in exactly one column of its own.
        for (const value of Object.values(hostile)) {
          expect(Object.values(row).filter((v) => v === value)).toHaveLength(1);
        }
        expect(row.id).toBe('h1');
      }
    });

    it('continues after a reopen with the same columns, types and state', async () => {
      const target = await k.target();
      const s1 = await sink(target);
      await s1.upsertPage(candidates, [{ id: 'a', score: 1, name: 'A' }], state('p1', { syncToken: 'tok' }));
      await s1.close();
      const s2 = await sink(target);
      expect(await s2.getState('candidates')).toEqual(state('p1', { syncToken: 'tok' }));
      const again = await s2.upsertPage(
        candidates,
        [
          { id: 'a', score: 1, name: 'A' },
          { id: 'b', score: 'text now', name: 'B' },
        ],
        state('p2'),
      );
      expect(again).toMatchObject({ inserted: 1, unchanged: 1, newColumns: [] });
      const rows = await s2.readRows('candidates');
      if (isSql) expect(rows.map((r) => r.score)).toEqual([1, null]);
      await s2.saveState('candidates', undefined);
      expect(await s2.getState('candidates')).toBeUndefined();
      await s2.upsertPage(candidates, [{ id: 'c' }], state('p2'));
      expect((await s2.finishFullPass(candidates, 'p2', state('p2'))).deleted).toBe(0);
    });

    it.skipIf(!isSql)('agrees with a second sink on the same database about columns and rows', async () => {
      const target = await k.target();
      const a = await sink(target);
      const b = await sink(target);
      await a.upsertPage(candidates, [{ id: 'a', name: 'A' }], state('p1'));
      const fromB = await b.upsertPage(candidates, [{ id: 'b', name: 'B', extra: 'x' }], state('p1'));
      expect(fromB.newColumns).toEqual(['extra']);
      const fromA = await a.upsertPage(candidates, [{ id: 'c', extra: 'y', more: 1 }], state('p1'));
      expect(fromA).toMatchObject({ inserted: 1, newColumns: ['more'] });
      expect((await a.readRows('candidates')).map((r) => [r.extra, r.more])).toEqual([
        [null, null],
        ['x', null],
        ['y', 1],
      ]);
      const jobs: StreamShape = { name: 'jobs', primaryKey: ['id'] };
      await b.upsertPage(jobs, [{ id: 'j1' }], state('old'));
      expect((await a.finishFullPass(jobs, 'new', state('new'))).deleted).toBe(1);
      expect(await b.getState('jobs')).toEqual(state('new'));
    });

    it('takes pages of several streams at once, each with its own state', async () => {
      const s = await sink();
      const jobs: StreamShape = { name: 'jobs', primaryKey: ['id'] };
      const pages = Array.from({ length: 6 }, (_, p) =>
        Promise.all([
          s.upsertPage(candidates, [{ id: `c${p}`, v: p }], state('pc', { cursor: `c${p}` })),
          s.upsertPage(jobs, [{ id: `j${p}`, w: p, [`f${p}`]: true }], state('pj', { cursor: `j${p}` })),
        ]),
      );
      const results = (await Promise.all(pages)).flat();
      expect(results.reduce((n, r) => n + r.inserted, 0)).toBe(12);
      expect(await s.readRows('candidates')).toHaveLength(6);
      expect(raws(await s.readRows('jobs'))).toEqual(
        Array.from({ length: 6 }, (_, p) => ({ id: `j${p}`, w: p, [`f${p}`]: true })),
      );
      expect((await s.getState('jobs'))?.passId).toBe('pj');
      expect((await s.getState('candidates'))?.passId).toBe('pc');
    });

    it('treats a repeated key within one page as one record, the last one winning', async () => {
      const s = await sink();
      const result = await s.upsertPage(
        candidates,
        [
          { id: 'a', v: 1 },
          { id: 'a', v: 2 },
        ],
        state('p1'),
      );
      expect(result).toMatchObject({ inserted: 1, updated: 0 });
      expect(raws(await s.readRows('candidates'))).toEqual([{ id: 'a', v: 2 }]);
    });

    it('stores the parent of a child stream page beside the record, indexed, and keeps it after a reopen', async () => {
      const target = await k.target();
      const notes: StreamShape = { name: 'candidate_notes', primaryKey: ['id'] };
      const parentOf = (rows: ReadonlyArray<Record<string, unknown>>) =>
        rows.map((r) => [JSON.parse(String(r._ashpipe_raw)).id, r._ashpipe_parent_id]);
      const s1 = await sink(target);
      // A note stored before parents were recorded (an older version) has none.
      await s1.upsertPage(notes, [{ id: 'n0', content: 'old' }], state('p1'));
      const first = await s1.upsertPage(
        notes,
        [
          { id: 'n1', content: 'Strong' },
          { id: 'n2', content: 'Call back' },
        ],
        state('p1'),
        { parent: { field: 'candidateId', value: 'c1' } },
      );
      expect(first).toMatchObject({ inserted: 2, newColumns: [] });
      await s1.upsertPage(notes, [{ id: 'n3', content: 'Hired' }], state('p1'), {
        parent: { field: 'candidateId', value: 'c2' },
      });
      const rows = await s1.readRows('candidate_notes');
      expect(parentOf(rows)).toEqual([
        ['n0', null],
        ['n1', 'c1'],
        ['n2', 'c1'],
        ['n3', 'c2'],
      ]);
      // The record stays exactly as received: the parent is not written into it.
      expect(raws(rows)).toEqual([
        { id: 'n0', content: 'old' },
        { id: 'n1', content: 'Strong' },
        { id: 'n2', content: 'Call back' },
        { id: 'n3', content: 'Hired' },
      ]);
      if (isSql) {
        expect(await k.indexedColumns(target, 'candidate_notes')).toContain('_ashpipe_parent_id');
        expect(Object.keys((await s1.readRows('candidates'))[0] ?? {})).not.toContain('_ashpipe_parent_id');
      }
      await s1.close();

      const s2 = await sink(target);
      expect(parentOf(await s2.readRows('candidate_notes'))).toEqual(parentOf(rows));
      // Unchanged records take the page's parent (the last wins); a page without a parent keeps the stored one.
      const again = await s2.upsertPage(
        notes,
        [
          { id: 'n0', content: 'old' },
          { id: 'n2', content: 'Call back' },
        ],
        state('p2'),
        { parent: { field: 'candidateId', value: 'c3' } },
      );
      expect(again).toMatchObject({ unchanged: 2, inserted: 0, updated: 0 });
      await s2.upsertPage(notes, [{ id: 'n3', content: 'Hired!' }], state('p2'));
      expect((await s2.finishFullPass(notes, 'p2', state('p2'))).deleted).toBe(1);
      const after = await s2.readRows('candidate_notes');
      expect(parentOf(after)).toEqual([
        ['n0', 'c3'],
        ['n1', 'c1'],
        ['n2', 'c3'],
        ['n3', 'c2'],
      ]);
      expect(after.map((r) => r._ashpipe_deleted_at !== null)).toEqual([false, true, false, false]);
      await s2.close();
      const s3 = await sink(target);
      expect(parentOf(await s3.readRows('candidate_notes', { includeDeleted: false }))).toEqual([
        ['n0', 'c3'],
        ['n2', 'c3'],
        ['n3', 'c2'],
      ]);
    });

    it('supports compound keys of child streams', async () => {
      const s = await sink();
      const stages: StreamShape = { name: 'interview_stages', primaryKey: ['interviewPlanId', 'id'] };
      await s.upsertPage(
        stages,
        [
          { interviewPlanId: 'p2', id: 's1', title: 'Screen' },
          { interviewPlanId: 'p1', id: 's1', title: 'Screen' },
          { interviewPlanId: 'p1', id: 's0', title: 'Apply' },
        ],
        state('x'),
      );
      const rows = await s.readRows('interview_stages');
      expect(
        raws(rows).map((r) => [(r as { interviewPlanId: string }).interviewPlanId, (r as { id: string }).id]),
      ).toEqual([
        ['p1', 's0'],
        ['p1', 's1'],
        ['p2', 's1'],
      ]);
      // A record without its key is left out with a notice; it does not fail its page.
      const keyless = await s.upsertPage(
        stages,
        [{ id: 'no-plan' }, { interviewPlanId: 'p3', id: 's9' }],
        state('x'),
      );
      expect(keyless.notStored).toBe(1);
      expect(keyless.notices).toEqual([
        'records with no usable key field "interviewPlanId" are not stored (see the log for their count)',
      ]);
      expect(keyless.inserted).toBe(1);
    });
  });
}

/**
 * Reference columns: a field holding a nested object with a string `id` gets a text column `<field>_id`
 * beside its JSON column, indexed, so joins need no JSON operators — on SQLite and PostgreSQL, for new
 * tables and for tables of earlier versions.
 */
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Sink, StreamShape } from '../../src/sinks/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { KINDS, opened } from './harness.js';

const applications: StreamShape = { name: 'applications', primaryKey: ['id'] };
const state = { passId: 'p1', passKind: 'full' as const };

async function exec(target: string, statements: string[]): Promise<void> {
  if (target.startsWith('sqlite:')) {
    const db = openSqlite(target.slice('sqlite:'.length));
    try {
      for (const sql of statements) db.exec(sql);
    } finally {
      db.close();
    }
    return;
  }
  const url = new URL(target);
  const schema = url.searchParams.get('schema') ?? 'public';
  url.searchParams.delete('schema');
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`SET search_path TO "${schema}"`);
    for (const sql of statements) await client.query(sql);
  } finally {
    await client.end();
  }
}

for (const kind of KINDS.filter((k) => k.kind !== 'jsonl')) {
  describe.skipIf(kind.skip)(`reference columns (${kind.kind})`, () => {
    const sinks: Sink[] = [];
    afterEach(async () => {
      for (const s of sinks.splice(0)) await s.close();
    });
    afterAll(() => kind.cleanup());

    const byId = async (sink: Sink, column: string) =>
      Object.fromEntries((await sink.readRows('applications')).map((r) => [r.id, r[column]]));

    it('adds <field>_id beside a nested object with an id, indexed; NULL where the value is not one', async () => {
      const target = await kind.target();
      const sink = await opened(target, sinks);
      await sink.upsertPage(
        applications,
        [
          { id: 'a1', candidate: { id: 'c1', name: 'Ada' }, job: null, currentInterviewStage: { id: 's1' } },
          { id: 'a2', candidate: { id: 'c2' }, job: { id: 'j1', title: 'Engineer' } },
          { id: 'a3', candidate: 'not an object', job: { title: 'no id' } },
        ],
        state,
      );
      expect(await byId(sink, 'candidate_id')).toEqual({ a1: 'c1', a2: 'c2', a3: null });
      expect(await byId(sink, 'job_id')).toEqual({ a1: null, a2: 'j1', a3: null });
      expect(await byId(sink, 'current_interview_stage_id')).toEqual({ a1: 's1', a2: null, a3: null });
      // The nested object itself stays a JSON column.
      expect((await byId(sink, 'candidate')).a1).toEqual({ id: 'c1', name: 'Ada' });
      expect(await kind.indexedColumns(target, 'applications')).toEqual(
        expect.arrayContaining(['candidate_id', 'job_id', 'current_interview_stage_id']),
      );
    });

    it("indexes references to a record's parent, not references to lookups", async () => {
      const target = await kind.target();
      const sink = await opened(target, sinks);
      await sink.upsertPage(
        applications,
        [
          {
            id: 'a1',
            candidate: { id: 'c1' },
            source: { id: 'src1', title: 'Referral' },
            archiveReason: { id: 'ar1' },
            creditedToUser: { id: 'u1' },
          },
        ],
        state,
      );
      expect(await byId(sink, 'source_id')).toEqual({ a1: 'src1' });
      expect(await byId(sink, 'credited_to_user_id')).toEqual({ a1: 'u1' });
      const indexed = await kind.indexedColumns(target, 'applications');
      expect(indexed).toContain('candidate_id');
      for (const lookup of ['source_id', 'archive_reason_id', 'credited_to_user_id'])
        expect(indexed, lookup).not.toContain(lookup);
    });

    it("keeps the name for the record's own field of that name", async () => {
      const target = await kind.target();
      const sink = await opened(target, sinks);
      await sink.upsertPage(
        applications,
        [{ id: 'a1', candidate: { id: 'c-nested' }, candidateId: 'c-own' }],
        state,
      );
      const [row] = await sink.readRows('applications');
      expect(row?.candidate_id).toBe('c-own');
      expect(Object.keys(row ?? {}).filter((c) => c.startsWith('candidate_id'))).toEqual(['candidate_id']);
    });

    it('gives a table of an earlier version the column, filled for the rows stored before', async () => {
      const target = await kind.target();
      const sink = await opened(target, sinks);
      await sink.upsertPage(applications, [{ id: 'a1', candidate: { id: 'c1' } }], state);
      await sink.close();
      // What an earlier version left: no reference column, no index, no entry in the column map.
      await exec(target, [
        'DROP INDEX "applications__candidate_id"',
        'ALTER TABLE applications DROP COLUMN candidate_id',
        "DELETE FROM _ashpipe_columns WHERE column_name = 'candidate_id'",
      ]);
      const again = await opened(target, sinks);
      await again.upsertPage(applications, [{ id: 'a2', candidate: { id: 'c2' } }], state);
      expect(await byId(again, 'candidate_id')).toEqual({ a1: 'c1', a2: 'c2' });
      expect(await kind.indexedColumns(target, 'applications')).toContain('candidate_id');
    });
  });
}

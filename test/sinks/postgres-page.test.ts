/**
 * The PostgreSQL page write: one statement per page in the page's transaction, prepared once per
 * connection, with the same rows, typed values, counts and custom field values the rules give.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresSink } from '../../src/sinks/postgres.js';
import type { StreamShape } from '../../src/sinks/types.js';
import { testPostgresUrl, testSchemaName } from '../support/postgres.js';

const PG_URL = testPostgresUrl('the PostgreSQL page statement tests');

const candidates: StreamShape = {
  name: 'candidates',
  primaryKey: ['id'],
  customFieldsObjectType: 'Candidate',
};
const full = (passId: string) => ({ passId, passKind: 'full' as const });

/** A page of `n` candidates; `version` changes every record (and one custom field value). */
function page(from: number, n: number, version: number): Array<Record<string, unknown>> {
  return Array.from({ length: n }, (_, i) => ({
    id: `c${from + i}`,
    name: `Name ${from + i}`,
    createdAt: '2024-03-01T10:00:00.000Z',
    score: version,
    // A field name that must not change the SQL it is read in.
    "it's \\ a \u00e9 field": `v${version}`,
    customFields: [
      { id: 'level', title: 'Level', value: `L${version}` },
      { id: 'fixed', title: 'Fixed', value: 1 },
    ],
  }));
}

describe.skipIf(!PG_URL)('PostgreSQL page statement', () => {
  const schemas: string[] = [];
  const admin = new pg.Client({ connectionString: PG_URL });
  const connected = admin.connect();
  afterAll(async () => {
    await connected;
    for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await admin.end();
  });

  const target = () => {
    const schema = testSchemaName();
    schemas.push(schema);
    const url = new URL(PG_URL ?? '');
    url.searchParams.set('schema', schema);
    return { schema, url: url.toString() };
  };

  it('sends BEGIN, one statement and COMMIT for a page that adds no column, and the rows are what the rules give', async () => {
    const { schema, url } = target();
    const sink = new PostgresSink(url);
    await sink.open();
    const sent: string[] = [];
    const original = pg.Client.prototype.query;
    try {
      // The first page creates the table and its columns; later pages must not ask anything else.
      expect(await sink.upsertPage(candidates, page(0, 3, 1), full('p1'))).toMatchObject({ inserted: 3 });
      pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
        const [config] = args;
        sent.push(typeof config === 'string' ? config : String((config as { text?: string }).text));
        return (original as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof original;
      // 3 new, 1 changed, 2 unchanged.
      const second = [...page(0, 1, 2), ...page(1, 2, 1), ...page(3, 3, 1)];
      expect(await sink.upsertPage(candidates, second, full('p1'))).toMatchObject({
        inserted: 3,
        updated: 1,
        unchanged: 2,
        undeleted: 0,
      });
      expect(await sink.upsertPage(candidates, page(6, 2, 1), full('p1'))).toMatchObject({ inserted: 2 });
      expect(await sink.upsertPage(candidates, page(6, 2, 1), full('p1'))).toMatchObject({ unchanged: 2 });
    } finally {
      pg.Client.prototype.query = original;
    }
    expect(sent.length).toBe(9);
    for (let i = 0; i < sent.length; i += 3) {
      expect(sent[i]).toBe('BEGIN');
      expect(sent[i + 1]).toMatch(/^WITH /);
      expect(sent[i + 2]).toBe('COMMIT');
    }

    // The column of the odd field, by the column map (its naming is not what is tested here).
    const odd = await admin.query(`SELECT column_name FROM "${schema}"."_ashpipe_columns" WHERE field = $1`, [
      "it's \\ a \u00e9 field",
    ]);
    const oddColumn = String(odd.rows[0]?.column_name);
    expect(oddColumn).toMatch(/^[a-z0-9_]+$/);
    // Written by hand from the pages above.
    const { rows } = await admin.query(
      `SELECT id, name, created_at = '2024-03-01T10:00:00Z'::timestamptz AS created, score, "${oddColumn}" AS odd, "_ashpipe_seen_seq" IS NOT NULL AS seen
       FROM "${schema}".candidates ORDER BY id`,
    );
    expect(rows.map((r) => [r.id, r.name, r.created, Number(r.score), r.odd, r.seen])).toEqual([
      ['c0', 'Name 0', true, 2, 'v2', true],
      ['c1', 'Name 1', true, 1, 'v1', true],
      ['c2', 'Name 2', true, 1, 'v1', true],
      ['c3', 'Name 3', true, 1, 'v1', true],
      ['c4', 'Name 4', true, 1, 'v1', true],
      ['c5', 'Name 5', true, 1, 'v1', true],
      ['c6', 'Name 6', true, 1, 'v1', true],
      ['c7', 'Name 7', true, 1, 'v1', true],
    ]);
    const values = await admin.query(
      `SELECT object_id, field_id, value FROM "${schema}".custom_field_values WHERE field_id = 'level' ORDER BY object_id`,
    );
    expect(values.rows.map((r) => [r.object_id, r.value])).toEqual([
      ['c0', 'L2'],
      ['c1', 'L1'],
      ['c2', 'L1'],
      ['c3', 'L1'],
      ['c4', 'L1'],
      ['c5', 'L1'],
      ['c6', 'L1'],
      ['c7', 'L1'],
    ]);
    const state = await admin.query(
      `SELECT state FROM "${schema}"."_ashpipe_state" WHERE stream = 'candidates'`,
    );
    expect(state.rows[0]?.state).toMatchObject({ passId: 'p1', passKind: 'full' });
    await sink.close();
  });

  it('a value that does not fit its column is NULL there and stays in _ashpipe_raw', async () => {
    const { schema, url } = target();
    const sink = new PostgresSink(url);
    await sink.open();
    await sink.upsertPage(candidates, page(0, 1, 1), full('p1'));
    await sink.upsertPage(
      candidates,
      [{ id: 'c1', name: 42, createdAt: 'not a time', score: 'high', customFields: [] }],
      full('p1'),
    );
    const { rows } = await admin.query(
      `SELECT name, created_at, score, "_ashpipe_raw" ->> 'score' AS raw_score FROM "${schema}".candidates WHERE id = 'c1'`,
    );
    expect(rows).toEqual([{ name: null, created_at: null, score: null, raw_score: 'high' }]);
    await sink.close();
  });
});

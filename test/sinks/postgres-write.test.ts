/**
 * How the PostgreSQL sink stores a page cheaply without giving up what it guarantees: rows kept out of
 * TOAST up to 8160 bytes, and new objects inserted without conflict handling — a key another writer
 * stored meanwhile (or values left without their row) makes the page be written again with upserts.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresSink } from '../../src/sinks/postgres.js';
import type { StreamShape } from '../../src/sinks/types.js';
import { testPostgresUrl, testSchemaName } from '../support/postgres.js';

const PG_URL = testPostgresUrl('the PostgreSQL page write tests');

const candidates: StreamShape = {
  name: 'candidates',
  primaryKey: ['id'],
  customFieldsObjectType: 'Candidate',
};
const full = (passId: string) => ({ passId, passKind: 'full' as const });

describe.skipIf(!PG_URL)('PostgreSQL page write', () => {
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

  const valuesOf = async (schema: string) =>
    (
      await admin.query(
        `SELECT object_id, field_id, title, value FROM "${schema}".custom_field_values ORDER BY object_id, field_id`,
      )
    ).rows.map((r) => [r.object_id, r.field_id, r.title, r.value]);

  it('keeps a row of up to 8160 bytes in the table itself, and a larger one whole', async () => {
    const { schema, url } = target();
    const sink = new PostgresSink(url);
    await sink.open();
    // A record of 3 KiB (twice that with its typed columns) and one of 40 KiB, of text that does not
    // compress to nothing.
    const noise = (bytes: number) => randomBytes(bytes / 2).toString('hex');
    const medium = { id: 'c1', name: 'M', notes: noise(1500), more: noise(1500) };
    const large = { id: 'c2', name: 'L', notes: noise(40_000) };
    await sink.upsertPage(candidates, [medium], full('p1'));
    const toast = await admin.query<{ options: string[] | null; toast: string }>(
      `SELECT reloptions AS options, reltoastrelid::regclass::text AS toast FROM pg_class WHERE oid = '"${schema}".candidates'::regclass`,
    );
    expect(toast.rows[0]?.options).toEqual(['toast_tuple_target=8160']);
    const toastRows = async () =>
      Number((await admin.query(`SELECT count(*) AS n FROM ${toast.rows[0]?.toast}`)).rows[0]?.n);
    expect(await toastRows()).toBe(0);
    await sink.upsertPage(candidates, [large], full('p1'));
    expect(await toastRows()).toBeGreaterThan(0);
    const rows = await sink.readRows('candidates');
    expect(rows.map((r) => [r.id, r.notes])).toEqual([
      ['c1', medium.notes],
      ['c2', large.notes],
    ]);
    await sink.close();
  });

  it('values stored for an object the table does not hold are replaced by the record’s', async () => {
    const { schema, url } = target();
    const sink = new PostgresSink(url);
    await sink.open();
    await sink.upsertPage(candidates, [{ id: 'c0', customFields: [] }], full('p1'));
    // Values without their row (as a hand-made or foreign write could leave them).
    await admin.query(
      `INSERT INTO "${schema}".custom_field_values (object_type, object_id, field_id, title, value)
       VALUES ('Candidate', 'c1', 'level', 'Level', '"old"'), ('Candidate', 'c1', 'gone', 'Gone', '1')`,
    );
    const result = await sink.upsertPage(
      candidates,
      [
        { id: 'c1', customFields: [{ id: 'level', title: 'Level', value: 'new' }] },
        { id: 'c2', customFields: [{ id: 'level', title: 'Level', value: 'two' }] },
      ],
      full('p1'),
    );
    expect(result).toMatchObject({ inserted: 2, updated: 0, unchanged: 0 });
    expect(await valuesOf(schema)).toEqual([
      ['c1', 'level', 'Level', 'new'],
      ['c2', 'level', 'Level', 'two'],
    ]);
    await sink.close();
  });

  it('a record another writer stores while the page is written ends as the page has it', async () => {
    const { schema, url } = target();
    const sink = new PostgresSink(url);
    await sink.open();
    await sink.upsertPage(candidates, [{ id: 'c0', name: 'zero', customFields: [] }], full('p1'));
    const other = new pg.Client({ connectionString: PG_URL });
    await other.connect();
    try {
      // Another writer inserts c1 and holds its transaction open.
      await other.query('BEGIN');
      await other.query(
        `INSERT INTO "${schema}".candidates (id, name, "_ashpipe_raw", "_ashpipe_synced_at") VALUES ('c1', 'other', '{"id":"c1","name":"other"}', now())`,
      );
      await other.query(
        `INSERT INTO "${schema}".custom_field_values (object_type, object_id, field_id, title, value) VALUES ('Candidate', 'c1', 'level', 'Level', '"other"')`,
      );
      // The page does not see c1 (uncommitted), so it inserts it and waits for the other transaction.
      const writing = sink.upsertPage(
        candidates,
        [{ id: 'c1', name: 'mine', customFields: [{ id: 'level', title: 'Level', value: 'mine' }] }],
        full('p1'),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      await other.query('COMMIT');
      // Written again, it finds c1 stored (by the other writer) and updates it.
      expect(await writing).toMatchObject({ inserted: 0, updated: 1, unchanged: 0 });
    } finally {
      await other.end();
    }
    const { rows } = await admin.query(
      `SELECT id, name, "_ashpipe_raw" ->> 'name' AS raw_name FROM "${schema}".candidates ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: 'c0', name: 'zero', raw_name: 'zero' },
      { id: 'c1', name: 'mine', raw_name: 'mine' },
    ]);
    expect(await valuesOf(schema)).toEqual([['c1', 'level', 'Level', 'mine']]);
    await sink.close();
  });
});

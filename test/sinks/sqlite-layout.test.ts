import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSink, type StreamShape } from '../../src/sinks/index.js';
import { openSqlite } from '../../src/util/sqlite.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const candidates: StreamShape = {
  name: 'candidates',
  primaryKey: ['id'],
  customFieldsObjectType: 'Candidate',
};

/** Kind of each column of a table: 'written' or 'generated'. */
function columnKinds(file: string, table: string): Record<string, string> {
  const db = openSqlite(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT name, hidden FROM pragma_table_xinfo(?)').all(table) as Array<{
      name: string;
      hidden: number;
    }>;
    return Object.fromEntries(rows.map((r) => [r.name, r.hidden === 0 ? 'written' : 'generated']));
  } finally {
    db.close();
  }
}

function customFieldValues(file: string): unknown[][] {
  const db = openSqlite(file, { readonly: true });
  try {
    const rows = db.prepare('SELECT * FROM custom_field_values ORDER BY object_id, field_id').all() as Array<
      Record<string, unknown>
    >;
    return rows.map((r) => [
      r.object_type,
      r.object_id,
      r.field_id,
      r.title,
      typeof r.value_json === 'string' ? JSON.parse(r.value_json) : r.value,
    ]);
  } finally {
    db.close();
  }
}

describe('SQLite storage of the typed columns and custom field values', () => {
  it('computes data columns and custom_field_values from _ashpipe_raw in a new database', async () => {
    const file = path.join(root, 'new.db');
    const sink = openSink(`sqlite:${file}`);
    await sink.open();
    await sink.upsertPage(
      candidates,
      [
        { id: 'c1', name: 'Ada', customFields: [{ id: 'f1', title: 'Level', value: 3 }] },
        { id: 'c2', name: 'Grace', customFields: [{ id: 'f1', title: 'Level', value: 5 }] },
      ],
      { passId: 'p1' },
    );
    await sink.finishFullPass(candidates, 'p2', { passId: 'p2' });
    await sink.upsertPage(candidates, [{ id: 'c1', name: 'Ada', customFields: [] }], { passId: 'p3' });
    await sink.close();
    expect(columnKinds(file, 'candidates')).toMatchObject({
      id: 'written',
      _ashpipe_raw: 'written',
      name: 'generated',
      custom_fields: 'generated',
    });
    // c1 came back without values; c2 is soft-deleted: the view lists the values of live rows.
    expect(customFieldValues(file)).toEqual([]);
    const again = openSink(`sqlite:${file}`);
    await again.open();
    await again.upsertPage(
      candidates,
      [{ id: 'c2', customFields: [{ id: 'f2', title: null, value: 'x' }] }],
      {
        passId: 'p4',
      },
    );
    await again.close();
    expect(customFieldValues(file)).toEqual([['Candidate', 'c2', 'f2', null, 'x']]);
  });

  it('keeps writing the columns and custom_field_values table of a database of an earlier version', async () => {
    const file = path.join(root, 'old.db');
    // The layout earlier versions created: written data columns and a custom_field_values table.
    const db = openSqlite(file);
    db.exec(`
      CREATE TABLE _ashpipe_state (stream TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE _ashpipe_columns (stream TEXT NOT NULL, field TEXT NOT NULL, column_name TEXT NOT NULL, type TEXT NOT NULL, position INTEGER NOT NULL, key_position INTEGER, PRIMARY KEY (stream, field));
      CREATE TABLE custom_field_values (object_type TEXT NOT NULL, object_id TEXT NOT NULL, field_id TEXT NOT NULL, title TEXT, value TEXT, PRIMARY KEY (object_type, object_id, field_id));
      CREATE TABLE candidates ("id" TEXT NOT NULL, "_ashpipe_raw" TEXT NOT NULL, "_ashpipe_synced_at" TEXT NOT NULL, "_ashpipe_deleted_at" TEXT, "_ashpipe_pass_id" TEXT, PRIMARY KEY ("id"));
      ALTER TABLE candidates ADD COLUMN "name" TEXT;
      ALTER TABLE candidates ADD COLUMN "custom_fields" TEXT;
      INSERT INTO _ashpipe_columns VALUES ('candidates', 'id', 'id', 'text', 0, 0), ('candidates', 'name', 'name', 'text', 1, NULL), ('candidates', 'customFields', 'custom_fields', 'json', 2, NULL);
      INSERT INTO candidates VALUES ('c1', '{"id":"c1","name":"Ada","customFields":[{"id":"f1","title":"Level","value":3}]}', '2026-01-01T00:00:00.000Z', NULL, 'p0', 'Ada', '[{"id":"f1","title":"Level","value":3}]');
      INSERT INTO custom_field_values VALUES ('Candidate', 'c1', 'f1', 'Level', '3');
    `);
    db.close();

    const sink = openSink(`sqlite:${file}`);
    await sink.open();
    const result = await sink.upsertPage(
      candidates,
      [
        { id: 'c1', name: 'Ada', customFields: [{ id: 'f1', title: 'Level', value: 3 }] },
        { id: 'c2', name: 'Grace', score: 7, customFields: [{ id: 'f1', title: 'Level', value: 4 }] },
      ],
      { passId: 'p1' },
    );
    expect(result).toMatchObject({ inserted: 1, unchanged: 1, newColumns: ['score'] });
    const rows = await sink.readRows('candidates');
    expect(rows.map((r) => [r.id, r.name, r.score])).toEqual([
      ['c1', 'Ada', null],
      ['c2', 'Grace', 7],
    ]);
    await sink.close();
    expect(columnKinds(file, 'candidates')).toMatchObject({ name: 'written', score: 'written' });
    expect(customFieldValues(file)).toEqual([
      ['Candidate', 'c1', 'f1', 'Level', 3],
      ['Candidate', 'c2', 'f1', 'Level', 4],
    ]);
  });
});

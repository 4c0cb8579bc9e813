/**
 * custom_field_values as a written table: one row per value of a live record, rewritten with the record in
 * the page's transaction, removed when the record is deleted (by a full pass or a webhook), plain values
 * in SQLite, indexed for one object's values and a group-by over titles.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openSink, type Sink, type StreamShape } from '../../src/sinks/index.js';
import { ensureSqliteCustomValues, SqliteCustomValues } from '../../src/sinks/sqlite-custom-values.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { KINDS, opened } from './harness.js';

const candidates: StreamShape = {
  name: 'candidates',
  primaryKey: ['id'],
  customFieldsObjectType: 'Candidate',
};
const full = (passId: string) => ({ passId, passKind: 'full' as const });

const PAGE = [
  {
    id: 'c1',
    name: 'Ada',
    customFields: [
      { id: 'level', title: 'Level', value: 'Senior' },
      { id: 'years', title: 'Years', value: 12 },
      { id: 'remote', title: 'Remote', value: true },
      { id: 'langs', title: 'Languages', value: ['en', 'fr'] },
      { id: 'notes', title: 'Notes', value: null },
      { id: 'years', title: 'Years', value: 13 },
      { title: 'no id', value: 'skipped' },
    ],
  },
  { id: 'c2', name: 'Grace', customFields: [{ id: 'level', title: 'Level', value: 'Junior' }] },
  { id: 'c3', name: 'Alan', customFields: [{ id: 'level', title: 'Level', value: 'Senior' }] },
];

/** The values readRows gives back after PAGE, in (object_id, field_id) order: written by hand. */
const AFTER_PAGE = [
  ['c1', 'langs', 'Languages', ['en', 'fr']],
  ['c1', 'level', 'Level', 'Senior'],
  ['c1', 'notes', 'Notes', null],
  ['c1', 'remote', 'Remote', true],
  ['c1', 'years', 'Years', 13],
  ['c2', 'level', 'Level', 'Junior'],
  ['c3', 'level', 'Level', 'Senior'],
];

const values = async (sink: Sink) =>
  (await sink.readRows('custom_field_values')).map((r) => {
    expect(r.object_type).toBe('Candidate');
    return [r.object_id, r.field_id, r.title, r.value];
  });

for (const kind of KINDS.filter((k) => k.kind !== 'jsonl')) {
  describe.skipIf(kind.skip)(`custom_field_values (${kind.kind})`, () => {
    const sinks: Sink[] = [];
    afterEach(async () => {
      for (const s of sinks.splice(0)) await s.close();
    });
    afterAll(() => kind.cleanup());

    it('holds the values of live records: replaced with the record, removed with it', async () => {
      const target = await kind.target();
      const sink = await opened(target, sinks);
      await sink.upsertPage(candidates, PAGE, full('p1'));
      expect(await values(sink)).toEqual(AFTER_PAGE);

      // c1 changed: its values are replaced; c2 unchanged keeps its own.
      await sink.upsertPage(
        candidates,
        [
          { id: 'c1', name: 'Ada', customFields: [{ id: 'level', title: 'Level', value: 'Staff' }] },
          PAGE[1] as Record<string, unknown>,
          PAGE[2] as Record<string, unknown>,
        ],
        full('p2'),
      );
      expect(await values(sink)).toEqual([
        ['c1', 'level', 'Level', 'Staff'],
        ['c2', 'level', 'Level', 'Junior'],
        ['c3', 'level', 'Level', 'Senior'],
      ]);

      // A full pass that did not see c2 deletes it, and its values with it.
      await sink.upsertPage(candidates, [{ id: 'c1', name: 'Ada', customFields: [] }], full('p3'));
      await sink.upsertPage(candidates, [PAGE[2] as Record<string, unknown>], full('p3'));
      await sink.finishFullPass(candidates, 'p3', { passKind: 'full' });
      expect(await values(sink)).toEqual([['c3', 'level', 'Level', 'Senior']]);

      // A deletion (a webhook) removes the values too; the record coming back brings them back.
      expect(await sink.markDeleted(candidates, ['c3'])).toBe(1);
      expect(await values(sink)).toEqual([]);
      await sink.upsertPage(candidates, [PAGE[2] as Record<string, unknown>], {
        passId: 'i1',
        passKind: 'incremental',
      });
      expect(await values(sink)).toEqual([['c3', 'level', 'Level', 'Senior']]);
      expect(await sink.countRows('custom_field_values')).toEqual({ live: 1, deleted: 0 });
      // SQLite: a view over keyed tables, whose query plans the SQLite tests below check.
      if (kind.kind === 'postgres') {
        expect(await kind.indexedColumns(target, 'custom_field_values')).toEqual(
          expect.arrayContaining(['object_id', 'object_type', 'title']),
        );
      }
    });
  });
}

describe('custom_field_values in SQLite', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  const read = (file: string, sql: string) => {
    const db = openSqlite(file, { readonly: true });
    try {
      return db.prepare(sql).all() as Array<Record<string, unknown>>;
    } finally {
      db.close();
    }
  };

  /** A database with PAGE's records whose `custom_field_values` is what `sql` makes, as an earlier version left it. */
  const earlierVersion = async (name: string, sql: string): Promise<string> => {
    const file = path.join(root, name);
    const first = openSink(`sqlite:${file}`);
    await first.open();
    await first.upsertPage(candidates, PAGE, full('p1'));
    await first.close();
    const db = openSqlite(file);
    db.exec(`DROP VIEW custom_field_values;
      DROP TABLE _ashpipe_cfv_values; DROP TABLE _ashpipe_cfv_objects; DROP TABLE _ashpipe_cfv_fields;
      ${sql}`);
    db.close();
    return file;
  };

  it('stores plain values (no JSON quotes), found by object and grouped by title through indexes', async () => {
    const file = path.join(root, 'plain.db');
    const sink = openSink(`sqlite:${file}`);
    await sink.open();
    try {
      await sink.upsertPage(candidates, PAGE, full('p1'));
      await sink.finishFullPass(candidates, 'p1', { passKind: 'full' });
    } finally {
      await sink.close();
    }
    expect(
      read(
        file,
        "SELECT field_id, value, typeof(value) AS type, value_json FROM custom_field_values WHERE object_id = 'c1' ORDER BY field_id",
      ),
    ).toEqual([
      { field_id: 'langs', value: '["en","fr"]', type: 'text', value_json: '["en","fr"]' },
      { field_id: 'level', value: 'Senior', type: 'text', value_json: null },
      { field_id: 'notes', value: null, type: 'null', value_json: null },
      { field_id: 'remote', value: 1, type: 'integer', value_json: 'true' },
      { field_id: 'years', value: 13, type: 'integer', value_json: null },
    ]);
    // The two usual questions: one object's values through indexes only (no table scanned), a group-by
    // over titles through one scan of the values.
    const plan = (sql: string) => read(file, `EXPLAIN QUERY PLAN ${sql}`).map((r) => String(r.detail));
    const one = plan(
      "SELECT * FROM custom_field_values WHERE object_type = 'Candidate' AND object_id = 'c1'",
    );
    expect(one.filter((d) => d.startsWith('SCAN'))).toEqual([]);
    expect(one.some((d) => /SEARCH .* USING .*INDEX .*\(object_id=\?\)/.test(d))).toBe(true);
    // The group-by walks the (few) fields in title order and counts through an index: no sort of the values.
    const group = plan('SELECT title, count(*) FROM custom_field_values GROUP BY title');
    expect(group.filter((d) => d.startsWith('SCAN'))).toEqual([
      expect.stringMatching(/^SCAN f USING (COVERING )?INDEX _ashpipe_cfv_fields__title/),
    ]);
    expect(group.filter((d) => d.includes('TEMP B-TREE'))).toEqual([]);
    expect(
      read(file, 'SELECT title, count(*) AS n FROM custom_field_values GROUP BY title ORDER BY title'),
    ).toEqual([
      { title: 'Languages', n: 1 },
      { title: 'Level', n: 3 },
      { title: 'Notes', n: 1 },
      { title: 'Remote', n: 1 },
      { title: 'Years', n: 1 },
    ]);
  });

  it("writes a page's values with the page, without rebuilding the stream's values each time", async () => {
    const file = path.join(root, 'once.db');
    const sink = openSink(`sqlite:${file}`);
    await sink.open();
    try {
      await sink.upsertPage(candidates, [PAGE[1] as Record<string, unknown>], full('p1'));
      // Gone behind the sink's back: a rebuild from the stored records would bring it back.
      const db = openSqlite(file);
      db.exec("DELETE FROM custom_field_values WHERE object_id = 'c2'");
      db.close();
      await sink.upsertPage(candidates, [PAGE[2] as Record<string, unknown>], full('p1'));
      expect(await values(sink)).toEqual([['c3', 'level', 'Level', 'Senior']]);
    } finally {
      await sink.close();
    }
  });

  it('moves the table of the version before into its own tables as it was, and keeps writing', async () => {
    // The version before kept a plain table with two indexes; its rows, written out by hand (a title the
    // records no longer carry, a NULL title, a boolean), are what must come through.
    const file = await earlierVersion(
      'table.db',
      `CREATE TABLE custom_field_values (object_type TEXT NOT NULL, object_id TEXT NOT NULL, field_id TEXT NOT NULL, title TEXT, value, value_json TEXT);
      CREATE INDEX custom_field_values__object ON custom_field_values (object_type, object_id);
      CREATE INDEX custom_field_values__title ON custom_field_values (title);
      INSERT INTO custom_field_values VALUES
        ('Candidate', 'c1', 'level', 'Seniority', 'Senior', NULL),
        ('Candidate', 'c1', 'remote', 'Remote', 1, 'true'),
        ('Candidate', 'c2', 'level', NULL, 'Junior', NULL);`,
    );
    const sink = openSink(`sqlite:${file}`);
    await sink.open();
    try {
      expect(await values(sink)).toEqual([
        ['c1', 'level', 'Seniority', 'Senior'],
        ['c1', 'remote', 'Remote', true],
        ['c2', 'level', null, 'Junior'],
      ]);
      // A record written since replaces its object's values and nothing else.
      await sink.upsertPage(
        candidates,
        [{ id: 'c2', name: 'Grace', customFields: [{ id: 'level', title: 'Level', value: 'Staff' }] }],
        { passId: 'i1', passKind: 'incremental' },
      );
      expect(await values(sink)).toEqual([
        ['c1', 'level', 'Seniority', 'Senior'],
        ['c1', 'remote', 'Remote', true],
        ['c2', 'level', 'Level', 'Staff'],
      ]);
    } finally {
      await sink.close();
    }
    expect(read(file, "SELECT type FROM sqlite_master WHERE name = 'custom_field_values'")).toEqual([
      { type: 'view' },
    ]);
  });

  it('replaces the view over the records of earlier versions, filled from the stored records', async () => {
    // What an earlier version left: a view in place of the table, no indexes.
    const file = await earlierVersion(
      'view.db',
      `CREATE VIEW custom_field_values AS SELECT 'Candidate' AS object_type, 'x' AS object_id, 'f' AS field_id, NULL AS title, '1' AS value`,
    );
    const sink = openSink(`sqlite:${file}`);
    await sink.open();
    try {
      expect(await values(sink)).toEqual(AFTER_PAGE);
    } finally {
      await sink.close();
    }
    expect(
      read(file, "SELECT name FROM sqlite_master WHERE name LIKE '%custom_field_values%' ORDER BY name"),
    ).toEqual([{ name: 'custom_field_values' }, { name: 'custom_field_values__delete' }]);
    expect(
      read(file, "SELECT value, typeof(value) AS type FROM custom_field_values WHERE field_id = 'years'"),
    ).toEqual([{ value: 13, type: 'integer' }]);
  });
});

describe('SQLite custom field value objects written twice behind the sink’s back', () => {
  it('keeps the newer row of an object, with its values, when the index is built at the end of a load', () => {
    const db = openSqlite(':memory:');
    try {
      ensureSqliteCustomValues(db, () => []);
      const values = new SqliteCustomValues(db);
      values.dropObjectIndex('Candidate');
      // Keys 1 and 3 are one object (c1); written by hand, as a bulk load that missed a stored object would.
      db.exec(`INSERT INTO _ashpipe_cfv_fields (field_key, field_id, title) VALUES (1, 'level', 'Level');
        INSERT INTO _ashpipe_cfv_objects (object_key, object_type, object_id) VALUES
          (1, 'Candidate', 'c1'), (2, 'Candidate', 'c2'), (3, 'Candidate', 'c1'), (4, 'Application', 'c1');
        INSERT INTO _ashpipe_cfv_values (object_key, field_key, value) VALUES
          (1, 1, 'old'), (2, 1, 'Junior'), (3, 1, 'new'), (4, 1, 'other type');`);
      values.endBulkLoad('Candidate');
      expect(
        db
          .prepare(
            'SELECT object_type, object_id, value FROM custom_field_values ORDER BY object_type, object_id',
          )
          .all(),
      ).toEqual([
        { object_type: 'Application', object_id: 'c1', value: 'other type' },
        { object_type: 'Candidate', object_id: 'c1', value: 'new' },
        { object_type: 'Candidate', object_id: 'c2', value: 'Junior' },
      ]);
      expect(
        db.prepare("SELECT name FROM sqlite_master WHERE name = '_ashpipe_cfv_objects__Candidate'").all(),
      ).toHaveLength(1);
    } finally {
      db.close();
    }
  });
});

/**
 * Each stream names where its records keep their custom field values (offers and openings on the latest
 * version, projects in `customFieldEntries`), and the sinks read them there. The expected rows are written
 * out by hand.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openSink, type Sink, type StreamShape } from '../../src/sinks/index.js';
import { openSqlite } from '../../src/util/sqlite.js';
import { KINDS, opened, raws } from './harness.js';

const offers: StreamShape = {
  name: 'offers',
  primaryKey: ['id'],
  customFieldsObjectType: 'Offer',
  customFieldsPath: ['latestVersion', 'customFields'],
};
const projects: StreamShape = {
  name: 'projects',
  primaryKey: ['id'],
  customFieldsObjectType: 'Talent_Project',
  customFieldsPath: ['customFieldEntries'],
};
/** The offers stream as earlier versions shaped it: values read from a top-level `customFields`. */
const offersReadAtTheTop: StreamShape = {
  name: 'offers',
  primaryKey: ['id'],
  customFieldsObjectType: 'Offer',
};

const OFFERS = [
  {
    id: 'o1',
    applicationId: 'a1',
    latestVersion: {
      id: 'v1',
      customFields: [
        { id: 'equity', title: 'Equity', value: 2, isPrivate: true },
        { id: 'benefits', title: 'Benefits', value: ['Health', 'Dental'], valueLabel: ['Health', 'Dental'] },
      ],
    },
    // Not where an offer's values are: must not be read.
    customFields: [{ id: 'decoy', title: 'Decoy', value: 'no' }],
  },
  { id: 'o2', applicationId: 'a2', latestVersion: { id: 'v2', customFields: [] } },
  // A version without custom fields at all.
  { id: 'o3', applicationId: 'a3', latestVersion: { id: 'v3' } },
];
const PROJECTS = [
  {
    id: 'p1',
    title: 'Campus',
    customFieldEntries: [
      { id: 'priority', title: 'Priority', value: 'High', valueLabel: 'High' },
      { id: 'priority', title: 'Priority', value: 'Low', valueLabel: 'Low' },
      { title: 'No id', value: 1 },
    ],
  },
];
const EXPECTED = [
  ['Offer', 'o1', 'benefits', 'Benefits', ['Health', 'Dental']],
  ['Offer', 'o1', 'equity', 'Equity', 2],
  // The last of a repeated id wins; an entry without an id is skipped.
  ['Talent_Project', 'p1', 'priority', 'Priority', 'Low'],
];

const state = { passId: 'pass-1', passKind: 'full' as const, pagesCommitted: 1 };

/** A value of SQLite custom_field_values as received: value_json where the plain value cannot tell. */
const plain = (row: Record<string, unknown>): unknown =>
  typeof row.value_json === 'string' ? JSON.parse(row.value_json) : row.value;

for (const k of KINDS) {
  describe.skipIf(k.skip)(`${k.kind} sink: custom field values where each stream keeps them`, () => {
    const open: Sink[] = [];
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });
    afterAll(() => k.cleanup());

    const values = async (target: string) =>
      (await k.customFieldValues(target)).map((r) => [
        r.object_type,
        r.object_id,
        r.field_id,
        r.title,
        r.value,
      ]);

    it("reads offers' values on their latest version and projects' in customFieldEntries", async () => {
      const target = await k.target();
      const sink = await opened(target, open);
      await sink.upsertPage(offers, OFFERS, state);
      await sink.upsertPage(projects, PROJECTS, state);
      // Every sink keeps the records whole, their values where they were.
      expect(raws(await sink.readRows('offers'))).toEqual(OFFERS);
      expect(raws(await sink.readRows('projects'))).toEqual(PROJECTS);
      if (k.kind === 'jsonl') return;
      expect(await values(target)).toEqual(EXPECTED);
    });

    it.skipIf(k.kind === 'jsonl')(
      'gives a target written when offers were read at the top the values of offers stored then',
      async () => {
        const target = await k.target();
        const before = await opened(target, open);
        await before.upsertPage(offersReadAtTheTop, OFFERS, state);
        await before.upsertPage(projects, PROJECTS, state);
        // What earlier versions stored: the decoy, none of the offers' own values.
        expect((await values(target)).filter((v) => v[0] === 'Offer')).toEqual([
          ['Offer', 'o1', 'decoy', 'Decoy', 'no'],
        ]);
        await before.close();
        // The next run reads the same, unchanged offers with the stream's location.
        const after = await opened(target, open);
        const result = await after.upsertPage(offers, OFFERS, { ...state, passId: 'pass-2' });
        expect(result).toMatchObject({ unchanged: 3, inserted: 0, updated: 0 });
        expect(await values(target)).toEqual(EXPECTED);
      },
    );
  });
}

describe('SQLite database of an earlier version', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('records where each stream keeps its values in the table earlier versions created without it', async () => {
    const file = path.join(root, 'earlier.db');
    const sink = openSink(`sqlite:${file}`);
    await sink.open();
    await sink.upsertPage(offersReadAtTheTop, OFFERS, state);
    await sink.close();
    // Earlier versions' registry of the view: stream and object type only.
    const db = openSqlite(file);
    db.exec(`
      DROP TABLE _ashpipe_custom_fields;
      CREATE TABLE _ashpipe_custom_fields (stream TEXT PRIMARY KEY, object_type TEXT NOT NULL);
      INSERT INTO _ashpipe_custom_fields VALUES ('offers', 'Offer');
    `);
    db.close();

    const again = openSink(`sqlite:${file}`);
    await again.open();
    await again.upsertPage(offers, OFFERS, { ...state, passId: 'pass-2' });
    await again.close();
    const check = openSqlite(file, { readonly: true });
    try {
      expect(check.prepare('SELECT stream, object_type, path FROM _ashpipe_custom_fields').all()).toEqual([
        { stream: 'offers', object_type: 'Offer', path: '["latestVersion","customFields"]' },
      ]);
      const rows = check
        .prepare('SELECT object_id, field_id, value, value_json FROM custom_field_values ORDER BY field_id')
        .all() as Array<Record<string, unknown>>;
      expect(rows.map((r) => [r.object_id, r.field_id, plain(r)])).toEqual([
        ['o1', 'benefits', ['Health', 'Dental']],
        ['o1', 'equity', 2],
      ]);
    } finally {
      check.close();
    }
  });

  it('rebuilds the written custom_field_values table of a stream whose location it learns', async () => {
    const file = path.join(root, 'table.db');
    // The layout earlier versions created: custom_field_values is a table written with each record.
    const db = openSqlite(file);
    db.exec(`
      CREATE TABLE _ashpipe_state (stream TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE _ashpipe_columns (stream TEXT NOT NULL, field TEXT NOT NULL, column_name TEXT NOT NULL, type TEXT NOT NULL, position INTEGER NOT NULL, key_position INTEGER, PRIMARY KEY (stream, field));
      CREATE TABLE custom_field_values (object_type TEXT NOT NULL, object_id TEXT NOT NULL, field_id TEXT NOT NULL, title TEXT, value TEXT, PRIMARY KEY (object_type, object_id, field_id));
    `);
    db.close();
    const before = openSink(`sqlite:${file}`);
    await before.open();
    await before.upsertPage(offersReadAtTheTop, OFFERS, state);
    await before.close();
    const after = openSink(`sqlite:${file}`);
    await after.open();
    await after.upsertPage(offers, OFFERS, { ...state, passId: 'pass-2' });
    await after.close();
    const check = openSqlite(file, { readonly: true });
    try {
      expect(
        check.prepare("SELECT type FROM sqlite_master WHERE name = 'custom_field_values'").get(),
      ).toEqual({
        type: 'view',
      });
      const rows = check
        .prepare(
          'SELECT object_type, object_id, field_id, title, value, value_json FROM custom_field_values ORDER BY field_id',
        )
        .all() as Array<Record<string, unknown>>;
      expect(rows.map((r) => [r.object_type, r.object_id, r.field_id, r.title, plain(r)])).toEqual(
        EXPECTED.filter((e) => e[0] === 'Offer'),
      );
    } finally {
      check.close();
    }
  });
});

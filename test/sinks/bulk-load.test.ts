/**
 * SQLite bulk load: a full pass that fills an empty table drops the typed columns (reference columns
 * apart, which are written) and the indexes of written columns once it has written 5000 rows, and adds
 * them back when it finishes — or when the next page comes
 * from an incremental pass, after a run that never finished it. What the table holds afterwards is what it
 * would hold without the bulk load; a table with rows from before the pass never loses a column.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SqliteSink } from '../../src/sinks/sqlite.js';
import type { StreamShape } from '../../src/sinks/types.js';
import { openSqlite } from '../../src/util/sqlite.js';

const shape: StreamShape = { name: 'candidates', primaryKey: ['id'], customFieldsObjectType: 'Candidate' };
const PAGE = 500;
const dirs: string[] = [];
const sinks: SqliteSink[] = [];

afterEach(async () => {
  for (const s of sinks.splice(0)) await s.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function file(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-bulk-'));
  dirs.push(dir);
  return path.join(dir, 'bulk.db');
}

async function open(db: string): Promise<SqliteSink> {
  const sink = new SqliteSink(db);
  await sink.open();
  sinks.push(sink);
  return sink;
}

/** Candidate `i`: the fields every record has, `late` only from record 7000 on (first seen mid-load). */
function candidate(i: number): Record<string, unknown> {
  return {
    id: `c${String(i).padStart(6, '0')}`,
    name: `Candidate ${i}`,
    createdAt: `2024-01-${String((i % 28) + 1).padStart(2, '0')}T09:00:00.000Z`,
    score: i,
    isPrivate: i % 2 === 0,
    source: { id: `s${i % 3}`, title: 'Referral' },
    job: { id: `j${i % 7}` },
    customFields: [{ id: 'f1', title: 'Level', value: i % 5 }],
    ...(i >= 7000 ? { late: `late ${i}` } : {}),
  };
}

/** Writes records [from, to) in pages of a full pass. */
async function writeFull(sink: SqliteSink, passId: string, from: number, to: number): Promise<void> {
  for (let start = from; start < to; start += PAGE) {
    const page = Array.from({ length: Math.min(PAGE, to - start) }, (_, k) => candidate(start + k));
    await sink.upsertPage(shape, page, { passId, passKind: 'full' });
  }
}

function columns(db: string): string[] {
  const handle = openSqlite(db, { readonly: true });
  try {
    return (
      handle.prepare("SELECT name FROM pragma_table_xinfo('candidates')").all() as Array<{ name: string }>
    ).map((c) => c.name);
  } finally {
    handle.close();
  }
}

/** Columns covered by the indexes of `candidates`. */
function indexed(db: string): string[] {
  return query<{ name: string }>(
    db,
    "SELECT i.name FROM pragma_index_list('candidates') AS l, pragma_index_info(l.name) AS i",
  ).map((r) => r.name);
}

function query<T>(db: string, sql: string): T[] {
  const handle = openSqlite(db, { readonly: true });
  try {
    return handle.prepare(sql).all() as T[];
  } finally {
    handle.close();
  }
}

const TYPED = ['name', 'created_at', 'score', 'is_private', 'source', 'custom_fields'];

describe('SQLite bulk load of a first full pass', () => {
  it('drops the typed columns past 5000 rows and adds them all back, filled, when the pass finishes', async () => {
    const db = file();
    const sink = await open(db);
    await sink.beginPass('candidates', 'p1');
    await writeFull(sink, 'p1', 0, 4500);
    // Below the threshold every typed column is there.
    expect(columns(db)).toEqual(expect.arrayContaining([...TYPED, 'source_id']));
    await writeFull(sink, 'p1', 4500, 8000);
    const during = columns(db);
    for (const c of TYPED) expect(during).not.toContain(c);
    // The reference columns stay (written with each row); a parent's index is built when the load ends.
    expect(during).toEqual(expect.arrayContaining(['source_id', 'job_id']));
    expect(indexed(db)).not.toContain('job_id');
    await sink.finishFullPass(shape, 'p1', { passId: 'p1', passKind: 'full' });
    expect(columns(db)).toEqual(expect.arrayContaining([...TYPED, 'late', 'source_id', 'job_id']));
    // A parent reference is indexed; a lookup's (the source) is not.
    expect(indexed(db).sort()).toEqual(['id', 'job_id']);
    const rows = query<Record<string, unknown>>(
      db,
      "SELECT id, name, created_at, score, is_private, source_id, late FROM candidates WHERE id IN ('c000001', 'c004999', 'c007001') ORDER BY id",
    );
    expect(rows).toEqual([
      {
        id: 'c000001',
        name: 'Candidate 1',
        created_at: '2024-01-02T09:00:00.000Z',
        score: 1,
        is_private: 0,
        source_id: 's1',
        late: null,
      },
      {
        id: 'c004999',
        name: 'Candidate 4999',
        created_at: '2024-01-16T09:00:00.000Z',
        score: 4999,
        is_private: 0,
        source_id: 's1',
        late: null,
      },
      {
        id: 'c007001',
        name: 'Candidate 7001',
        created_at: '2024-01-02T09:00:00.000Z',
        score: 7001,
        is_private: 0,
        source_id: 's2',
        late: 'late 7001',
      },
    ]);
    expect(query<{ n: number }>(db, 'SELECT count(*) AS n FROM candidates WHERE name IS NOT NULL')).toEqual([
      { n: 8000 },
    ]);
    expect(query<{ n: number }>(db, 'SELECT count(*) AS n FROM custom_field_values')).toEqual([{ n: 8000 }]);
    expect(query(db, 'SELECT * FROM _ashpipe_bulk_loads')).toEqual([]);
  });

  it('appends custom field values without their object index, finds stored objects when a page comes again', async () => {
    const db = file();
    const sink = await open(db);
    const objectIndex = () =>
      query<{ name: string }>(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name = '_ashpipe_cfv_objects__Candidate'",
      ).length;
    await sink.beginPass('candidates', 'p1');
    await writeFull(sink, 'p1', 0, 4500);
    expect(objectIndex()).toBe(1);
    await writeFull(sink, 'p1', 4500, 6500);
    // In the load: new objects are appended, their index left for the end.
    expect(objectIndex()).toBe(0);
    // The same records again with other values (a page read twice): each object keeps one key and its
    // new value only.
    const again = Array.from({ length: PAGE }, (_, k) => ({
      ...candidate(6000 + k),
      customFields: [{ id: 'f1', title: 'Level', value: 'changed' }],
    }));
    // Each record of the page is found stored (its insert is refused, then it is compared and written).
    expect(await sink.upsertPage(shape, again, { passId: 'p1', passKind: 'full' })).toMatchObject({
      inserted: 0,
      updated: PAGE,
      unchanged: 0,
    });
    const same = Array.from({ length: 10 }, (_, k) => candidate(5000 + k));
    expect(await sink.upsertPage(shape, same, { passId: 'p1', passKind: 'full' })).toMatchObject({
      inserted: 0,
      updated: 0,
      unchanged: 10,
    });
    await writeFull(sink, 'p1', 6500, 8000);
    await sink.finishFullPass(shape, 'p1', { passId: 'p1', passKind: 'full' });
    expect(objectIndex()).toBe(1);
    const rows = query<{ object_id: string; value: unknown; n: number }>(
      db,
      "SELECT object_id, value, count(*) OVER (PARTITION BY object_id) AS n FROM custom_field_values WHERE object_type = 'Candidate' ORDER BY object_id",
    );
    expect(rows).toHaveLength(8000);
    for (const [i, row] of rows.entries()) {
      expect(row).toEqual({
        object_id: `c${String(i).padStart(6, '0')}`,
        value: i >= 6000 && i < 6500 ? 'changed' : i % 5,
        n: 1,
      });
    }
    expect(query(db, 'SELECT count(*) AS n FROM _ashpipe_cfv_objects')).toEqual([{ n: 8000 }]);
  });

  it('commits the pages of two streams loaded side by side together, forty at a time', async () => {
    // The batch's time limit (a timer) would commit sooner on a slow machine: here only its page limit acts.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const db = file();
      const sink = await open(db);
      const applications: StreamShape = {
        name: 'applications',
        primaryKey: ['id'],
        customFieldsObjectType: 'Application',
      };
      const application = (i: number) => ({ ...candidate(i), id: `a${String(i).padStart(6, '0')}` });
      await sink.beginPass('candidates', 'pc');
      await sink.beginPass('applications', 'pa');
      let next = 0;
      // Pages of 100, each stream's in turn, as two streams synced side by side write them.
      const turn = async () => {
        const ids = Array.from({ length: 100 }, (_, k) => next + k);
        await sink.upsertPage(shape, ids.map(candidate), { passId: 'pc', passKind: 'full' });
        await sink.upsertPage(applications, ids.map(application), { passId: 'pa', passKind: 'full' });
        next += 100;
      };
      const seen = () =>
        query<{ c: number; a: number }>(
          db,
          'SELECT (SELECT count(*) FROM candidates) AS c, (SELECT count(*) FROM applications) AS a',
        )[0];
      // Both streams reach 5000 rows (their bulk loads start) with pages committed one by one.
      while (next < 5000) await turn();
      expect(seen()).toEqual({ c: 5000, a: 5000 });
      // 39 pages of the two streams: one open batch, which a reader does not see yet.
      for (let i = 0; i < 19; i++) await turn();
      await sink.upsertPage(
        shape,
        Array.from({ length: 100 }, (_, k) => candidate(next + k)),
        {
          passId: 'pc',
          passKind: 'full',
        },
      );
      expect(seen()).toEqual({ c: 5000, a: 5000 });
      // The 40th page commits all of them.
      await sink.upsertPage(
        applications,
        Array.from({ length: 100 }, (_, k) => application(next + k)),
        {
          passId: 'pa',
          passKind: 'full',
        },
      );
      expect(seen()).toEqual({ c: 7000, a: 7000 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives the columns back to a table whose bulk load a crashed run left, at the next incremental page', async () => {
    const db = file();
    const first = await open(db);
    await first.beginPass('candidates', 'p1');
    await writeFull(first, 'p1', 0, 6000);
    await first.close();
    expect(columns(db)).not.toContain('name');
    const second = await open(db);
    await second.upsertPage(shape, [candidate(6000)], { passKind: 'incremental' });
    expect(columns(db)).toEqual(expect.arrayContaining(TYPED));
    expect(indexed(db)).toContain('job_id');
    expect(
      query(db, "SELECT name, score FROM candidates WHERE id IN ('c000002', 'c006000') ORDER BY id"),
    ).toEqual([
      { name: 'Candidate 2', score: 2 },
      { name: 'Candidate 6000', score: 6000 },
    ]);
  });

  it('finishes the bulk load of a pass resumed by another run, with the columns first seen after the crash', async () => {
    const db = file();
    const first = await open(db);
    await first.beginPass('candidates', 'p1');
    await writeFull(first, 'p1', 0, 6000);
    await first.close();
    const second = await open(db);
    // The resumed pass keeps its registration: no new beginPass, pages go on where the cursor was.
    await writeFull(second, 'p1', 6000, 8000);
    expect(columns(db)).not.toContain('late');
    await second.finishFullPass(shape, 'p1', { passId: 'p1', passKind: 'full' });
    expect(columns(db)).toEqual(expect.arrayContaining([...TYPED, 'late']));
    expect(query(db, "SELECT late FROM candidates WHERE id IN ('c005999', 'c007999') ORDER BY id")).toEqual([
      { late: null },
      { late: 'late 7999' },
    ]);
    expect(query(db, 'SELECT * FROM _ashpipe_bulk_loads')).toEqual([]);
  });

  it('keeps every column of a table that had rows before the pass', async () => {
    const db = file();
    const sink = await open(db);
    await sink.beginPass('candidates', 'p1');
    await writeFull(sink, 'p1', 0, 100);
    await sink.finishFullPass(shape, 'p1', { passId: 'p1', passKind: 'full' });
    await sink.beginPass('candidates', 'p2');
    await writeFull(sink, 'p2', 0, 6000);
    expect(columns(db)).toEqual(expect.arrayContaining(TYPED));
    expect(query(db, 'SELECT * FROM _ashpipe_bulk_loads')).toEqual([]);
  });

  it('writes the pass as usual when a view reads the table (SQLite cannot drop a column a view uses)', async () => {
    const db = file();
    const sink = await open(db);
    await sink.beginPass('candidates', 'p1');
    await writeFull(sink, 'p1', 0, 10);
    const handle = openSqlite(db);
    handle.exec('CREATE VIEW my_candidates AS SELECT id, name, score FROM candidates');
    handle.exec('DELETE FROM candidates');
    handle.close();
    await sink.beginPass('candidates', 'p2');
    await writeFull(sink, 'p2', 0, 6000);
    expect(columns(db)).toEqual(expect.arrayContaining(TYPED));
    await sink.finishFullPass(shape, 'p2', { passId: 'p2', passKind: 'full' });
    expect(query(db, "SELECT name, score FROM my_candidates WHERE id = 'c005999'")).toEqual([
      { name: 'Candidate 5999', score: 5999 },
    ]);
    expect(query(db, 'SELECT * FROM _ashpipe_bulk_loads')).toEqual([]);
  });
});

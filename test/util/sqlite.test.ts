import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqlite, SQLITE_DRIVER, sqliteDriverFor } from '../../src/util/sqlite.js';

describe('the SQLite driver', () => {
  it.each([
    ['20.19.0', 'better-sqlite3-node20'],
    ['20.20.2', 'better-sqlite3-node20'],
    ['21.7.3', 'better-sqlite3-node20'],
    ['22.0.0', 'better-sqlite3'],
    ['22.23.5', 'better-sqlite3'],
    ['24.21.0', 'better-sqlite3'],
    ['24.22.3', 'better-sqlite3'],
    ['26.1.0', 'better-sqlite3'],
  ])('on Node %s is %s (the 12 line only on Node 20, which 13 does not support)', (version, expected) => {
    expect(sqliteDriverFor(version)).toBe(expected);
  });

  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('opens a file database on this Node, survives statements left to the garbage collector, and reports the build it used', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ashpipe-sqlite-'));
    const file = path.join(dir, 'x.db');
    expect(SQLITE_DRIVER).toBe(
      Number(process.versions.node.split('.')[0]) >= 22 ? 'better-sqlite3' : 'better-sqlite3-node20',
    );
    const db = openSqlite(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)');
    const insert = db.prepare('INSERT INTO t VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 500; i += 1) insert.run(`r${i}`, i);
    })();
    // Many short-lived statements: the pattern whose finalizers abort the 12 line on Node 24.19–24.21.
    for (let i = 0; i < 200; i += 1) db.prepare('SELECT count(*) AS c FROM t WHERE n >= ?').get(i);
    db.close();
    const reopened = openSqlite(file, { readonly: true, fileMustExist: true });
    expect(reopened.prepare('SELECT count(*) AS c, sum(n) AS s FROM t').get()).toEqual({
      c: 500,
      s: (499 * 500) / 2,
    });
    reopened.close();
    expect(() => openSqlite(path.join(dir ?? '', 'missing.db'), { fileMustExist: true })).toThrow();
  });
});

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations, openControlStore, resolveHome } from '../../src/control/index.js';

const homes: string[] = [];
function tempHome(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-'));
  homes.push(dir);
  return path.join(dir, 'home');
}
afterEach(() => {
  for (const dir of homes.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const mode = (file: string) => fs.statSync(file).mode & 0o777;

describe('control store', () => {
  it('resolves ASHPIPE_HOME, defaulting to ./.ashpipe', () => {
    expect(resolveHome({ ASHPIPE_HOME: '/srv/ashpipe' })).toBe('/srv/ashpipe');
    expect(resolveHome({})).toBe('./.ashpipe');
    expect(resolveHome({ ASHPIPE_HOME: '' })).toBe('./.ashpipe');
  });

  it('creates the home directory 0700 and control.db (and its WAL files) 0600', () => {
    const home = tempHome();
    const previous = process.umask(0o022);
    try {
      const store = openControlStore(home);
      store.db.exec('CREATE TABLE t (x INTEGER)');
      store.db.prepare('INSERT INTO t VALUES (1)').run();
      expect(mode(home)).toBe(0o700);
      expect(mode(path.join(home, 'control.db'))).toBe(0o600);
      for (const f of fs.readdirSync(home)) expect(mode(path.join(home, f)), f).toBe(0o600);
      expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(Number(store.db.pragma('busy_timeout', { simple: true }))).toBeGreaterThan(0);
      store.close();
    } finally {
      process.umask(previous);
    }
  });

  it('applies migrations in id order, each exactly once across reopenings', () => {
    const home = tempHome();
    const log: string[] = [];
    const list = [
      { id: '0002-b', up: "INSERT INTO seen VALUES ('b')" },
      { id: '0001-a', up: "CREATE TABLE seen (id TEXT); INSERT INTO seen VALUES ('a')" },
    ];
    openControlStore(home, { migrations: list }).close();
    const store = openControlStore(home, { migrations: list });
    for (const row of store.db.prepare('SELECT id FROM seen').all() as Array<{ id: string }>)
      log.push(row.id);
    expect(log).toEqual(['a', 'b']);
    const applied = store.db.prepare('SELECT id FROM _ashpipe_migrations ORDER BY id').all();
    expect(applied).toEqual([{ id: '0001-a' }, { id: '0002-b' }]);
    store.close();
  });

  it('leaves no trace of a migration that fails and refuses duplicate ids', () => {
    const home = tempHome();
    expect(() =>
      openControlStore(home, {
        migrations: [{ id: '0001-bad', up: 'CREATE TABLE half (x INTEGER); SELECT * FROM missing_table' }],
      }),
    ).toThrow(/missing_table/);
    const store = openControlStore(home, { migrations: [] });
    expect(store.db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get()).toBeUndefined();
    store.close();
    expect(() =>
      openControlStore(home, {
        migrations: [
          { id: 'x', up: '' },
          { id: 'x', up: '' },
        ],
      }),
    ).toThrow(/duplicate/);
  });

  it('registers migrations with unique ids and applies the registry at open', () => {
    const ids = migrations.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    const store = openControlStore(tempHome());
    const tables = store.db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
      .all()
      .map((r) => (r as { name: string }).name);
    expect(tables).toEqual(expect.arrayContaining(['credentials', 'credential_audit', 'vault_meta']));
    store.close();
  });

  it('rolls a transaction back when its function throws', () => {
    const store = openControlStore(tempHome(), {
      migrations: [{ id: '1', up: 'CREATE TABLE t (x INTEGER)' }],
    });
    expect(() =>
      store.transaction(() => {
        store.db.prepare('INSERT INTO t VALUES (1)').run();
        throw new Error('boom');
      }),
    ).toThrow('boom');
    const nested = store.transaction(() => {
      store.db.prepare('INSERT INTO t VALUES (2)').run();
      return store.transaction(() => store.db.prepare('SELECT count(*) AS n FROM t').get());
    });
    expect(nested).toEqual({ n: 1 });
    expect(store.db.prepare('SELECT x FROM t').all()).toEqual([{ x: 2 }]);
    store.close();
  });
});

import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import path from 'node:path';
import { openSqlite, type SqliteDatabase } from '../util/sqlite.js';
import { ensureHome, SECRET_FILE_MODE } from './home.js';
import { type Migration, migrations as registeredMigrations } from './migrations/index.js';

/** File name of the control store inside the home directory. */
export const CONTROL_DB_FILE = 'control.db';

/**
 * How long a connection waits for another process's write lock before failing with SQLITE_BUSY.
 * Adding or rotating a credential holds the lock for milliseconds; syncs recording runs a little longer.
 */
export const BUSY_TIMEOUT_MS = 15_000;

/** The control store: credentials, audit log and whatever later features register migrations for. */
export interface ControlStore {
  /** The open SQLite connection (better-sqlite3). */
  readonly db: SqliteDatabase;
  /** Absolute path of `control.db`. */
  readonly file: string;
  /** The home directory the store lives in. */
  readonly home: string;
  close(): void;
  /**
   * Runs `fn` in one write transaction (`BEGIN IMMEDIATE`, so two processes never deadlock upgrading a
   * read lock); commits when it returns, rolls back when it throws. Nested calls become savepoints.
   */
  transaction<T>(fn: () => T): T;
}

/** Options of {@link openControlStore}; tests use them, the product does not. */
export interface OpenControlStoreOptions {
  /**
   * Migrations to apply instead of the registry.
   * @default the registry in `src/control/migrations/index.ts`
   */
  migrations?: readonly Migration[];
}

/**
 * Opens (creating when needed) `$home/control.db`: home directory 0700, database file 0600, WAL journal,
 * busy timeout, foreign keys on; applies pending migrations in id order.
 * @example const store = openControlStore(resolveHome(process.env));
 */
export function openControlStore(home: string, options: OpenControlStoreOptions = {}): ControlStore {
  ensureHome(home);
  const file = path.resolve(home, CONTROL_DB_FILE);
  if (!existsSync(file)) {
    // Create the file with its final mode before SQLite opens it, so it is never readable by others.
    try {
      closeSync(openSync(file, 'wx', SECRET_FILE_MODE));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  chmodSync(file, SECRET_FILE_MODE);
  const db = openSqlite(file);
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // Switching to (or confirming) WAL can fail with SQLITE_BUSY without consulting the busy handler while
    // another process closes its last connection and removes the WAL; wait that moment out.
    retryWhileBusy(() => db.pragma('journal_mode = WAL'));
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Deleted or overwritten rows (old ciphertexts, rotated data keys) are zeroed, not left in free pages.
    db.pragma('secure_delete = ON');
    applyMigrations(db, options.migrations ?? registeredMigrations);
  } catch (error) {
    db.close();
    throw error;
  }
  return {
    db,
    file,
    home,
    close: () => {
      if (db.open) db.close();
    },
    transaction: <T>(fn: () => T): T => {
      const tx = db.transaction(fn);
      return db.inTransaction ? tx() : tx.immediate();
    },
  };
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** Runs `fn`, retrying on SQLITE_BUSY with growing pauses for up to {@link BUSY_TIMEOUT_MS}. */
function retryWhileBusy<T>(fn: () => T): T {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (let delay = 5; ; delay = Math.min(delay * 2, 200)) {
    try {
      return fn();
    } catch (error) {
      if (!isBusy(error) || Date.now() + delay > deadline) throw error;
      Atomics.wait(pause, 0, 0, delay);
    }
  }
}

/** Applies, in id order, every migration not yet recorded; each in its own immediate transaction. */
export function applyMigrations(db: SqliteDatabase, list: readonly Migration[]): string[] {
  const ids = new Set<string>();
  for (const m of list) {
    if (ids.has(m.id)) throw new Error(`duplicate control-store migration id ${m.id}`);
    ids.add(m.id);
  }
  db.exec('CREATE TABLE IF NOT EXISTS _ashpipe_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)');
  const isApplied = db.prepare('SELECT 1 FROM _ashpipe_migrations WHERE id = ?');
  const record = db.prepare('INSERT INTO _ashpipe_migrations (id, applied_at) VALUES (?, ?)');
  const applied: string[] = [];
  const sorted = [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const migration of sorted) {
    // Checked again inside the lock: another process may have applied it since we looked.
    const run = db.transaction(() => {
      if (isApplied.get(migration.id)) return;
      db.exec(migration.up);
      record.run(migration.id, new Date().toISOString());
      applied.push(migration.id);
    });
    if (!isApplied.get(migration.id)) run.immediate();
  }
  return applied;
}

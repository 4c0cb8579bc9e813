import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';

/**
 * The one way ashpipe opens a SQLite database (sinks, control store, push inputs, preview).
 *
 * Two builds of better-sqlite3 are installed and the one that runs safely on this Node is chosen here:
 * - Node ≥ 22: better-sqlite3 13, a Node-API addon that ships prebuilt binaries in the package. The 12 line
 *   aborts the process on Node 24.19–24.21 (its statement finalizers race the environment's teardown).
 * - Node 20: the 12 line (installed under the alias `better-sqlite3-node20`), because 13 needs Node ≥ 22 and
 *   crashes on 20.
 * Both expose the same API, so the rest of the code sees one type. ARCHITECTURE.md says why.
 */

/** The open database connection type shared by both builds. */
export type SqliteDatabase = BetterSqlite3.Database;
/** A prepared statement of {@link SqliteDatabase}. */
export type SqliteStatement = BetterSqlite3.Statement;
/** Options of {@link openSqlite} (better-sqlite3's: `readonly`, `fileMustExist`, `timeout`). */
export type SqliteOptions = BetterSqlite3.Options;

type SqliteConstructor = new (filename: string, options?: SqliteOptions) => SqliteDatabase;

/** The first Node major on which better-sqlite3 13 runs (its `engines` field). */
const NODE_API_DRIVER_MIN_MAJOR = 22;

/**
 * Which package provides SQLite on a given Node version.
 * @example sqliteDriverFor('24.21.0') // 'better-sqlite3'
 */
export function sqliteDriverFor(nodeVersion: string): 'better-sqlite3' | 'better-sqlite3-node20' {
  const major = Number.parseInt(nodeVersion.split('.')[0] ?? '', 10);
  return major >= NODE_API_DRIVER_MIN_MAJOR ? 'better-sqlite3' : 'better-sqlite3-node20';
}

/** The driver package used by this process. */
export const SQLITE_DRIVER = sqliteDriverFor(process.versions.node);

let driver: SqliteConstructor | undefined;

function loadDriver(): SqliteConstructor {
  if (driver) return driver;
  const require = createRequire(import.meta.url);
  try {
    driver = require(SQLITE_DRIVER) as SqliteConstructor;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(
      `SQLite is unavailable on Node ${process.versions.node}: the package ${SQLITE_DRIVER} could not be loaded (${reason}). ` +
        (SQLITE_DRIVER === 'better-sqlite3-node20'
          ? 'On Node 20 it is built during `npm ci` and needs python3, make and a C++ compiler; or use Node 22 or later.'
          : 'Run `npm ci` again.'),
    );
  }
  return driver;
}

/**
 * Opens (or creates) a SQLite database with the build that suits this Node.
 * @example const db = openSqlite('ashpipe.db'); db.pragma('journal_mode = WAL');
 */
export function openSqlite(filename: string, options?: SqliteOptions): SqliteDatabase {
  const Driver = loadDriver();
  return options === undefined ? new Driver(filename) : new Driver(filename, options);
}

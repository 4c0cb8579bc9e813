import { CompiledQuery, Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { quoteIdent } from '../sinks/layout.js';
import { parsePostgresTarget } from '../sinks/postgres.js';
import { ConfigError } from '../util/errors.js';
import { type Migration, migrations as registeredMigrations } from './migrations/index.js';
import type { ControlDatabase } from './schema.js';
import { type ControlStore, openControlStore } from './store.js';

/** The environment variable naming a PostgreSQL control store, like `--control`. */
export const CONTROL_URL_ENV = 'ASHPIPE_CONTROL_URL';

/** Connections a PostgreSQL control store keeps open per process. */
export const CONTROL_POOL_SIZE = 5;

/** Which database holds the control store. */
export type ControlDialect = 'sqlite' | 'postgres';

/** Options of {@link openControl}. */
export interface OpenControlOptions {
  /** The ashpipe home directory: the master key, data directories and (without `url`) `control.db`. */
  home: string;
  /**
   * A PostgreSQL control store instead of `$home/control.db`; `?schema=` names its schema (created when
   * missing).
   * @default none (SQLite in the home directory)
   * @example 'postgres://ashpipe@db.internal/ashpipe?schema=ashpipe'
   */
  url?: string;
  /**
   * Migrations to apply instead of the registry (tests).
   * @default the registry in `src/control/migrations/index.ts`
   */
  migrations?: readonly Migration[];
}

/** An open control store, SQLite or PostgreSQL, behind one typed query layer. */
export interface Control {
  readonly dialect: ControlDialect;
  /** The typed query layer over the store's tables. */
  readonly db: Kysely<ControlDatabase>;
  /** The home directory (master key, data directories). */
  readonly home: string;
  /** Where the store is, fit to show: the file, or the URL without its password. */
  readonly location: string;
  /**
   * The synchronous SQLite connection under the query layer, for what only SQLite has (VACUUM after an
   * erasure, tests); `undefined` on PostgreSQL (see {@link requireSqlite}).
   */
  readonly sqlite: ControlStore | undefined;
  /**
   * Runs `fn` in one write transaction: commits when it returns, rolls back when it throws. Writers are
   * serialised across processes on both dialects — SQLite by `BEGIN IMMEDIATE`, PostgreSQL by a
   * transaction-scoped advisory lock — so code written for SQLite's single writer holds on PostgreSQL.
   * Not reentrant: call it at the top of an operation and pass the transaction down.
   */
  transaction<T>(fn: (trx: Kysely<ControlDatabase>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * The control store's URL from a `--control` option or `ASHPIPE_CONTROL_URL`; `undefined` means the
 * SQLite store in the home directory.
 * @example controlUrl(opts.control, process.env)
 */
export function controlUrl(option: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const url = option ?? env[CONTROL_URL_ENV];
  if (url === undefined || url === '') return undefined;
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new ConfigError(
      `the control store URL must be postgres://USER@HOST:PORT/DB[?schema=NAME] (without one, the control store is control.db in the home directory)`,
    );
  }
  return url;
}

/**
 * Thrown by a command whose module does not run on a PostgreSQL control store yet: one clear line, before
 * anything is done.
 */
export function requireSqlite(control: Control, what: string): ControlStore {
  if (control.sqlite) return control.sqlite;
  throw new ConfigError(
    `${what} does not run on a PostgreSQL control store yet; use the SQLite control store (no --control, no ${CONTROL_URL_ENV})`,
  );
}

/**
 * Opens the control store: `$home/control.db` (see {@link openControlStore}: modes, WAL, busy timeout),
 * or the PostgreSQL database of `url`. Pending migrations are applied first, each once, even when several
 * processes open the store together.
 * @example const control = await openControl({ home, url: controlUrl(opts.control, process.env) });
 */
export async function openControl(options: OpenControlOptions): Promise<Control> {
  return options.url === undefined ? openSqliteControl(options) : openPostgresControl(options, options.url);
}

function openSqliteControl(options: OpenControlOptions): Control {
  const store = openControlStore(options.home, options.migrations ? { migrations: options.migrations } : {});
  const db = new Kysely<ControlDatabase>({ dialect: new SqliteDialect({ database: store.db }) });
  return {
    dialect: 'sqlite',
    db,
    home: store.home,
    location: store.file,
    sqlite: store,
    // Kysely's own transactions BEGIN DEFERRED; a deferred reader that later writes can fail with
    // SQLITE_BUSY without waiting, so the write lock is taken up front as the synchronous store does.
    transaction: (fn) =>
      db.connection().execute(async (conn) => {
        await sql`BEGIN IMMEDIATE`.execute(conn);
        try {
          const result = await fn(conn);
          await sql`COMMIT`.execute(conn);
          return result;
        } catch (error) {
          if (store.db.inTransaction) await sql`ROLLBACK`.execute(conn);
          throw error;
        }
      }),
    close: async () => {
      await db.destroy();
      store.close();
    },
  };
}

const OID_INT8 = 20;

/** `count(*)` and other bigints come back as numbers: control-store counts are far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === OID_INT8
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};

async function openPostgresControl(options: OpenControlOptions, url: string): Promise<Control> {
  const target = parsePostgresTarget(url);
  const schema = quoteIdent(target.schema);
  const pool = new pg.Pool({ connectionString: target.connectionString, max: CONTROL_POOL_SIZE, types });
  // An idle client's error (the server restarted) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  try {
    await migratePostgres(pool, target.schema, options.migrations ?? registeredMigrations);
  } catch (error) {
    await pool.end();
    if (error instanceof ConfigError) throw error;
    // A bare "connect ECONNREFUSED" names no store: say which one (without its password).
    throw new Error(
      `the control store at ${target.location} could not be opened: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const db = new Kysely<ControlDatabase>({
    dialect: new PostgresDialect({
      pool,
      onCreateConnection: async (connection) => {
        await connection.executeQuery(CompiledQuery.raw(`SET search_path TO ${schema}`));
      },
    }),
  });
  const writerLock = `ashpipe-control-writer:${target.schema}`;
  return {
    dialect: 'postgres',
    db,
    home: options.home,
    location: target.location,
    sqlite: undefined,
    transaction: (fn) =>
      db.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(hashtext(${writerLock}))`.execute(trx);
        return fn(trx);
      }),
    close: () => db.destroy(),
  };
}

/**
 * Creates the schema and applies pending migrations, in id order, each in its own transaction, all under
 * a session advisory lock: processes starting together wait for each other, and the later ones find the
 * migrations applied.
 */
export async function migratePostgres(
  pool: pg.Pool,
  schemaName: string,
  list: readonly Migration[],
): Promise<string[]> {
  const sorted = checkedOrder(list);
  for (const m of sorted) {
    if (m.postgres === undefined) {
      throw new ConfigError(`control-store migration ${m.id} has no PostgreSQL form`);
    }
  }
  const schema = quoteIdent(schemaName);
  const lock = `ashpipe-control-migrate:${schemaName}`;
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [lock]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      await client.query(`SET search_path TO ${schema}`);
      await client.query(
        'CREATE TABLE IF NOT EXISTS _ashpipe_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)',
      );
      const { rows } = await client.query<{ id: string }>('SELECT id FROM _ashpipe_migrations');
      const done = new Set(rows.map((r) => r.id));
      for (const migration of sorted) {
        if (done.has(migration.id)) continue;
        await client.query('BEGIN');
        try {
          await client.query(migration.postgres ?? '');
          await client.query('INSERT INTO _ashpipe_migrations (id, applied_at) VALUES ($1, $2)', [
            migration.id,
            new Date().toISOString(),
          ]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
        applied.push(migration.id);
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lock]);
    }
  } finally {
    client.release();
  }
  return applied;
}

/** The migrations in id order; duplicate ids are refused. */
export function checkedOrder(list: readonly Migration[]): Migration[] {
  const ids = new Set<string>();
  for (const m of list) {
    if (ids.has(m.id)) throw new Error(`duplicate control-store migration id ${m.id}`);
    ids.add(m.id);
  }
  return [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

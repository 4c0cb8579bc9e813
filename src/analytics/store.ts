/**
 * Installing and reading the analytics views in a target: a SQLite file or a PostgreSQL schema (the same
 * target strings as `sync --to`). JSONL targets have no SQL, so no views.
 */
import pg from 'pg';
import { parsePostgresTarget } from '../sinks/index.js';
import { ConfigError } from '../util/errors.js';
import { openSqlite, type SqliteDatabase } from '../util/sqlite.js';
import { type Dialect, dialectOf, quoteIdent } from './dialect.js';
import { ANALYTICS_VIEWS, type AnalyticsView, findView } from './views.js';

/** A row of a view: column name to value (numbers, text or NULL). */
export type ViewRow = Record<string, string | number | null>;

/** A connection to a target, as the analytics commands need it. */
export interface AnalyticsTarget {
  readonly dialect: Dialect;
  /** Where, without credentials. */
  readonly location: string;
  /** Tables and views of the target (PostgreSQL: of its schema). */
  relations(): Promise<{ tables: Set<string>; views: Set<string> }>;
  /** Runs statements in one transaction. */
  transaction(statements: readonly string[]): Promise<void>;
  /**
   * Runs a SELECT. `params` are bound values: written `?` on SQLite and `$1`, `$2`… on PostgreSQL
   * ({@link placeholder}).
   */
  query(sql: string, params?: readonly (string | number)[]): Promise<ViewRow[]>;
  close(): Promise<void>;
}

class SqliteTarget implements AnalyticsTarget {
  readonly dialect = dialectOf('sqlite');
  private readonly db: SqliteDatabase;
  constructor(
    file: string,
    readonly location: string,
  ) {
    this.db = openSqlite(file, { timeout: 10_000 });
  }
  async relations() {
    const rows = this.db
      .prepare(`SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')`)
      .all() as Array<{ name: string; type: string }>;
    return {
      tables: new Set(rows.filter((r) => r.type === 'table').map((r) => r.name)),
      views: new Set(rows.filter((r) => r.type === 'view').map((r) => r.name)),
    };
  }
  async transaction(statements: readonly string[]) {
    this.db.transaction(() => {
      for (const sql of statements) this.db.prepare(sql).run();
    })();
  }
  async query(sql: string, params: readonly (string | number)[] = []) {
    return this.db.prepare(sql).all(...params) as ViewRow[];
  }
  async close() {
    this.db.close();
  }
}

class PostgresTarget implements AnalyticsTarget {
  readonly dialect: Dialect;
  private readonly client: pg.Client;
  private readonly schema: string;
  private connected = false;
  readonly location: string;
  constructor(target: string) {
    const parsed = parsePostgresTarget(target);
    this.schema = parsed.schema;
    this.location = parsed.location;
    this.dialect = dialectOf('postgres', parsed.schema);
    this.client = new pg.Client({ connectionString: parsed.connectionString });
  }
  private async connect(): Promise<pg.Client> {
    if (!this.connected) {
      await this.client.connect();
      this.connected = true;
    }
    return this.client;
  }
  async relations() {
    const c = await this.connect();
    const { rows } = await c.query<{ table_name: string; table_type: string }>(
      'SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = $1',
      [this.schema],
    );
    return {
      tables: new Set(rows.filter((r) => r.table_type === 'BASE TABLE').map((r) => r.table_name)),
      views: new Set(rows.filter((r) => r.table_type === 'VIEW').map((r) => r.table_name)),
    };
  }
  async transaction(statements: readonly string[]) {
    const c = await this.connect();
    await c.query('BEGIN');
    try {
      for (const sql of statements) await c.query(sql);
      await c.query('COMMIT');
    } catch (error) {
      await c.query('ROLLBACK').catch(() => {});
      throw error;
    }
  }
  async query(sql: string, params: readonly (string | number)[] = []) {
    const c = await this.connect();
    return (await c.query<ViewRow>(sql, [...params])).rows;
  }
  async close() {
    if (this.connected) await this.client.end();
  }
}

/** The placeholder of the `n`-th (1-based) bound value of a query in a dialect. */
export function placeholder(dialect: Dialect, n: number): string {
  return dialect.name === 'postgres' ? `$${n}` : '?';
}

/**
 * Opens a target for the analytics commands: `sqlite:PATH` or `postgres://…[?schema=NAME]`.
 * @throws ConfigError for JSONL and anything else.
 */
export function openAnalyticsTarget(target: string): AnalyticsTarget {
  const scheme = /^([a-z]+):/i.exec(target)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') {
    let file = target.slice('sqlite:'.length);
    if (file.startsWith('//')) file = file.slice(2);
    if (file === '') throw new ConfigError('sqlite target needs a file path, e.g. sqlite:./ashpipe.db');
    return new SqliteTarget(file, `sqlite:${file}`);
  }
  if (scheme === 'postgres' || scheme === 'postgresql') return new PostgresTarget(target);
  if (scheme === 'jsonl') {
    throw new ConfigError('analytics views need a SQL target (sqlite:PATH or postgres://…); JSONL has none');
  }
  throw new ConfigError('unsupported target: use sqlite:PATH or postgres://…');
}

/** What `install` did with one view. */
export interface InstalledView {
  name: string;
  /** `installed`, or `skipped` because tables it reads are not in the target yet. */
  status: 'installed' | 'skipped';
  /** The tables it needs that the target lacks (sync those streams first). */
  missing: string[];
}

/** The DDL that (re)creates a view: dropped first, as a changed column list cannot be replaced. */
function ddl(target: AnalyticsTarget, view: AnalyticsView): string[] {
  const name = target.dialect.table(view.name);
  return [`DROP VIEW IF EXISTS ${name}`, `CREATE VIEW ${name} AS ${view.sql(target.dialect)}`];
}

/**
 * Creates (or replaces) every view whose tables the target has, in one transaction; the others are
 * reported with the tables they lack.
 */
export async function installAnalytics(target: AnalyticsTarget): Promise<InstalledView[]> {
  const { tables } = await target.relations();
  const out: InstalledView[] = [];
  const statements: string[] = [];
  for (const view of ANALYTICS_VIEWS) {
    const missing = view.needs.filter((t) => !tables.has(t));
    out.push({ name: view.name, status: missing.length === 0 ? 'installed' : 'skipped', missing });
    if (missing.length === 0) statements.push(...ddl(target, view));
  }
  await target.transaction(statements);
  return out;
}

/** A view as `analytics list` shows it. */
export interface ViewListing {
  name: string;
  description: string;
  installed: boolean;
  /** Tables it reads that the target lacks. */
  missing: string[];
  columns: string[];
}

/** Every view, whether it is installed in the target and what it would need. */
export async function listAnalytics(target: AnalyticsTarget): Promise<ViewListing[]> {
  const { tables, views } = await target.relations();
  return ANALYTICS_VIEWS.map((v) => ({
    name: v.name,
    description: v.description,
    installed: views.has(v.name),
    missing: v.needs.filter((t) => !tables.has(t)),
    columns: v.columns.map((c) => c.name),
  }));
}

/** The rows of an installed view, sorted by its order columns (NULLs first) on both databases. */
export async function readView(
  target: AnalyticsTarget,
  name: string,
): Promise<{ columns: string[]; rows: ViewRow[] }> {
  const view = findView(name);
  if (!view) {
    throw new ConfigError(
      `unknown view ${JSON.stringify(name)}: one of ${ANALYTICS_VIEWS.map((v) => v.name).join(', ')}`,
    );
  }
  const { views } = await target.relations();
  if (!views.has(view.name)) {
    throw new ConfigError(
      `${view.name} is not installed in ${target.location}: run \`ashpipe analytics install\``,
    );
  }
  const columns = view.columns.map((c) => c.name);
  const order = view.orderBy.map((c) => `${quoteIdent(c)} NULLS FIRST`).join(', ');
  const rows = await target.query(
    `SELECT ${columns.map(quoteIdent).join(', ')} FROM ${target.dialect.table(view.name)} ORDER BY ${order}`,
  );
  return { columns, rows };
}

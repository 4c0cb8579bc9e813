/**
 * History mode (slowly changing dimension, type 2): every distinct version of a stream's records in
 * `<stream>_history`, beside the stream's table, on SQLite and PostgreSQL.
 *
 * The table sinks call in here from inside their page transactions (so a version commits with its page and
 * the stream's checkpoint, or not at all) and only when the stream's state asks for history, so a sync
 * without history pays one property check per page. The logic is written once, as a plan of queries that
 * the SQLite sink runs synchronously (better-sqlite3 transactions cannot await) and the PostgreSQL sink
 * asynchronously; see docs/history.md for the table's columns.
 */

import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { SqliteDatabase } from '../util/sqlite.js';
import { META_COLUMNS, PARENT_COLUMN, qualified, quoteIdent } from './layout.js';
import type { StreamState } from './types.js';

/** Suffix of a history table's name: `applications` → `applications_history`. */
export const HISTORY_SUFFIX = '_history';

/** The history table of a stream table. */
export function historyTableFor(table: string): string {
  return `${table}${HISTORY_SUFFIX}`;
}

/** Bookkeeping columns of a history table, in the order they are created. */
export const HISTORY_COLUMNS = {
  /** Number of the version, increasing in the order versions were written. */
  version: '_ashpipe_version',
  /** The record's id (its primary key as text): what erasure and joins key on. */
  recordId: '_ashpipe_record_id',
  /** SHA-256 (hex) of `_ashpipe_raw`: a version is written only when it differs from the current one. */
  hash: '_ashpipe_hash',
  /** Start of the version (inclusive): the record's `updatedAt` when it has one, else when it was observed. */
  validFrom: '_ashpipe_valid_from',
  /** End of the version (exclusive): the next version's start or the deletion time; NULL while current. */
  validTo: '_ashpipe_valid_to',
  /** The version is the record's current one (at most one per record). */
  isCurrent: '_ashpipe_is_current',
  /** Set on the version a deletion closed (its `_ashpipe_valid_to` is when the deletion was seen). */
  deleted: '_ashpipe_deleted',
  /** When ashpipe wrote the version. */
  observedAt: '_ashpipe_observed_at',
} as const;

/** A query of a history plan: `all` returns rows, `run` and `exec` none (`exec` takes no parameters). */
export interface HistoryQuery {
  kind: 'all' | 'run' | 'exec';
  sql: string;
  params: unknown[];
}

/** A piece of history logic: yields queries, receives each query's rows, returns its result. */
export type HistoryPlan<T> = Generator<HistoryQuery, T, Array<Record<string, unknown>>>;

/** Where a stream's history goes. */
export interface HistoryTarget {
  dialect: 'sqlite' | 'postgres';
  /** PostgreSQL schema (absent for SQLite). */
  schema?: string;
  /** Stream name (its state's key in `_ashpipe_state`). */
  stream: string;
  /** The stream's table. */
  table: string;
  /** The stream table's single key column (streams with a compound key keep no history). */
  keyColumn: string;
}

/**
 * Whether a page written with `state` may touch history: a sync page with `state.history`, or a write
 * outside a sync (webhooks, `keepState`), which goes by the stream's stored state.
 */
export function historyMayApply(state: StreamState | undefined, keepState: boolean): boolean {
  return keepState || state?.history === true;
}

/** Runs a plan inside the caller's SQLite transaction. */
export function runHistorySqlite<T>(db: SqliteDatabase, plan: HistoryPlan<T>): T {
  let step = plan.next([]);
  while (!step.done) {
    const q = step.value;
    let rows: Array<Record<string, unknown>> = [];
    const params = q.params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
    if (q.kind === 'exec') db.exec(q.sql);
    else if (q.kind === 'all') rows = db.prepare(q.sql).all(...params) as Array<Record<string, unknown>>;
    else db.prepare(q.sql).run(...params);
    step = plan.next(rows);
  }
  return step.value;
}

/** Runs a plan on the caller's PostgreSQL transaction's connection. */
export async function runHistoryPostgres<T>(client: pg.PoolClient, plan: HistoryPlan<T>): Promise<T> {
  let step = plan.next([]);
  while (!step.done) {
    const q = step.value;
    const res = await client.query(q.sql, q.kind === 'exec' ? undefined : q.params);
    step = plan.next(res.rows as Array<Record<string, unknown>>);
  }
  return step.value;
}

/** An ISO time from a database value (PostgreSQL gives timestamptz as a Date). */
function iso(value: unknown): string | undefined {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string' && value !== '') {
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : new Date(t).toISOString();
  }
  return undefined;
}

/** SHA-256 (hex) of a record's stored JSON. */
export function rawHash(raw: string): string {
  return createHash('sha256').update(raw).digest('hex');
}

/** `updatedAt` of a stored record, as an ISO time, when it has a valid one. */
function updatedAtOf(raw: string): string | undefined {
  try {
    const record = JSON.parse(raw) as Record<string, unknown>;
    return iso(record.updatedAt);
  } catch {
    return undefined;
  }
}

/**
 * Start of a new version: the record's `updatedAt`, unless it does not come after the end of the record's
 * previous version (an edit Ashby did not stamp, a record back after a deletion), then the time it was
 * observed; never before that end, so the versions of a record never overlap.
 */
export function versionStart(updatedAt: string | undefined, floor: string | undefined, now: string): string {
  const after = (a: string, b: string | undefined) => b === undefined || Date.parse(a) > Date.parse(b);
  if (updatedAt !== undefined && after(updatedAt, floor)) return updatedAt;
  if (after(now, floor)) return now;
  return floor ?? now;
}

/** A column of a table and its declared SQL type. */
interface TableColumn {
  name: string;
  type: string;
}

function* tableColumns(target: HistoryTarget, table: string): HistoryPlan<TableColumn[]> {
  if (target.dialect === 'sqlite') {
    // table_xinfo lists the virtual generated columns of the stream table too (the typed columns).
    const rows = yield { kind: 'all', sql: 'SELECT name, type FROM pragma_table_xinfo(?)', params: [table] };
    return rows.map((r) => ({ name: String(r.name), type: String(r.type || 'TEXT') }));
  }
  const rows = yield {
    kind: 'all',
    sql: `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
          WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    params: [qualified(table, target.schema)],
  };
  return rows.map((r) => ({ name: String(r.name), type: String(r.type) }));
}

/** The stream table's columns a version copies: the typed data columns, and the parent id. */
function copiedColumns(columns: readonly TableColumn[]): TableColumn[] {
  const meta = new Set<string>(META_COLUMNS);
  return columns.filter(
    (c) => c.name === PARENT_COLUMN || (!meta.has(c.name) && !c.name.startsWith('_ashpipe_')),
  );
}

function createSql(target: HistoryTarget, history: string): string[] {
  const t = qualified(history, target.schema);
  const c = HISTORY_COLUMNS;
  const index = (suffix: string) => quoteIdent(`${history}__${suffix}`);
  if (target.dialect === 'sqlite') {
    return [
      `CREATE TABLE IF NOT EXISTS ${t} ("${c.version}" INTEGER PRIMARY KEY AUTOINCREMENT, "${c.recordId}" TEXT NOT NULL, "${c.hash}" TEXT NOT NULL, "${c.validFrom}" TEXT NOT NULL, "${c.validTo}" TEXT, "${c.isCurrent}" BOOLEAN NOT NULL, "${c.deleted}" BOOLEAN NOT NULL DEFAULT 0, "${c.observedAt}" TEXT NOT NULL, "_ashpipe_raw" TEXT NOT NULL)`,
      `CREATE INDEX IF NOT EXISTS ${index('record')} ON ${t} ("${c.recordId}", "${c.validFrom}")`,
      `CREATE UNIQUE INDEX IF NOT EXISTS ${index('current')} ON ${t} ("${c.recordId}") WHERE "${c.isCurrent}"`,
    ];
  }
  return [
    `CREATE TABLE IF NOT EXISTS ${t} ("${c.version}" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "${c.recordId}" text NOT NULL, "${c.hash}" text NOT NULL, "${c.validFrom}" timestamptz NOT NULL, "${c.validTo}" timestamptz, "${c.isCurrent}" boolean NOT NULL, "${c.deleted}" boolean NOT NULL DEFAULT false, "${c.observedAt}" timestamptz NOT NULL, "_ashpipe_raw" jsonb NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS ${index('record')} ON ${t} ("${c.recordId}", "${c.validFrom}")`,
    `CREATE UNIQUE INDEX IF NOT EXISTS ${index('current')} ON ${t} ("${c.recordId}") WHERE "${c.isCurrent}"`,
  ];
}

/**
 * Creates the history table when missing and adds the stream table's typed columns it lacks (with their
 * types). Returns the columns a version copies, or undefined when the stream table does not exist yet.
 */
function* ensureTable(target: HistoryTarget): HistoryPlan<TableColumn[] | undefined> {
  const main = yield* tableColumns(target, target.table);
  if (main.length === 0) return undefined;
  const history = historyTableFor(target.table);
  let have = yield* tableColumns(target, history);
  if (have.length === 0) {
    for (const sql of createSql(target, history)) yield { kind: 'exec', sql, params: [] };
    have = yield* tableColumns(target, history);
  }
  const present = new Set(have.map((c) => c.name));
  const copied = copiedColumns(main);
  const t = qualified(history, target.schema);
  for (const column of copied) {
    if (present.has(column.name)) continue;
    const ifNot = target.dialect === 'postgres' ? 'IF NOT EXISTS ' : '';
    yield {
      kind: 'exec',
      sql: `ALTER TABLE ${t} ADD COLUMN ${ifNot}${quoteIdent(column.name)} ${column.type}`,
      params: [],
    };
  }
  return copied;
}

/** The stored state of the stream (inside the transaction). */
function* storedState(target: HistoryTarget): HistoryPlan<StreamState | undefined> {
  const sql =
    target.dialect === 'sqlite'
      ? 'SELECT state FROM _ashpipe_state WHERE stream = ?'
      : `SELECT state FROM ${qualified('_ashpipe_state', target.schema)} WHERE stream = $1`;
  const rows = yield { kind: 'all', sql, params: [target.stream] };
  const value = rows[0]?.state;
  if (value === undefined || value === null) return undefined;
  return (typeof value === 'string' ? JSON.parse(value) : value) as StreamState;
}

/** How many versions a plan wrote or closed. */
export interface HistoryCounts {
  /** Versions written. */
  written: number;
  /** Versions closed by a deletion. */
  deleted: number;
}

/**
 * Before a page is written: when the page turns history on (the stored state did not have it), brings the
 * history table in line with the stream's table as it is — one version per live row not already current
 * (the seed of a stream that has rows), and a deletion for a current version whose row is gone.
 */
export function* beforePage(
  target: HistoryTarget,
  state: StreamState,
  keepState: boolean,
  now: string,
): HistoryPlan<HistoryCounts> {
  if (keepState || state.history !== true) return { written: 0, deleted: 0 };
  const stored = yield* storedState(target);
  if (stored?.history === true) return { written: 0, deleted: 0 };
  const copied = yield* ensureTable(target);
  if (!copied) return { written: 0, deleted: 0 };
  return yield* reconcile(target, copied, undefined, now);
}

/**
 * After a page (or a deletion) is written: a version for each of `ids` whose stored JSON differs from its
 * current version (or that has none), a closed version for each of them now deleted. Outside a sync
 * (`keepState`) it applies only when the stream's stored state has history on.
 */
export function* afterWrite(
  target: HistoryTarget,
  ids: readonly string[] | undefined,
  state: StreamState | undefined,
  keepState: boolean,
  now: string,
): HistoryPlan<HistoryCounts> {
  const on =
    keepState || state === undefined
      ? (yield* storedState(target))?.history === true
      : state.history === true;
  if (!on || ids?.length === 0) return { written: 0, deleted: 0 };
  const copied = yield* ensureTable(target);
  if (!copied) return { written: 0, deleted: 0 };
  return yield* reconcile(target, copied, ids, now);
}

interface Latest {
  hash: string;
  current: boolean;
  validFrom: string;
  validTo: string | undefined;
}

/** Compares the stream table's rows (all, or those of `ids`) with their latest versions and writes the difference. */
function* reconcile(
  target: HistoryTarget,
  copied: readonly TableColumn[],
  ids: readonly string[] | undefined,
  now: string,
): HistoryPlan<HistoryCounts> {
  const pg = target.dialect === 'postgres';
  const main = qualified(target.table, target.schema);
  const history = qualified(historyTableFor(target.table), target.schema);
  const key = quoteIdent(target.keyColumn);
  const c = HISTORY_COLUMNS;
  const inIds = (column: string) =>
    ids === undefined
      ? ''
      : pg
        ? ` WHERE ${column}::text = ANY($1::text[])`
        : ` WHERE ${column} IN (SELECT value FROM json_each(?))`;
  const idParams = ids === undefined ? [] : [pg ? [...ids] : JSON.stringify(ids)];
  const rows = yield {
    kind: 'all',
    sql: `SELECT ${key} AS id, "_ashpipe_raw"${pg ? '::text' : ''} AS raw, "_ashpipe_deleted_at" AS deleted_at FROM ${main}${inIds(key)}`,
    params: idParams,
  };
  // Every version of ids (or the latest of each record of the whole table), oldest first: the last one is
  // what counts (a closed one too: a record back after a deletion starts after its end).
  const versions = yield {
    kind: 'all',
    sql: `SELECT "${c.recordId}" AS id, "${c.hash}" AS hash, "${c.isCurrent}" AS cur, "${c.validFrom}" AS vf, "${c.validTo}" AS vt FROM ${history}${
      ids === undefined
        ? ` WHERE "${c.version}" IN (SELECT max("${c.version}") FROM ${history} GROUP BY "${c.recordId}")`
        : inIds(`"${c.recordId}"`)
    } ORDER BY "${c.version}"`,
    params: idParams,
  };
  const latest = new Map<string, Latest>();
  for (const v of versions) {
    latest.set(String(v.id), {
      hash: String(v.hash),
      current: v.cur === true || v.cur === 1,
      validFrom: iso(v.vf) ?? now,
      validTo: iso(v.vt),
    });
  }
  const closes: Array<{ id: string; end: string; deleted: boolean }> = [];
  const inserts: Array<{ id: string; hash: string; start: string }> = [];
  const seen = new Set<string>();
  for (const row of rows) {
    const id = String(row.id);
    seen.add(id);
    const last = latest.get(id);
    const deletedAt = iso(row.deleted_at);
    if (deletedAt !== undefined) {
      if (last?.current)
        closes.push({ id, end: versionStart(deletedAt, last.validFrom, now), deleted: true });
      continue;
    }
    const raw = String(row.raw);
    const hash = rawHash(raw);
    if (last?.current && last.hash === hash) continue;
    const floor = last ? (last.current ? last.validFrom : (last.validTo ?? last.validFrom)) : undefined;
    const start = versionStart(updatedAtOf(raw), floor, now);
    if (last?.current) closes.push({ id, end: start, deleted: false });
    inserts.push({ id, hash, start });
  }
  // Current versions whose row is gone from the stream table altogether (removed outside ashpipe).
  for (const [id, last] of latest) {
    if (seen.has(id) || !last.current) continue;
    closes.push({ id, end: versionStart(now, last.validFrom, now), deleted: true });
  }
  // Closes first: the new current version of a record may only exist once the old one is closed.
  const names = copied
    .map((col) => quoteIdent(col.name))
    .map((n) => `, ${n}`)
    .join('');
  const columns = `"${c.recordId}", "${c.hash}", "${c.validFrom}", "${c.isCurrent}", "${c.deleted}", "${c.observedAt}", "_ashpipe_raw"${names}`;
  if (pg) {
    // One statement each for the whole page: a round trip per record would dominate a first sync.
    if (closes.length > 0)
      yield {
        kind: 'run',
        sql: `UPDATE ${history} AS h SET "${c.validTo}" = v.vt, "${c.isCurrent}" = false, "${c.deleted}" = h."${c.deleted}" OR v.del FROM unnest($1::text[], $2::timestamptz[], $3::boolean[]) AS v(id, vt, del) WHERE h."${c.recordId}" = v.id AND h."${c.isCurrent}"`,
        params: [closes.map((x) => x.id), closes.map((x) => x.end), closes.map((x) => x.deleted)],
      };
    if (inserts.length > 0)
      yield {
        kind: 'run',
        sql: `INSERT INTO ${history} (${columns}) SELECT v.id, v.hash, v.vf, true, false, $4::timestamptz, m."_ashpipe_raw"${copied.map((col) => `, m.${quoteIdent(col.name)}`).join('')} FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS v(id, hash, vf) JOIN ${main} AS m ON m.${key}::text = v.id`,
        params: [inserts.map((x) => x.id), inserts.map((x) => x.hash), inserts.map((x) => x.start), now],
      };
  } else {
    for (const x of closes)
      yield {
        kind: 'run',
        sql: `UPDATE ${history} SET "${c.validTo}" = ?, "${c.isCurrent}" = 0, "${c.deleted}" = "${c.deleted}" OR ? WHERE "${c.recordId}" = ? AND "${c.isCurrent}"`,
        params: [x.end, x.deleted, x.id],
      };
    const insert = `INSERT INTO ${history} (${columns}) SELECT ?, ?, ?, 1, 0, ?, "_ashpipe_raw"${names} FROM ${main} WHERE ${key} = ?`;
    for (const x of inserts) yield { kind: 'run', sql: insert, params: [x.id, x.hash, x.start, now, x.id] };
  }
  return { written: inserts.length, deleted: closes.filter((x) => x.deleted).length };
}

/**
 * After a full pass's deletions: closes the current version of every row the pass soft-deleted (a join,
 * not a scan of every record's JSON). Only when `state` has history on.
 */
export function* afterFullPass(
  target: HistoryTarget,
  state: StreamState,
  now: string,
): HistoryPlan<HistoryCounts> {
  if (state.history !== true) return { written: 0, deleted: 0 };
  const copied = yield* ensureTable(target);
  if (!copied) return { written: 0, deleted: 0 };
  const c = HISTORY_COLUMNS;
  const pg = target.dialect === 'postgres';
  const main = qualified(target.table, target.schema);
  const history = qualified(historyTableFor(target.table), target.schema);
  const key = quoteIdent(target.keyColumn);
  const gone = yield {
    kind: 'all',
    sql: `SELECT h."${c.recordId}" AS id FROM ${history} h JOIN ${main} m ON m.${key}${pg ? '::text' : ''} = h."${c.recordId}" WHERE h."${c.isCurrent}" AND m."_ashpipe_deleted_at" IS NOT NULL`,
    params: [],
  };
  if (gone.length === 0) return { written: 0, deleted: 0 };
  return yield* reconcile(
    target,
    copied,
    gone.map((g) => String(g.id)),
    now,
  );
}

/**
 * The history target of a stream table, or undefined when the stream cannot keep history (a compound key)
 * or has no table yet.
 */
export function historyTargetOf(
  dialect: 'sqlite' | 'postgres',
  schema: string | undefined,
  stream: string,
  layout: { hasTable: boolean; table: string; keyColumns: ReadonlyArray<{ column: string }> } | undefined,
): HistoryTarget | undefined {
  if (!layout?.hasTable) return undefined;
  const keys = layout.keyColumns;
  if (keys.length !== 1 || !keys[0]) return undefined;
  return {
    dialect,
    ...(schema !== undefined ? { schema } : {}),
    stream,
    table: layout.table,
    keyColumn: keys[0].column,
  };
}

/** The ids of a page's records (single-key streams). */
export function pageIds(
  primaryKey: readonly string[],
  records: readonly Record<string, unknown>[],
): string[] {
  const field = primaryKey[0];
  if (primaryKey.length !== 1 || field === undefined) return [];
  return records.flatMap((r) => {
    const v = r[field];
    return typeof v === 'string' || typeof v === 'number' ? [String(v)] : [];
  });
}

import { createHash } from 'node:crypto';
import pg from 'pg';
import { ConfigError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { redact, registerSecret } from '../util/redact.js';
import {
  afterFullPass,
  afterWrite,
  beforePage,
  historyMayApply,
  historyTargetOf,
  pageIds,
  runHistoryPostgres,
} from './history.js';
import {
  addColumnSql,
  addParentColumnSql,
  addSeenColumnSql,
  bookkeepingDdl,
  type ColumnDef,
  type ColumnMapRow,
  createTableSql,
  fieldPath,
  fieldValue,
  fits,
  isIndexedReference,
  isReferenceField,
  KEY_TYPE_NOTICE,
  keyFits,
  keyPosition,
  layoutsFromRows,
  META_COLUMNS,
  PARENT_COLUMN,
  parentIndexSql,
  pgText,
  postgresCustomFieldBackfillSql,
  qualified,
  quoteIdent,
  referenceBackfillSql,
  referenceIndexSql,
  rowDecoder,
  SEEN_COLUMN,
  StreamLayout,
  sqlType,
  temporalConversionSql,
  temporalTypeOf,
} from './layout.js';
import { holderIsGone, type LockBackend, LockKeeper, type LockRecord, newLockRecord } from './locks.js';
import { customFieldsPathOf, dedupeByKey, emptyUpsertResult, passKey, storableRecords } from './records.js';
import {
  ABANDONED_PASS_MS,
  CUSTOM_FIELD_VALUES_TABLE,
  type LockAttempt,
  type LockHolder,
  type MarkDeletedOptions,
  MERGED_INTO_COLUMN,
  type ReadRowsOptions,
  type RowCount,
  type Sink,
  SinkError,
  type StoredRecord,
  type StreamShape,
  type StreamState,
  type UpsertOptions,
  type UpsertResult,
} from './types.js';

/** The parameters of a page statement, by name (a statement binds those its variant uses, in its order). */
type PageParam = 'page' | 'now' | 'passId' | 'parent' | 'stream' | 'state' | 'objectType' | 'path';

/** A page statement of one layout and variant: prepared once per connection under `name`. */
interface PageStatement {
  name: string;
  text: string;
  params: PageParam[];
}

/**
 * A SQL string literal of `text` in which nothing but ASCII letters, digits and `_` is written as itself:
 * every other character is a `\\uXXXX` / `\\UXXXXXXXX` escape of an E'' string (read the same whatever
 * `standard_conforming_strings` says), so a field name from Ashby's data cannot change the SQL it is in.
 */
function escapedLiteral(text: string): string {
  let out = '';
  for (const char of text) {
    if (/^[A-Za-z0-9_]$/.test(char)) out += char;
    else {
      const code = char.codePointAt(0) ?? 0;
      out +=
        code > 0xffff
          ? `\\U${code.toString(16).padStart(8, '0')}`
          : `\\u${code.toString(16).padStart(4, '0')}`;
    }
  }
  return `E'${out}'`;
}
/** How long a lock whose recorded holder is gone may take to be freed by the server ending its session. */
const DEAD_SESSION_WAIT_MS = 10_000;
const DEAD_SESSION_POLL_MS = 100;
/**
 * The `toast_tuple_target` of a stream table: a row up to this size (bytes; the largest PostgreSQL allows
 * on 8 KiB pages) is stored as it is rather than compressed and moved out of line. A record and its typed
 * columns take 2–5 KiB, so the default (2 KiB) had every row compressed (pglz) and written to the TOAST
 * table: a third of the server's CPU of a sync, for a quarter less disk. Larger rows are still TOASTed.
 */
const TOAST_TUPLE_TARGET = 8160;
/** Connections per sink: streams sync concurrently, each page holds one connection for its transaction. */
const POOL_SIZE = 4;

const OID_INT8 = 20;
const OID_DATE = 1082;
const OID_TIMESTAMP = 1114;
const OID_TIMESTAMPTZ = 1184;

/** Type parsers: bigint columns only ever hold safe integers; timestamps come back as ISO strings. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === OID_INT8) return (value: string) => Number(value);
    // A date is a calendar day, not an instant: kept as its ISO text (pg would make it local midnight).
    if (oid === OID_DATE) return (value: string) => value;
    if (oid === OID_TIMESTAMPTZ || oid === OID_TIMESTAMP) {
      return (value: string) => new Date(oid === OID_TIMESTAMP ? `${value}Z` : value).toISOString();
    }
    return pg.types.getTypeParser(oid, format ?? 'text');
  }) as typeof pg.types.getTypeParser,
};

/** Whether `error` is PostgreSQL's unique violation (SQLSTATE 23505). */
function isUniqueViolation(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.code === '23505';
}

/** The hex digits of the escapes jsonb refuses: U+0000 and the surrogates (JSON.stringify writes lowercase). */
const UNSAFE_ESCAPE = /^(?:0000|d[89a-f][0-9a-f]{2})$/;

/**
 * JSON text PostgreSQL's jsonb accepts: it cannot hold U+0000 or lone surrogates (which JSON.stringify
 * writes as `\u0000` / `\udXXX` escapes), so those become U+FFFD. An escape preceded by an odd number of
 * backslashes is literal text and is left alone.
 */

export function jsonbSafe(json: string): string {
  // A scan from one `\u` to the next rather than a regular expression over the whole text: a page's JSON
  // is hundreds of kilobytes and such escapes are rare.
  let at = json.indexOf('\\u');
  if (at < 0) return json;
  let out = '';
  let from = 0;
  while (at >= 0) {
    let before = at - 1;
    while (before >= 0 && json.charCodeAt(before) === 92) before--;
    // Preceded by an even number of backslashes, this one starts an escape.
    if ((at - 1 - before) % 2 === 0 && UNSAFE_ESCAPE.test(json.slice(at + 2, at + 6))) {
      out += `${json.slice(from, at)}\\ufffd`;
      from = at + 6;
    }
    at = json.indexOf('\\u', at + 2);
  }
  return out + json.slice(from);
}

/** A parsed `postgres://` target. */
export interface PostgresTarget {
  /** Connection string handed to `pg` (without the `schema` parameter). */
  connectionString: string;
  schema: string;
  /** The target without its password. */
  location: string;
}

/** Parses `postgres://…[?schema=NAME]`; the password (if any) is registered as a secret. */
export function parsePostgresTarget(target: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new ConfigError('invalid PostgreSQL URL (expected postgres://USER@HOST:PORT/DB[?schema=NAME])');
  }
  if (url.password) registerSecret(decodeURIComponent(url.password));
  const schema = url.searchParams.get('schema') ?? 'public';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new ConfigError(
      `invalid schema ${JSON.stringify(schema)} in the PostgreSQL URL: use letters, digits and _`,
    );
  }
  url.searchParams.delete('schema');
  const connectionString = url.toString();
  const shown = new URL(url.toString());
  shown.password = '';
  if (schema !== 'public') shown.searchParams.set('schema', schema);
  return { connectionString, schema, location: shown.toString() };
}

/**
 * The connection holding a sink's advisory locks. Its queries run one at a time (the heartbeat and the
 * locking of several streams share it), as a `pg` client must not be given a query while one is running.
 */
class LockConnection {
  private queue: Promise<unknown> = Promise.resolve();
  constructor(readonly client: pg.Client) {}

  query<R extends pg.QueryResultRow = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
  ): Promise<pg.QueryResult<R>> {
    const next = this.queue.then(() => this.client.query<R>(sql, params));
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/**
 * The PostgreSQL sink: tables in one schema (`?schema=`, default `public`), a small connection pool, one
 * transaction per page with multi-row `INSERT … ON CONFLICT … DO UPDATE`. Nested values and `_ashpipe_raw`
 * are jsonb (so key order inside them is PostgreSQL's; the parsed value is the record as received), integers
 * bigint, other numbers double precision, business times timestamptz or date (a value that does not parse
 * is NULL there), bookkeeping times timestamptz.
 */
export class PostgresSink implements Sink {
  readonly kind = 'postgres' as const;
  readonly location: string;
  private readonly schema: string;
  private readonly connectionString: string;
  private pool: pg.Pool | undefined;
  private layouts = new Map<string, StreamLayout>();
  /** Tables known to have `_ashpipe_parent_id` (it is only ever added, so a table once seen keeps it). */
  private readonly parentTables = new Set<string>();
  /** Per stream, where its custom field values were recorded to be (object type and path as JSON). */
  private readonly customFieldSources = new Map<string, string>();
  /** Page statements by layout (a layout is replaced, not changed, when columns are added) and variant. */
  private readonly pageStatements = new WeakMap<StreamLayout, Map<string, PageStatement>>();
  /** {@link columnChecks} by layout. */
  private readonly checks = new WeakMap<StreamLayout, Array<(record: Record<string, unknown>) => boolean>>();
  private readonly locks = new LockKeeper();
  /** Passes whose start this sink registered (or found registered) in a committed transaction. */
  private readonly registered = new Set<string>();
  /** Streams this sink holds the lock of, and as whom. */
  private readonly heldHere = new Map<string, LockHolder>();
  /**
   * The connection holding this sink's stream locks: session advisory locks live as long as it does, so a
   * killed process releases them with its connection.
   */
  private lockClient: Promise<LockConnection> | undefined;

  constructor(
    target: string,
    private readonly logger?: Logger,
  ) {
    const parsed = parsePostgresTarget(target);
    this.location = parsed.location;
    this.schema = parsed.schema;
    this.connectionString = parsed.connectionString;
  }

  async open(): Promise<void> {
    if (this.pool) return;
    const pool = new pg.Pool({ connectionString: this.connectionString, max: POOL_SIZE, types });
    // An idle connection dropped by the server must not crash the process; the next query reconnects.
    pool.on('error', (error) =>
      this.logger?.warn('postgres connection error', { error: redact(error.message) }),
    );
    try {
      await this.inTransaction(pool, async (client) => {
        // Serialises concurrent first opens of the same schema (CREATE … IF NOT EXISTS can race).
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`ashpipe:${this.schema}`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)}`);
        for (const sql of bookkeepingDdl('postgres', this.schema)) await client.query(sql);
        await this.loadLayouts(client);
        await this.addSeenColumns(client);
        await this.convertTemporalColumns(client);
      });
      this.pool = pool;
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new SinkError(
        this.location,
        redact(`cannot open PostgreSQL sink ${this.location}: ${(error as Error).message || String(error)}`),
        { cause: error },
      );
    }
  }

  async getState(stream: string): Promise<StreamState | undefined> {
    const { rows } = await this.requirePool().query<{ state: StreamState }>(
      `SELECT state FROM ${this.t('_ashpipe_state')} WHERE stream = $1`,
      [stream],
    );
    return rows[0]?.state;
  }

  async lock(stream: string, label?: string): Promise<LockAttempt> {
    // Advisory locks are re-entrant within a session: a second run on this sink must not share the first's.
    const here = this.heldHere.get(stream);
    if (here) return { acquired: false, holder: here };
    const mine = newLockRecord(label);
    const { token: _token, ...me } = mine;
    // Claimed before the first await, so two runs of this sink cannot both ask the one session.
    this.heldHere.set(stream, me);
    try {
      const attempt = await this.lockWith(await this.connectLocks(), stream, mine);
      if (!attempt.acquired) this.heldHere.delete(stream);
      return attempt;
    } catch (error) {
      this.heldHere.delete(stream);
      throw error;
    }
  }

  /** {@link lock} on the lock connection, with this sink's claim on `stream` made. */
  private async lockWith(client: LockConnection, stream: string, mine: LockRecord): Promise<LockAttempt> {
    const table = this.t('_ashpipe_locks');
    for (let waited = 0; ; waited += DEAD_SESSION_POLL_MS) {
      const { rows } = await client.query<{ ok: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok',
        [`ashpipe:${this.schema}`, stream],
      );
      if (rows[0]?.ok === true) break;
      const found = await client.query<{
        pid: number;
        host: string;
        since: string;
        heartbeat_at: string;
        label: string | null;
      }>(`SELECT pid, host, since, heartbeat_at, label FROM ${table} WHERE stream = $1`, [stream]);
      const row = found.rows[0];
      const holder: LockHolder | undefined = row
        ? { pid: row.pid, host: row.host, since: row.since, ...(row.label ? { label: row.label } : {}) }
        : undefined;
      // A holder killed a moment ago: its session ends as soon as the server notices the closed socket.
      const dying =
        holder !== undefined && holderIsGone({ ...holder, heartbeatAt: row?.heartbeat_at ?? holder.since });
      if (!dying || waited >= DEAD_SESSION_WAIT_MS) return { acquired: false, holder };
      await new Promise((resolve) => setTimeout(resolve, DEAD_SESSION_POLL_MS));
    }
    // The advisory lock is the truth; the record only tells a refused run who holds it.
    const key = [`ashpipe:${this.schema}`, stream];
    try {
      await client.query(
        `INSERT INTO ${table} (stream, token, pid, host, since, heartbeat_at, label) VALUES ($1, $2, $3, $4, $5, $5, $6)
         ON CONFLICT (stream) DO UPDATE SET token = EXCLUDED.token, pid = EXCLUDED.pid, host = EXCLUDED.host,
           since = EXCLUDED.since, heartbeat_at = EXCLUDED.heartbeat_at, label = EXCLUDED.label`,
        [stream, mine.token, mine.pid, mine.host, mine.since, mine.label ?? null],
      );
    } catch (error) {
      await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', key).catch(() => undefined);
      throw error;
    }
    const backend: LockBackend = {
      beat: async () => {
        const res = await client.query(
          `UPDATE ${table} SET heartbeat_at = now() WHERE stream = $1 AND token = $2`,
          [stream, mine.token],
        );
        // The advisory lock cannot be taken from a live session: a missing record is only informational.
        return res.rowCount !== null;
      },
      release: async () => {
        this.heldHere.delete(stream);
        await client.query(`DELETE FROM ${table} WHERE stream = $1 AND token = $2`, [stream, mine.token]);
        await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', key);
      },
    };
    return { acquired: true, lock: this.locks.hold(stream, backend) };
  }

  async beginPass(stream: string, passId: string): Promise<void> {
    await this.insertPass(stream, passId);
    this.registered.add(passKey(stream, passId));
  }

  private async insertPass(stream: string, passId: string): Promise<void> {
    await this.requirePool().query(
      `INSERT INTO ${this.t('_ashpipe_passes')} (stream, pass_id, start_seq, started_at)
       VALUES ($1, $2, nextval($3::regclass), now()) ON CONFLICT (stream, pass_id) DO NOTHING`,
      [stream, passId, this.t('_ashpipe_clock')],
    );
  }

  async saveState(stream: string, state: StreamState | undefined): Promise<void> {
    await this.inTransaction(this.requirePool(), (client) =>
      this.writeState(client, stream, state, new Date().toISOString()),
    );
  }

  async upsertPage(
    shape: StreamShape,
    records: readonly Record<string, unknown>[],
    state: StreamState,
    options: UpsertOptions = {},
  ): Promise<UpsertResult> {
    const storable = storableRecords(shape, records);
    // Keys are compared as PostgreSQL stores them: two that differ only in a NUL are one row there.
    const allPage = dedupeByKey(shape, storable.records, (v) => (typeof v === 'string' ? pgText(v) : v));
    const pool = this.requirePool();
    const parent = options.parent?.value;
    // Only a full pass deletes, so only its start matters; a pass this sink registered is not asked again.
    const pass =
      state.passId !== undefined && state.passKind !== 'incremental'
        ? passKey(shape.name, state.passId)
        : undefined;
    const register = pass !== undefined && !this.registered.has(pass);
    let outcome: {
      result: UpsertResult;
      layout: StreamLayout;
      parentAdded: boolean;
      customFieldSource: string | undefined;
    };
    const now = new Date().toISOString();
    const attempt = (careful: boolean) =>
      this.inTransaction(pool, async (client) => {
        let current = this.layoutFor(shape);
        let page = allPage;
        let { layout, added, notices } = current.extend(page);
        if (added.length > 0) {
          // Adding columns: serialise with any other writer of this stream and start from the stored map,
          // so two processes syncing into one schema agree on names and types.
          await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
            `ashpipe:${this.schema}.${shape.name}`,
          ]);
          current =
            (await this.readLayout(client, shape.name)) ?? new StreamLayout(shape.name, shape.primaryKey, []);
          ({ layout, added, notices } = current.extend(page));
          await this.applyColumns(client, layout, added, current.hasTable);
        }
        const result = emptyUpsertResult(added.map((c) => c.column));
        result.notices = [...storable.notices, ...notices];
        result.notStored = storable.notStored;
        if (layout.hasTable && page.some((r) => !keyFits(layout, r, 'postgres'))) {
          const fitting = page.filter((r) => keyFits(layout, r, 'postgres'));
          result.notStored += page.length - fitting.length;
          result.notices.push(KEY_TYPE_NOTICE);
          page = fitting;
        }
        let parentAdded = false;
        if (page.length > 0 && parent !== undefined && !(await this.hasParentColumn(client, layout.table))) {
          await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
            `ashpipe:${this.schema}.${shape.name}`,
          ]);
          await client.query(addParentColumnSql(layout, 'postgres', this.schema));
          await client.query(parentIndexSql(layout, this.schema));
          parentAdded = true;
        }
        const customFieldSource = await this.recordCustomFieldSource(client, shape, layout);
        // History mode (src/sinks/history.ts): nothing but this check when the stream keeps no history.
        const keep = options.keepState === true;
        const history = historyMayApply(state, keep)
          ? historyTargetOf('postgres', this.schema, shape.name, layout)
          : undefined;
        if (history) await runHistoryPostgres(client, beforePage(history, state, keep, now));
        if (page.length > 0) {
          const sighting = { passId: state.passId ?? null, register };
          const write = { sighting, parent, now, state: options.keepState ? undefined : state, careful };
          await this.writePage(client, shape, layout, page, write, result);
        } else {
          await this.tick(client, shape.name, state, register);
          if (!options.keepState) await this.writeState(client, shape.name, state, now);
        }
        if (history) {
          const ids = pageIds(shape.primaryKey, page);
          await runHistoryPostgres(client, afterWrite(history, ids, state, keep, now));
        }
        return { result, layout, parentAdded, customFieldSource };
      });
    try {
      outcome = await attempt(false).catch(async (error: unknown) => {
        // Values of an object first seen on this page are inserted without conflict handling (see
        // pageStatement); another writer that stored the same object meanwhile makes that fail, and the
        // page is written again, rolled back whole, with conflicts handled.
        if (!isUniqueViolation(error)) throw error;
        await this.loadLayouts(pool).catch(() => undefined);
        return attempt(true);
      });
    } catch (error) {
      // Another process may have changed the column map meanwhile: start afresh from the database.
      await this.loadLayouts(pool).catch(() => undefined);
      throw error;
    }
    const { result, layout, parentAdded, customFieldSource } = outcome;
    if (register && pass !== undefined) this.registered.add(pass);
    // Only after COMMIT: a rolled-back page must not leave columns in the cache that the database lacks.
    this.layouts.set(shape.name, layout);
    if (customFieldSource !== undefined) this.customFieldSources.set(shape.name, customFieldSource);
    if (parentAdded) this.parentTables.add(layout.table);
    if (result.newColumns.length > 0) {
      this.logger?.info('new columns', { stream: shape.name, columns: result.newColumns });
    }
    if ((result.notStored ?? 0) > 0 || (result.notices ?? []).length > 0)
      this.logger?.warn('page stored with notices', {
        stream: shape.name,
        notStored: result.notStored,
        notices: result.notices,
      });
    return result;
  }

  async finishFullPass(shape: StreamShape, passId: string, state: StreamState): Promise<{ deleted: number }> {
    this.registered.delete(passKey(shape.name, passId));
    return this.inTransaction(this.requirePool(), async (client) => {
      const now = new Date().toISOString();
      let deleted = 0;
      const passes = this.t('_ashpipe_passes');
      const registered = await client.query<{ start_seq: number }>(
        `SELECT start_seq FROM ${passes} WHERE stream = $1 AND pass_id = $2`,
        [shape.name, passId],
      );
      // A pass nobody registered started no earlier than now, as far as this database can tell.
      const start = registered.rows[0]?.start_seq ?? (await this.nextSeq(client));
      const layout = await this.knownLayout(client, shape.name);
      if (layout?.hasTable) {
        // Rows another pass saw after this one started stay: it may have read them after this pass went by.
        const res = await client.query<{ object_id: string | null }>(
          `UPDATE ${this.t(layout.table)} SET "_ashpipe_deleted_at" = $1 WHERE "_ashpipe_deleted_at" IS NULL AND "_ashpipe_pass_id" IS DISTINCT FROM $2 AND (${quoteIdent(SEEN_COLUMN)} IS NULL OR ${quoteIdent(SEEN_COLUMN)} < $3)
           RETURNING CASE WHEN jsonb_typeof("_ashpipe_raw" -> 'id') IN ('string', 'number') THEN "_ashpipe_raw" ->> 'id' END AS object_id`,
          [now, passId, start],
        );
        deleted = res.rowCount ?? 0;
        // custom_field_values lists the values of live records, as the SQLite view does.
        const gone = res.rows.flatMap((r) => (r.object_id === null ? [] : [r.object_id]));
        if (shape.customFieldsObjectType && gone.length > 0) {
          await client.query(
            `DELETE FROM ${this.t(CUSTOM_FIELD_VALUES_TABLE)} WHERE object_type = $1 AND object_id = ANY($2::text[])`,
            [shape.customFieldsObjectType, gone],
          );
        }
        const history = state.history
          ? historyTargetOf('postgres', this.schema, shape.name, layout)
          : undefined;
        if (history && deleted > 0) await runHistoryPostgres(client, afterFullPass(history, state, now));
      }
      await client.query(`DELETE FROM ${passes} WHERE stream = $1 AND (pass_id = $2 OR started_at < $3)`, [
        shape.name,
        passId,
        new Date(Date.parse(now) - ABANDONED_PASS_MS).toISOString(),
      ]);
      await this.writeState(client, shape.name, state, now);
      return { deleted };
    });
  }

  async markDeleted(
    shape: StreamShape,
    ids: readonly string[],
    options: MarkDeletedOptions = {},
  ): Promise<number> {
    return this.inTransaction(this.requirePool(), async (client) => {
      const layout = await this.knownLayout(client, shape.name);
      const key = layout?.keyColumns;
      if (!layout?.hasTable || key?.length !== 1 || !key[0]) return 0;
      const merged = options.mergedInto !== undefined;
      if (merged) {
        await client.query(
          `ALTER TABLE ${this.t(layout.table)} ADD COLUMN IF NOT EXISTS ${quoteIdent(MERGED_INTO_COLUMN)} text`,
        );
      }
      const seq = await this.nextSeq(client);
      const set = merged ? `, ${quoteIdent(MERGED_INTO_COLUMN)} = $4` : '';
      const res = await client.query<{ object_id: string | null }>(
        `UPDATE ${this.t(layout.table)} SET "_ashpipe_deleted_at" = $1, ${quoteIdent(SEEN_COLUMN)} = $2${set} WHERE ${quoteIdent(key[0].column)} = ANY($3::text[]) AND "_ashpipe_deleted_at" IS NULL
         RETURNING CASE WHEN jsonb_typeof("_ashpipe_raw" -> 'id') IN ('string', 'number') THEN "_ashpipe_raw" ->> 'id' END AS object_id`,
        [new Date().toISOString(), seq, ids.map(pgText), ...(merged ? [options.mergedInto] : [])],
      );
      // custom_field_values lists the values of live records.
      const gone = res.rows.flatMap((r) => (r.object_id === null ? [] : [r.object_id]));
      if (shape.customFieldsObjectType && gone.length > 0) {
        await client.query(
          `DELETE FROM ${this.t(CUSTOM_FIELD_VALUES_TABLE)} WHERE object_type = $1 AND object_id = ANY($2::text[])`,
          [shape.customFieldsObjectType, gone],
        );
      }
      const history = res.rowCount ? historyTargetOf('postgres', this.schema, shape.name, layout) : undefined;
      if (history) {
        const now = new Date().toISOString();
        await runHistoryPostgres(client, afterWrite(history, [...ids], undefined, true, now));
      }
      return res.rowCount ?? 0;
    });
  }

  async readStored(shape: StreamShape, ids: readonly string[]): Promise<Map<string, StoredRecord>> {
    const pool = this.requirePool();
    const out = new Map<string, StoredRecord>();
    const layout = await this.knownLayout(pool, shape.name);
    const key = layout?.keyColumns;
    if (!layout?.hasTable || key?.length !== 1 || !key[0] || ids.length === 0) return out;
    const { rows } = await pool.query<{ id: string; raw: string; deleted: unknown }>(
      `SELECT ${quoteIdent(key[0].column)}::text AS id, "_ashpipe_raw"::text AS raw, "_ashpipe_deleted_at" AS deleted FROM ${this.t(layout.table)} WHERE ${quoteIdent(key[0].column)}::text = ANY($1::text[])`,
      [ids.map(pgText)],
    );
    for (const row of rows) {
      out.set(row.id, {
        record: JSON.parse(row.raw) as Record<string, unknown>,
        deleted: row.deleted !== null,
      });
    }
    return out;
  }

  async readRows(stream: string, options: ReadRowsOptions = {}): Promise<Array<Record<string, unknown>>> {
    const pool = this.requirePool();
    if (stream === CUSTOM_FIELD_VALUES_TABLE) {
      // The primary key's order (the database's collation), so a page is an index range, not a sort.
      const { rows } = await pool.query<Record<string, unknown>>(
        `SELECT object_type, object_id, field_id, title, value FROM ${this.t(CUSTOM_FIELD_VALUES_TABLE)} ORDER BY object_type, object_id, field_id LIMIT $1 OFFSET $2`,
        [options.limit ?? null, options.offset ?? 0],
      );
      return rows;
    }
    const layout = await this.knownLayout(pool, stream);
    if (!layout?.hasTable) return [];
    const keys = layout.keyColumns;
    const keySet = new Set(keys.map((c) => c.field));
    const rest = layout.columns.filter((c) => !keySet.has(c.field));
    const select = [
      ...keys.map((c) => quoteIdent(c.column)),
      '"_ashpipe_raw"::text AS "_ashpipe_raw"',
      '"_ashpipe_synced_at"',
      '"_ashpipe_deleted_at"',
      '"_ashpipe_pass_id"',
      ...((await this.hasParentColumn(pool, layout.table)) ? [quoteIdent(PARENT_COLUMN)] : []),
      ...((await this.hasMergedColumn(pool, layout.table)) ? [quoteIdent(MERGED_INTO_COLUMN)] : []),
      ...rest.map((c) => quoteIdent(c.column)),
    ];
    const where = options.includeDeleted === false ? ' WHERE "_ashpipe_deleted_at" IS NULL' : '';
    // Byte order for text keys, as in SQLite, whatever the database's collation.
    const order = keys
      .map((c) => `${quoteIdent(c.column)}${c.type === 'text' ? ' COLLATE "C"' : ''}`)
      .join(', ');
    const { rows } = await pool.query<Record<string, unknown>>(
      `SELECT ${select.join(', ')} FROM ${this.t(layout.table)}${where} ORDER BY ${order} LIMIT $1 OFFSET $2`,
      [options.limit ?? null, options.offset ?? 0],
    );
    return rows.map(rowDecoder(layout));
  }

  async countRows(stream: string): Promise<RowCount> {
    const pool = this.requirePool();
    if (stream === CUSTOM_FIELD_VALUES_TABLE) {
      const { rows } = await pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${this.t(CUSTOM_FIELD_VALUES_TABLE)}`,
      );
      return { live: Number(rows[0]?.n ?? 0), deleted: 0 };
    }
    const layout = await this.knownLayout(pool, stream);
    if (!layout?.hasTable) return { live: 0, deleted: 0 };
    const { rows } = await pool.query<{ n: string; deleted: string }>(
      `SELECT count(*) AS n, count("_ashpipe_deleted_at") AS deleted FROM ${this.t(layout.table)}`,
    );
    const total = Number(rows[0]?.n ?? 0);
    const deleted = Number(rows[0]?.deleted ?? 0);
    return { live: total - deleted, deleted };
  }

  async listTables(): Promise<string[]> {
    const pool = this.requirePool();
    const { rows } = await pool.query<ColumnMapRow>(
      `SELECT stream, field, column_name, type, position, key_position FROM ${this.t('_ashpipe_columns')}`,
    );
    const tables = [...layoutsFromRows(rows).values()].filter((l) => l.hasTable).map((l) => l.table);
    const custom = await pool.query(`SELECT 1 FROM ${this.t('_ashpipe_custom_fields')} LIMIT 1`);
    if (custom.rows.length > 0) tables.push(CUSTOM_FIELD_VALUES_TABLE);
    return tables.sort();
  }

  async close(): Promise<void> {
    await this.locks.releaseAll();
    const locks = this.lockClient;
    this.lockClient = undefined;
    if (locks) await (await locks.catch(() => undefined))?.client.end().catch(() => undefined);
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
  }

  /** The lock connection, opened on first use; when it dies, every lock it held is lost. */
  private connectLocks(): Promise<LockConnection> {
    this.requirePool();
    if (!this.lockClient) {
      const client = new pg.Client({ connectionString: this.connectionString, types });
      const lose = (why: string) => {
        this.locks.loseAll(why);
        // The locks died with the session; what this sink thought it held is gone too.
        this.heldHere.clear();
        if (this.lockClient === opening) this.lockClient = undefined;
      };
      client.on('error', (error) => {
        this.logger?.warn('postgres lock connection error', { error: redact(error.message) });
        lose(`its PostgreSQL connection failed (${redact(error.message)})`);
      });
      client.on('end', () => lose('its PostgreSQL connection ended'));
      const opening: Promise<LockConnection> = client.connect().then(
        () => new LockConnection(client),
        (error: unknown) => {
          this.lockClient = undefined;
          throw new SinkError(
            this.location,
            redact(`cannot connect to ${this.location} to lock streams: ${(error as Error).message}`),
            { cause: error },
          );
        },
      );
      this.lockClient = opening;
    }
    return this.lockClient;
  }

  /** The next value of the schema's clock sequence. */
  private async nextSeq(client: pg.PoolClient): Promise<number> {
    const { rows } = await client.query<{ seq: number }>('SELECT nextval($1::regclass) AS seq', [
      this.t('_ashpipe_clock'),
    ]);
    return Number(rows[0]?.seq);
  }

  /** Ticks the clock for a page and, with `register`, records a full pass's start (one round trip). */
  private async tick(
    client: pg.PoolClient,
    stream: string,
    state: StreamState,
    register: boolean,
  ): Promise<number> {
    if (!register || state.passId === undefined) return this.nextSeq(client);
    const { rows } = await client.query<{ seq: number }>(
      `WITH s AS (SELECT nextval($1::regclass) AS seq),
         r AS (INSERT INTO ${this.t('_ashpipe_passes')} (stream, pass_id, start_seq, started_at)
               SELECT $2, $3, seq, now() FROM s ON CONFLICT (stream, pass_id) DO NOTHING)
       SELECT seq FROM s`,
      [this.t('_ashpipe_clock'), stream, state.passId],
    );
    return Number(rows[0]?.seq);
  }

  /**
   * Retypes the text columns of business times in tables of earlier versions (`created_at` …) as
   * timestamptz or date, as a new table would have them (see `temporalTypeOf`); inside open()'s transaction,
   * so a schema is converted whole or not at all.
   */
  private async convertTemporalColumns(client: pg.PoolClient): Promise<void> {
    let converted = false;
    for (const layout of this.layouts.values()) {
      if (!layout.hasTable) continue;
      const keys = new Set(layout.primaryKey);
      for (const column of layout.columns) {
        if (column.type !== 'text' || keys.has(column.field) || isReferenceField(column.field)) continue;
        // A `…Date` field is a date or a timestamp by its values: the first stored one decides, as it would have.
        const { rows } = await client.query<{ v: string }>(
          `SELECT ${quoteIdent(column.column)} AS v FROM ${this.t(layout.table)} WHERE ${quoteIdent(column.column)} IS NOT NULL LIMIT 1`,
        );
        const type = temporalTypeOf(column.field, rows[0]?.v);
        if (type === undefined) continue;
        await client.query(temporalConversionSql(layout, column, type, this.schema));
        await client.query(
          `UPDATE ${this.t('_ashpipe_columns')} SET type = $1 WHERE stream = $2 AND field = $3`,
          [type, layout.stream, column.field],
        );
        converted = true;
      }
    }
    if (converted) await this.loadLayouts(client);
  }

  /** Adds {@link SEEN_COLUMN} to the stream tables of a schema written by an earlier version. */
  private async addSeenColumns(client: pg.PoolClient): Promise<void> {
    const { rows } = await client.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.columns WHERE table_schema = $1 AND column_name = $2',
      [this.schema, SEEN_COLUMN],
    );
    const has = new Set(rows.map((r) => r.table_name));
    for (const layout of this.layouts.values()) {
      if (layout.hasTable && !has.has(layout.table)) {
        await client.query(addSeenColumnSql(layout.table, 'postgres', this.schema));
      }
    }
  }

  private async loadLayouts(db: pg.Pool | pg.PoolClient): Promise<void> {
    const { rows } = await db.query<ColumnMapRow>(
      `SELECT stream, field, column_name, type, position, key_position FROM ${this.t('_ashpipe_columns')}`,
    );
    this.layouts = layoutsFromRows(rows);
  }

  /** The cached layout, or the stored one when this sink has not written the stream (another process did). */
  private async knownLayout(db: pg.Pool | pg.PoolClient, stream: string): Promise<StreamLayout | undefined> {
    const cached = this.layouts.get(stream);
    if (cached?.hasTable) return cached;
    const stored = await this.readLayout(db, stream);
    if (stored) this.layouts.set(stream, stored);
    return stored;
  }

  private async readLayout(db: pg.Pool | pg.PoolClient, stream: string): Promise<StreamLayout | undefined> {
    const { rows } = await db.query<ColumnMapRow>(
      `SELECT stream, field, column_name, type, position, key_position FROM ${this.t('_ashpipe_columns')} WHERE stream = $1`,
      [stream],
    );
    return layoutsFromRows(rows).get(stream);
  }

  /** Whether the table has `_ashpipe_parent_id`; asks the catalogue until it has been seen once. */
  private async hasParentColumn(db: pg.Pool | pg.PoolClient, table: string): Promise<boolean> {
    if (this.parentTables.has(table)) return true;
    const { rows } = await db.query(
      'SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3',
      [this.schema, table, PARENT_COLUMN],
    );
    // Found means committed (this sink only asks before adding it itself), so it stays.
    if (rows.length > 0) this.parentTables.add(table);
    return rows.length > 0;
  }

  /** Whether the table has {@link MERGED_INTO_COLUMN} (added by the first merge a webhook applied). */
  private async hasMergedColumn(db: pg.Pool | pg.PoolClient, table: string): Promise<boolean> {
    const { rows } = await db.query(
      'SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3',
      [this.schema, table, MERGED_INTO_COLUMN],
    );
    return rows.length > 0;
  }

  private t(table: string): string {
    return qualified(table, this.schema);
  }

  private requirePool(): pg.Pool {
    if (!this.pool) throw new SinkError(this.location, `sink ${this.location} is not open`);
    return this.pool;
  }

  private layoutFor(shape: StreamShape): StreamLayout {
    return this.layouts.get(shape.name) ?? new StreamLayout(shape.name, shape.primaryKey, []);
  }

  private async inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect();
    let broken: Error | undefined;
    // A connection that breaks between two queries of the transaction reports it here, not as a crash;
    // the next query fails and the transaction is rolled back (or the connection discarded).
    const onError = (error: Error) => {
      broken ??= error;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const value = await fn(client);
      await client.query('COMMIT');
      return value;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error;
      }
      throw error;
    } finally {
      client.off('error', onError);
      // A connection that broke or could not roll back is discarded rather than returned to the pool.
      client.release(broken);
    }
  }

  private async applyColumns(
    client: pg.PoolClient,
    layout: StreamLayout,
    added: readonly ColumnDef[],
    existed: boolean,
  ): Promise<void> {
    if (added.length === 0) return;
    if (!existed) {
      await client.query(createTableSql(layout, 'postgres', this.schema));
      await client.query(
        `ALTER TABLE ${this.t(layout.table)} SET (toast_tuple_target = ${TOAST_TUPLE_TARGET})`,
      );
    }
    const keyFields = new Set(layout.primaryKey);
    for (const column of added) {
      if (existed || !keyFields.has(column.field)) {
        await client.query(addColumnSql(layout, column, 'postgres', this.schema));
      }
      if (isReferenceField(column.field)) {
        // Rows stored before (by an earlier version, or before the first object arrived) get their ids too.
        if (existed) {
          await client.query(referenceBackfillSql(layout, column, 'postgres', this.schema), [
            fieldPath(column.field),
          ]);
        }
        if (isIndexedReference(column.field))
          await client.query(referenceIndexSql(layout, column, this.schema));
      }
    }
    const params: unknown[] = [];
    const tuples = added.map((column) => {
      const base = params.length;
      params.push(
        layout.stream,
        column.field,
        column.column,
        column.type,
        column.position,
        keyPosition(layout, column),
      );
      return `(${[1, 2, 3, 4, 5, 6].map((i) => `$${base + i}`).join(', ')})`;
    });
    await client.query(
      `INSERT INTO ${this.t('_ashpipe_columns')} (stream, field, column_name, type, position, key_position) VALUES ${tuples.join(', ')}`,
      params,
    );
  }

  /**
   * Writes a page in one statement (see {@link pageStatement}): the clock tick (and a full pass's start),
   * the upsert, the custom field values of the records that changed and the stream state. The records go
   * as one jsonb parameter, each with a string of flags saying which typed columns take its field (the
   * values are read from the record by the server), so the client encodes each record once.
   */
  private async writePage(
    db: pg.Pool | pg.PoolClient,
    shape: StreamShape,
    layout: StreamLayout,
    page: readonly Record<string, unknown>[],
    write: {
      sighting: { passId: string | null; register: boolean };
      parent: string | undefined;
      now: string;
      state: StreamState | undefined;
      /** Whether custom field values of objects first seen here may already be stored (a retry). */
      careful: boolean;
    },
    result: UpsertResult,
  ): Promise<void> {
    const { sighting, parent, now, state, careful } = write;
    const statement = this.pageStatement(shape, layout, {
      parent: parent !== undefined,
      register: sighting.register && sighting.passId !== null,
      state: state !== undefined,
      careful,
    });
    const checks = this.columnChecks(layout);
    const rows: Array<[string, Record<string, unknown>]> = page.map((record) => {
      let flags = '';
      for (const check of checks) flags += check(record) ? '1' : '0';
      return [flags, record];
    });
    const values: Record<PageParam, unknown> = {
      page: jsonbSafe(JSON.stringify(rows)),
      now,
      passId: sighting.passId,
      parent: parent !== undefined && fits('text', parent, 'postgres') ? parent : null,
      stream: shape.name,
      state: state === undefined ? null : JSON.stringify(state),
      objectType: shape.customFieldsObjectType ?? null,
      path: customFieldsPathOf(shape),
    };
    const { rows: counts } = await db.query<{
      n: number;
      existing: number;
      undeleted: number;
      unchanged: number;
    }>({ name: statement.name, text: statement.text, values: statement.params.map((p) => values[p]) });
    const count = counts[0] ?? { n: 0, existing: 0, undeleted: 0, unchanged: 0 };
    result.inserted += count.n - count.existing;
    result.undeleted += count.undeleted;
    result.unchanged += count.unchanged;
    result.updated += count.existing - count.undeleted - count.unchanged;
  }

  /**
   * Per column of `layout`, whether a record's field goes into it (`fits`, as `encodeValue` would store it
   * rather than NULL; key columns always do), built once per layout.
   */
  private columnChecks(layout: StreamLayout): Array<(record: Record<string, unknown>) => boolean> {
    const cached = this.checks.get(layout);
    if (cached) return cached;
    const keyFields = new Set(layout.primaryKey);
    const checks = layout.columns.map((c): ((record: Record<string, unknown>) => boolean) => {
      if (keyFields.has(c.field)) return () => true;
      const { field, type } = c;
      if (isReferenceField(field)) return (record) => fits(type, fieldValue(record, field), 'postgres');
      return (record) => {
        const value = record[field];
        return value !== undefined && value !== null && fits(type, value, 'postgres');
      };
    });
    this.checks.set(layout, checks);
    return checks;
  }

  /**
   * The statement writing a page of `layout`, built once per layout and variant and prepared under a name
   * derived from its text (a connection prepares it on first use and reuses it for every later page).
   * What is stored before is read by the same statement (`old`: the sub-statements of a WITH see the table
   * as it was), which gives the counts and the records whose custom field values are replaced.
   */
  private pageStatement(
    shape: StreamShape,
    layout: StreamLayout,
    variant: { parent: boolean; register: boolean; state: boolean; careful: boolean },
  ): PageStatement {
    const key = `${variant.parent}:${variant.register}:${variant.state}:${variant.careful}:${shape.customFieldsObjectType ?? ''}`;
    let byVariant = this.pageStatements.get(layout);
    if (!byVariant) {
      byVariant = new Map();
      this.pageStatements.set(layout, byVariant);
    }
    const cached = byVariant.get(key);
    if (cached) return cached;
    const params: PageParam[] = [];
    const $ = (name: PageParam): string => {
      const at = params.indexOf(name);
      if (at >= 0) return `$${at + 1}`;
      params.push(name);
      return `$${params.length}`;
    };
    const table = this.t(layout.table);
    const keys = layout.keyColumns;
    const keyFields = new Set(layout.primaryKey);
    // A column's value read from the record (`from`: the jsonb of the record) as its column type.
    const read = (c: ColumnDef, from: string): string => {
      const path = fieldPath(c.field).map(escapedLiteral);
      const last = path.pop();
      const at = [from, ...path].join(' -> ');
      if (c.type === 'json') return `${at} -> ${last}`;
      const text = `${at} ->> ${last}`;
      return c.type === 'text' ? text : `(${text})::${sqlType(c.type, 'postgres')}`;
    };
    const keyOf = (c: ColumnDef) => `k${keys.indexOf(c)}`;
    const values = layout.columns.map((c, i) =>
      keyFields.has(c.field)
        ? `r.${keyOf(c)}`
        : `CASE WHEN substr(r.f, ${i + 1}, 1) = '1' THEN ${read(c, 'r.raw')} END`,
    );
    const columns = [
      ...layout.columns.map((c) => c.column),
      ...META_COLUMNS,
      ...(variant.parent ? [PARENT_COLUMN] : []),
    ];
    values.push(
      'r.raw',
      `${$('now')}::timestamptz`,
      'NULL::timestamptz',
      `${$('passId')}::text`,
      '(SELECT seq FROM s)',
    );
    if (variant.parent) values.push(`${$('parent')}::text`);
    const keyNames = new Set(keys.map((c) => c.column));
    const updates = columns
      .filter((c) => !keyNames.has(c))
      .map((c) =>
        // Sightings only move forward, whichever of two overlapping passes commits last.
        c === SEEN_COLUMN
          ? `${quoteIdent(c)} = GREATEST(t.${quoteIdent(c)}, EXCLUDED.${quoteIdent(c)})`
          : `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`,
      )
      .join(', ');
    const ctes = [`s AS (SELECT nextval(${escapedLiteral(this.t('_ashpipe_clock'))}::regclass) AS seq)`];
    if (variant.register) {
      ctes.push(
        `reg AS (INSERT INTO ${this.t('_ashpipe_passes')} (stream, pass_id, start_seq, started_at) SELECT ${$('stream')}::text, ${$('passId')}::text, seq, now() FROM s ON CONFLICT (stream, pass_id) DO NOTHING)`,
      );
    }
    ctes.push(
      `p AS (SELECT x.ord, x.e ->> 0 AS f, x.e -> 1 AS raw FROM jsonb_array_elements(${$('page')}::jsonb) WITH ORDINALITY AS x(e, ord))`,
      `r AS (SELECT p.ord, p.f, p.raw${keys.map((c) => `, ${read(c, 'p.raw')} AS ${keyOf(c)}`).join('')} FROM p)`,
      `old AS (SELECT r.ord, t."_ashpipe_raw" = r.raw AS same, t."_ashpipe_deleted_at" IS NOT NULL AS deleted FROM r JOIN ${table} AS t ON ${keys.map((c) => `t.${quoteIdent(c.column)} = r.${keyOf(c)}`).join(' AND ')})`,
    );
    const insert = `INSERT INTO ${table} AS t (${columns.map(quoteIdent).join(', ')}) SELECT ${values.join(', ')} FROM r`;
    const upsert = `ON CONFLICT (${keys.map((c) => quoteIdent(c.column)).join(', ')}) DO UPDATE SET ${updates}`;
    if (variant.careful) ctes.push(`up AS (${insert} ${upsert})`);
    else {
      // As for custom field values below: the rows the table did not hold are plainly inserted (a
      // concurrent writer of one of them fails the statement, and the page is written again carefully).
      ctes.push(
        `up AS (${insert} WHERE NOT EXISTS (SELECT 1 FROM old WHERE old.ord = r.ord))`,
        `upx AS (${insert} JOIN old ON old.ord = r.ord ${upsert})`,
      );
    }
    if (shape.customFieldsObjectType !== undefined) {
      const cfv = this.t(CUSTOM_FIELD_VALUES_TABLE);
      // The objects whose values may be stored: every one when careful, else those the table held.
      const stored = variant.careful ? '' : ' WHERE NOT fresh';
      // As postgresCustomFieldBackfillSql reads them (and customFieldEntries): the last of a repeated id wins.
      ctes.push(
        `ch AS (SELECT r.raw, CASE WHEN jsonb_typeof(r.raw -> 'id') IN ('string', 'number') THEN r.raw ->> 'id' ELSE jsonb_build_array(${keys
          .map(keyOf)
          .map((k) => `r.${k}`)
          .join(', ')})::text END AS object_id, r.ord, o.ord IS NULL AS fresh
          FROM r LEFT JOIN old AS o ON o.ord = r.ord WHERE o.ord IS NULL OR o.deleted OR NOT o.same)`,
        `cf AS (SELECT DISTINCT ON (object_id, field_id) object_id, field_id, title, value, fresh FROM (
          SELECT ch.object_id, ch.fresh, e.item ->> 'id' AS field_id, CASE jsonb_typeof(e.item -> 'title') WHEN 'string' THEN e.item ->> 'title' END AS title,
            coalesce(e.item -> 'value', 'null'::jsonb) AS value, ch.ord, e.n
          FROM ch CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(ch.raw #> ${$('path')}::text[]) WHEN 'array' THEN ch.raw #> ${$('path')}::text[] ELSE '[]'::jsonb END) WITH ORDINALITY AS e(item, n)
          WHERE jsonb_typeof(e.item) = 'object' AND jsonb_typeof(e.item -> 'id') = 'string' AND e.item ->> 'id' <> ''
        ) AS v ORDER BY object_id, field_id, ord DESC, n DESC)`,
        // An object's values that are no longer there go; the others are replaced in place (disjoint rows,
        // so the two sub-statements cannot step on each other).
        // The page's objects as an array, so that their rows are found by the primary key whatever the
        // planner believes of the table (a join with `ch` read every row of the object type per page).
        `cfd AS (DELETE FROM ${cfv} AS c WHERE c.object_type = ${$('objectType')}::text AND c.object_id = ANY(ARRAY(SELECT object_id FROM ch${stored}))
          AND NOT EXISTS (SELECT 1 FROM cf WHERE cf.object_id = c.object_id AND cf.field_id = c.field_id))`,
        `cfi AS (INSERT INTO ${cfv} (object_type, object_id, field_id, title, value) SELECT ${$('objectType')}::text, object_id, field_id, title, value FROM cf${stored}
          ON CONFLICT (object_type, object_id, field_id) DO UPDATE SET title = EXCLUDED.title, value = EXCLUDED.value)`,
      );
      // An object the table did not hold has no values stored (they go and come with its row), so its
      // values are plainly inserted: an upsert checks the primary key before each row and confirms each
      // insertion, which doubled the cost of these rows. Should another writer store the object meanwhile,
      // the statement fails on the key and the page is written again with `careful` (see upsertPage).
      if (!variant.careful) {
        ctes.push(
          `cfn AS (INSERT INTO ${cfv} (object_type, object_id, field_id, title, value) SELECT ${$('objectType')}::text, object_id, field_id, title, value FROM cf WHERE fresh)`,
        );
      }
    }
    if (variant.state) {
      ctes.push(
        `st AS (INSERT INTO ${this.t('_ashpipe_state')} (stream, state, updated_at) VALUES (${$('stream')}::text, ${$('state')}::jsonb, ${$('now')}::timestamptz)
          ON CONFLICT (stream) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at)`,
      );
    }
    const text = `WITH ${ctes.join(',\n')}
SELECT count(*)::int AS n, count(o.ord)::int AS existing, (count(*) FILTER (WHERE o.deleted))::int AS undeleted,
  (count(*) FILTER (WHERE o.same AND NOT o.deleted))::int AS unchanged
FROM r LEFT JOIN old AS o ON o.ord = r.ord`;
    const statement = {
      name: `ashpipe_page_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`,
      text,
      params,
    };
    byVariant.set(key, statement);
    return statement;
  }

  /**
   * Makes sure `_ashpipe_custom_fields` records where the stream keeps its custom field values. When it is
   * recorded for the first time or elsewhere (a target written by an earlier version, which read only
   * `customFields`), the stream's `custom_field_values` rows are rebuilt from the stored records, so that
   * records stored before and unchanged since are not left without their values. Returns the source.
   */
  private async recordCustomFieldSource(
    client: pg.PoolClient,
    shape: StreamShape,
    layout: StreamLayout,
  ): Promise<string | undefined> {
    const objectType = shape.customFieldsObjectType;
    if (!objectType) return undefined;
    const path = customFieldsPathOf(shape);
    const source = JSON.stringify([objectType, path]);
    if (this.customFieldSources.get(shape.name) === source) return source;
    const registry = this.t('_ashpipe_custom_fields');
    const stored = await client.query(`SELECT object_type, path FROM ${registry} WHERE stream = $1`, [
      shape.name,
    ]);
    const row = stored.rows[0] as { object_type: string; path: unknown } | undefined;
    if (row && JSON.stringify([row.object_type, row.path]) === source) return source;
    if (layout.hasTable) {
      for (const sql of postgresCustomFieldBackfillSql(layout, this.schema)) {
        await client.query(sql, sql.includes('$2') ? [objectType, path] : [objectType]);
      }
    }
    await client.query(
      `INSERT INTO ${registry} (stream, object_type, path) VALUES ($1, $2, $3::jsonb) ON CONFLICT (stream) DO UPDATE SET object_type = excluded.object_type, path = excluded.path`,
      [shape.name, objectType, JSON.stringify(path)],
    );
    return source;
  }

  private async writeState(
    client: pg.PoolClient,
    stream: string,
    state: StreamState | undefined,
    now: string,
  ): Promise<void> {
    const table = this.t('_ashpipe_state');
    if (state === undefined) {
      await client.query(`DELETE FROM ${table} WHERE stream = $1`, [stream]);
      return;
    }
    await client.query(
      `INSERT INTO ${table} (stream, state, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (stream) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at`,
      [stream, JSON.stringify(state), now],
    );
  }
}

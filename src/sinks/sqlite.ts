import type { Logger } from '../util/logger.js';
import { openSqlite, type SqliteDatabase, type SqliteStatement } from '../util/sqlite.js';
import {
  afterFullPass,
  afterWrite,
  beforePage,
  historyMayApply,
  historyTargetOf,
  pageIds,
  runHistorySqlite,
} from './history.js';
import {
  addColumnSql,
  addGeneratedColumnSql,
  addParentColumnSql,
  addSeenColumnSql,
  bookkeepingDdl,
  type ColumnDef,
  type ColumnMapRow,
  columnIndexName,
  createTableSql,
  customFieldValuesSelectSql,
  encodeValue,
  isIndexedReference,
  isReferenceField,
  KEY_TYPE_NOTICE,
  keyColumnValue,
  keyFits,
  keyPosition,
  layoutsFromRows,
  META_COLUMNS,
  PARENT_COLUMN,
  parentIndexName,
  parentIndexSql,
  quoteIdent,
  REFERENCE_MARK,
  referenceBackfillSql,
  referencedId,
  referenceIndexSql,
  rowDecoder,
  SEEN_COLUMN,
  StreamLayout,
  sqliteObjectIdSql,
} from './layout.js';
import { holderIsGone, type LockBackend, LockKeeper, type LockRecord, newLockRecord } from './locks.js';
import { createPrivately, type OutputMode } from './output-mode.js';
import {
  customFieldsPathOf,
  DEFAULT_CUSTOM_FIELDS_PATH,
  dedupeByKey,
  emptyUpsertResult,
  objectIdOf,
  passKey,
  storableRecords,
} from './records.js';
import {
  ensureSqliteCustomValues,
  pushCustomValueParams,
  SqliteCustomValues,
} from './sqlite-custom-values.js';
import {
  ABANDONED_PASS_MS,
  CUSTOM_FIELD_VALUES_TABLE,
  type LockAttempt,
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

/** How a stream's custom field source is compared with the one recorded in `_ashpipe_custom_fields`. */
function customFieldSourceKey(objectType: string, path: readonly string[]): string {
  return JSON.stringify([objectType, path]);
}

/** A path stored in `_ashpipe_custom_fields`; anything unreadable is the default. */
function parsePath(stored: string): readonly string[] {
  try {
    const value: unknown = JSON.parse(stored);
    if (Array.isArray(value) && value.length > 0 && value.every((k) => typeof k === 'string')) return value;
  } catch {
    // Not JSON: fall through to the default.
  }
  return DEFAULT_CUSTOM_FIELDS_PATH;
}

/** How long a write waits for another connection's lock (e.g. a reader in another process). */
const BUSY_TIMEOUT_MS = 15_000;
/** Page size of a database the sink creates (SQLite's default is 4096). */
const PAGE_SIZE = 8192;
/** WAL pages after which a commit checkpoints (SQLite's default is 1000). */
const WAL_AUTOCHECKPOINT_PAGES = 4000;
/**
 * The connection's page cache in KiB (`PRAGMA cache_size`; SQLite's default is 2000 KiB). A batch of bulk
 * load pages dirties a few MiB of table, value and key-index pages: with the default cache SQLite spills
 * them to the WAL before the commit. 64 MiB read 6 % fewer pages back than 16 but raised a sync's peak
 * memory by 56 MB.
 */
const CACHE_KIB = 16_384;
/**
 * Rows a full pass writes into a table that held none before it, after which the pass becomes a bulk load:
 * SQLite computes every generated column of a row on each INSERT, VIRTUAL ones included (about 1 µs per
 * typed column, most of a full sync's CPU), so the typed columns other than reference columns are dropped
 * until the pass finishes and added back then (a schema change, no row is rewritten). Small first syncs
 * (and every test that writes a few pages) never get there.
 */
const BULK_LOAD_ROWS = 5000;
/**
 * Full passes that started on an empty table (`active` 0: they may become bulk loads) and bulk loads in
 * progress (`active` 1), so that a resumed pass or a later run finishes them.
 */
/**
 * Pages of bulk loads committed together (of every stream in a bulk load: streams synced side by side take
 * turns page by page, so a batch of one stream would hold one page): one commit per page rewrites the same
 * table, index and WAL pages in every transaction. Each page still writes its stream's state with its rows
 * (in a savepoint of the batch), so a crash loses at most this many pages and the resumed passes read them
 * again: what is stored stays exact and resumable, only the amount re-read after a crash grows. 40 pages
 * commit about a tenth less often than 10 for ~5 % less CPU; more cost again once the batch outgrows the
 * page cache (see {@link BULK_BATCH_BYTES}).
 */
const BULK_BATCH_PAGES = 40;
/**
 * Most record text (`_ashpipe_raw`, in UTF-16 code units) a batch holds before it is committed: its rows
 * and index pages stay within the page cache ({@link CACHE_KIB}), which SQLite would otherwise spill to the
 * WAL in the middle of the transaction. Pages of wide records (job descriptions) end their batch sooner.
 */
const BULK_BATCH_CHARS = 10_000_000;
/**
 * Longest a batch stays open waiting for its next page: an open transaction holds SQLite's write lock,
 * which other writers of the file (another run, a reader's own writes) wait for.
 */
const BULK_BATCH_MAX_MS = 1_000;
const BULK_LOADS_TABLE_SQL =
  'CREATE TABLE IF NOT EXISTS _ashpipe_bulk_loads (stream TEXT PRIMARY KEY, pass_id TEXT NOT NULL, started_at TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 0)';

/**
 * Whether a key may not survive the JSON round trip of the page query (NUL, lone surrogates): such a
 * record is looked up on its own, so a stored row is never taken for a new one.
 */
function needsExactLookup(key: unknown): boolean {
  return typeof key === 'string' && (key.includes('\u0000') || /[\ud800-\udfff]/.test(key));
}

/** A stream's layout with the statements written from it, valid while the schema version is unchanged. */
interface PreparedLayout {
  layout: StreamLayout;
  /** Rows by key for single-key streams: one query per page. */
  findMany: SqliteStatement | undefined;
  find: SqliteStatement;
  touch: SqliteStatement;
  upsert: SqliteStatement;
  columnCount: number;
  /** Columns the sink writes: the keys, and in tables of earlier versions every data column. */
  written: ColumnDef[];
  /** Where each of `written` takes its value: a field of the record, or the `id` of a nested object's. */
  writtenFields: Array<{ type: ColumnDef['type']; field: string; reference: boolean }>;
  /**
   * Where the stream's custom field values were last recorded to be (`_ashpipe_custom_fields`: object type
   * and path, as JSON), or undefined. A stream whose shape says otherwise is recorded again: in a view
   * database the view is rebuilt, in a table database its values are rewritten from the stored records.
   */
  customFieldSource: string | undefined;
  /** Whether the table has `_ashpipe_parent_id`; the statements below exist only then. */
  hasParent: boolean;
  /** `touch` that also sets the parent (its first parameter). */
  touchParent: SqliteStatement | undefined;
  /** `upsert` with the parent as its last value. */
  upsertParent: SqliteStatement | undefined;
  /** `upsert`'s INSERT that leaves a stored row alone (DO NOTHING): a bulk load's first try. */
  insertNew: SqliteStatement;
  /** `insertNew` with the parent as its last value. */
  insertNewParent: SqliteStatement | undefined;
}

/** Options of the {@link SqliteSink}. */
export interface SqliteSinkOptions {
  /**
   * Most database pages the file may hold (`PRAGMA max_page_count`): a write beyond it fails as a full
   * disk would (`SQLITE_FULL`) and the page's transaction is rolled back.
   * @default SQLite's own limit
   * @example 2000
   */
  maxPageCount?: number;
  /**
   * Permissions of the database file and the directories created for it.
   * @default 'private' (0600 / 0700)
   * @example 'umask'
   */
  outputMode?: OutputMode;
}

/**
 * The SQLite sink (the default target): one file, WAL journal, `synchronous=NORMAL`, one immediate
 * transaction per page holding the rows and the stream's state, prepared statements cached per stream and
 * column set.
 */
export class SqliteSink implements Sink {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  private db: SqliteDatabase | undefined;
  private readonly statements = new Map<string, SqliteStatement>();
  /** Layouts read from `_ashpipe_columns` at `layoutsVersion` (the database's schema version). */
  private readonly prepared = new Map<string, PreparedLayout>();
  private layoutsVersion = -1;
  /** Writes `custom_field_values` (while open). */
  private customValues: SqliteCustomValues | undefined;
  private readonly locks = new LockKeeper();
  /** Passes whose start this sink registered (or found registered) in a committed transaction. */
  private readonly registered = new Set<string>();
  /** Rows each full pass (by pass key) wrote through this sink: a count that reaches BULK_LOAD_ROWS is checked. */
  private readonly passRows = new Map<string, number>();
  /** Streams whose bulk load this sink started: their pages are committed in batches. */
  private readonly bulkLoading = new Set<string>();
  /** The open batch of bulk load pages (see {@link BULK_BATCH_PAGES}), if any. */
  private batch: { pages: number; chars: number; timer: NodeJS.Timeout } | undefined;
  /** Record text the last page wrote (see {@link BULK_BATCH_CHARS}). */
  private pageChars = 0;
  /**
   * Why a batch committed by its timer failed: its pages are not stored although their writes returned,
   * so every later operation fails with it (the next run resumes from the state last committed).
   */
  private batchFailure: Error | undefined;

  constructor(
    private readonly file: string,
    private readonly logger?: Logger,
    private readonly options: SqliteSinkOptions = {},
  ) {
    this.location = `sqlite:${file}`;
  }

  async open(): Promise<void> {
    if (this.db) return;
    let db: SqliteDatabase | undefined;
    try {
      if (this.file !== ':memory:') createPrivately(this.file, this.options.outputMode ?? 'private');
      db = openSqlite(this.file);
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // Only a new, empty file takes a page size. A candidate's JSON is a few KiB (more with the written
      // typed columns of earlier versions): larger pages avoid overflow chains, about a tenth less CPU.
      if (db.pragma('page_count', { simple: true }) === 0) db.pragma(`page_size = ${PAGE_SIZE}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      // A full sync dirties the same index pages (random ids) in many transactions: checkpointing less
      // often copies each of them back fewer times (about a tenth less CPU; the WAL may reach ~32 MB).
      db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      db.pragma(`cache_size = -${CACHE_KIB}`);
      // Each page of a bulk load batch is a savepoint, whose journal of the pages it changes SQLite would
      // otherwise write to a temporary file (a third of a full sync's writes); it holds a few pages at most.
      db.pragma('temp_store = MEMORY');
      if (this.options.maxPageCount !== undefined) db.pragma(`max_page_count = ${this.options.maxPageCount}`);
      const ddl = bookkeepingDdl('sqlite');
      const opened = db;
      opened
        .transaction(() => {
          for (const sql of ddl) opened.exec(sql);
          opened.exec(BULK_LOADS_TABLE_SQL);
          // Databases of earlier versions recorded only the object type: their streams read `customFields`.
          const hasPath = opened
            .prepare("SELECT 1 FROM pragma_table_info('_ashpipe_custom_fields') WHERE name = 'path'")
            .get();
          if (!hasPath) {
            opened.exec(
              `ALTER TABLE _ashpipe_custom_fields ADD COLUMN path TEXT NOT NULL DEFAULT '${JSON.stringify(DEFAULT_CUSTOM_FIELDS_PATH)}'`,
            );
          }
          addSeenColumns(opened);
          upgradeCustomFieldValues(opened);
        })
        .immediate();
      this.db = db;
      this.customValues = new SqliteCustomValues(db);
    } catch (error) {
      db?.close();
      this.db = undefined;
      this.statements.clear();
      this.prepared.clear();
      this.customValues = undefined;
      throw new SinkError(
        this.location,
        `cannot open SQLite database ${this.location}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async getState(stream: string): Promise<StreamState | undefined> {
    this.settledDb();
    const row = this.prepare('SELECT state FROM _ashpipe_state WHERE stream = ?').get(stream) as
      | { state: string }
      | undefined;
    return row ? (JSON.parse(row.state) as StreamState) : undefined;
  }

  async lock(stream: string, label?: string): Promise<LockAttempt> {
    const db = this.settledDb();
    const mine = newLockRecord(label);
    const found = db
      .transaction((): LockRecord | undefined => {
        const row = this.prepare(
          'SELECT token, pid, host, since, heartbeat_at, label FROM _ashpipe_locks WHERE stream = ?',
        ).get(stream) as LockRow | undefined;
        const holder = row ? lockRecordOf(row) : undefined;
        if (holder && !holderIsGone(holder)) return holder;
        this.prepare(
          'INSERT INTO _ashpipe_locks (stream, token, pid, host, since, heartbeat_at, label) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (stream) DO UPDATE SET token = excluded.token, pid = excluded.pid, host = excluded.host, since = excluded.since, heartbeat_at = excluded.heartbeat_at, label = excluded.label',
        ).run(stream, mine.token, mine.pid, mine.host, mine.since, mine.heartbeatAt, mine.label ?? null);
        return undefined;
      })
      .immediate();
    if (found) {
      const { token: _token, ...holder } = found;
      return { acquired: false, holder };
    }
    const backend: LockBackend = {
      beat: async () =>
        this.db?.open === true &&
        // The heartbeat is the lock's proof of life for other runs: it must not wait in an open batch.
        this.commitBatch() &&
        this.prepare('UPDATE _ashpipe_locks SET heartbeat_at = ? WHERE stream = ? AND token = ?').run(
          new Date().toISOString(),
          stream,
          mine.token,
        ).changes === 1,
      release: async () => {
        if (this.db?.open) {
          this.commitBatch();
          this.prepare('DELETE FROM _ashpipe_locks WHERE stream = ? AND token = ?').run(stream, mine.token);
        }
      },
    };
    return { acquired: true, lock: this.locks.hold(stream, backend) };
  }

  async beginPass(stream: string, passId: string): Promise<void> {
    this.settledDb()
      .transaction(() => this.registerPass(stream, passId, this.tick(), new Date().toISOString()))
      .immediate();
    this.registered.add(passKey(stream, passId));
  }

  async saveState(stream: string, state: StreamState | undefined): Promise<void> {
    this.settledDb()
      .transaction(() => this.writeState(stream, state, new Date().toISOString()))
      .immediate();
  }

  async upsertPage(
    shape: StreamShape,
    records: readonly Record<string, unknown>[],
    state: StreamState,
    options: UpsertOptions = {},
  ): Promise<UpsertResult> {
    const db = this.requireDb();
    const parent = options.parent?.value;
    const storable = storableRecords(shape, records);
    // Only a full pass deletes, so only its start matters; a pass this sink registered is not asked again.
    const pass =
      state.passId !== undefined && state.passKind !== 'incremental'
        ? passKey(shape.name, state.passId)
        : undefined;
    const register = pass !== undefined && !this.registered.has(pass);
    const run = db.transaction(() => {
      this.pageChars = 0;
      const now = new Date().toISOString();
      const seq = this.tick();
      if (register && state.passId !== undefined) this.registerPass(shape.name, state.passId, seq, now);
      let page = dedupeByKey(shape, storable.records);
      const stored = this.cachedLayout(shape.name)?.layout;
      const extended = (stored ?? new StreamLayout(shape.name, shape.primaryKey, [])).extend(page);
      const { layout, added } = extended;
      this.applyColumns(layout, added, stored?.hasTable ?? false);
      const result = emptyUpsertResult(added.map((c) => c.column));
      result.notices = [...storable.notices, ...extended.notices];
      result.notStored = storable.notStored;
      if (layout.hasTable && page.some((r) => !keyFits(layout, r, 'sqlite'))) {
        const fitting = page.filter((r) => keyFits(layout, r, 'sqlite'));
        result.notStored += page.length - fitting.length;
        result.notices.push(KEY_TYPE_NOTICE);
        page = fitting;
      }
      // History mode (src/sinks/history.ts): nothing but this check when the stream keeps no history.
      const history = historyMayApply(state, options.keepState === true)
        ? historyTargetOf('sqlite', undefined, shape.name, layout)
        : undefined;
      if (history) runHistorySqlite(db, beforePage(history, state, options.keepState === true, now));
      if (page.length > 0) {
        let prepared = added.length > 0 ? this.cachedLayout(shape.name) : this.prepared.get(shape.name);
        if (prepared && parent !== undefined && !prepared.hasParent) {
          // The first page with a parent (or the first since an upgrade) adds the column and its index.
          db.exec(addParentColumnSql(prepared.layout, 'sqlite'));
          db.exec(parentIndexSql(prepared.layout));
          prepared = this.cachedLayout(shape.name);
        }
        if (
          prepared &&
          shape.customFieldsObjectType &&
          prepared.customFieldSource !==
            customFieldSourceKey(shape.customFieldsObjectType, customFieldsPathOf(shape))
        ) {
          this.recordCustomFieldSource(
            prepared.layout,
            shape.customFieldsObjectType,
            customFieldsPathOf(shape),
          );
          // Recording it changes no schema, so the cached entry would keep saying it is not recorded.
          this.prepared.delete(shape.name);
          prepared = this.cachedLayout(shape.name);
        }
        if (!prepared) throw new Error(`stream ${shape.name}: no layout after adding its columns`);
        // Outside a full pass (or with history on) the table takes its typed columns back first (a bulk
        // load left unfinished).
        if ((pass === undefined || state.history === true) && this.inBulkLoad(shape.name)) {
          this.endBulkLoad(prepared.layout);
          prepared = this.cachedLayout(shape.name);
          if (!prepared) throw new Error(`stream ${shape.name}: no layout after its bulk load`);
        }
        this.writeRecords(shape, prepared, page, { passId: state.passId ?? null, seq }, parent, now, result);
        // A stream that keeps history copies the typed columns into each version: no bulk load for it.
        if (pass !== undefined && state.passId !== undefined && state.history !== true) {
          const rows = (this.passRows.get(pass) ?? 0) + page.length;
          this.passRows.set(pass, rows);
          if (rows >= BULK_LOAD_ROWS && rows - page.length < BULK_LOAD_ROWS) {
            this.startBulkLoad(prepared.layout, state.passId);
          }
        }
      }
      if (history) {
        const ids = pageIds(shape.primaryKey, page);
        runHistorySqlite(db, afterWrite(history, ids, state, options.keepState === true, now));
      }
      if (!options.keepState) this.writeState(shape.name, state, now);
      return { result };
    });
    // A page of a bulk load joins the open batch (as a savepoint: a failing page undoes only itself), whichever
    // stream's it is; any other page commits the batch first and runs in its own transaction.
    const batched =
      pass !== undefined && !options.keepState && state.history !== true && this.bulkLoading.has(shape.name);
    if (this.batchFailure || (this.batch && !batched)) this.commitBatch();
    if (batched && !this.batch) {
      db.exec('BEGIN IMMEDIATE');
      const timer = setTimeout(() => {
        try {
          if (this.db?.open) this.commitBatch();
        } catch (error) {
          this.batchFailure = error as Error;
        }
      }, BULK_BATCH_MAX_MS);
      // A batch waiting for its next page must not keep a finished process alive.
      timer.unref();
      this.batch = { pages: 0, chars: 0, timer };
    }
    let outcome: { result: UpsertResult };
    try {
      outcome = run.immediate();
    } catch (error) {
      // The failed page is undone; the pages before it in the batch stay, with their states (unless
      // SQLite rolled the whole transaction back, as it does on a full disk: the state stored is then older).
      try {
        this.commitBatch();
      } catch {
        // The page's own error says more.
      }
      throw error;
    }
    const { result } = outcome;
    if (this.batch) {
      this.batch.pages++;
      this.batch.chars += this.pageChars;
      if (this.batch.pages >= BULK_BATCH_PAGES || this.batch.chars >= BULK_BATCH_CHARS) this.commitBatch();
    }
    if (register && pass !== undefined) this.registered.add(pass);
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
    const db = this.settledDb();
    this.registered.delete(passKey(shape.name, passId));
    return db
      .transaction(() => {
        const now = new Date().toISOString();
        let deleted = 0;
        const registered = this.prepare(
          'SELECT start_seq FROM _ashpipe_passes WHERE stream = ? AND pass_id = ?',
        ).get(shape.name, passId) as { start_seq: number } | undefined;
        // A pass nobody registered started no earlier than now, as far as this database can tell.
        const start = registered?.start_seq ?? this.tick();
        const layout = this.storedLayout(shape.name);
        this.passRows.delete(passKey(shape.name, passId));
        // Noted when this pass started on an empty table: every row is then this pass's or written after it
        // started, so none is unseen, and the scan of the whole table that looks for them is skipped.
        const startedEmpty =
          this.prepare('SELECT 1 FROM _ashpipe_bulk_loads WHERE stream = ? AND pass_id = ?').get(
            shape.name,
            passId,
          ) !== undefined;
        if (layout?.hasTable && this.inBulkLoad(shape.name)) this.endBulkLoad(layout);
        this.prepare('DELETE FROM _ashpipe_bulk_loads WHERE stream = ?').run(shape.name);
        this.bulkLoading.delete(shape.name);
        if (layout?.hasTable && !startedEmpty) {
          // Rows another pass saw after this one started stay: it may have read them after this pass went by.
          const sql = `UPDATE ${quoteIdent(layout.table)} SET "_ashpipe_deleted_at" = ? WHERE "_ashpipe_deleted_at" IS NULL AND ("_ashpipe_pass_id" IS NULL OR "_ashpipe_pass_id" <> ?) AND (${quoteIdent(SEEN_COLUMN)} IS NULL OR ${quoteIdent(SEEN_COLUMN)} < ?)`;
          const objectType = shape.customFieldsObjectType;
          if (objectType) {
            const gone = this.prepare(`${sql} RETURNING ${sqliteObjectIdSql(layout, '')} AS object_id`).all(
              now,
              passId,
              start,
            ) as Array<{ object_id: string }>;
            this.custom().remove(
              objectType,
              gone.map((r) => r.object_id),
            );
            deleted = gone.length;
          } else {
            deleted = this.prepare(sql).run(now, passId, start).changes;
          }
          const history = state.history
            ? historyTargetOf('sqlite', undefined, shape.name, layout)
            : undefined;
          if (history && deleted > 0) runHistorySqlite(db, afterFullPass(history, state, now));
        }
        // The finished pass, and passes abandoned long ago (a pass restarted after an expired cursor).
        this.prepare('DELETE FROM _ashpipe_passes WHERE stream = ? AND (pass_id = ? OR started_at < ?)').run(
          shape.name,
          passId,
          new Date(Date.parse(now) - ABANDONED_PASS_MS).toISOString(),
        );
        this.writeState(shape.name, state, now);
        return { deleted };
      })
      .immediate();
  }

  async markDeleted(
    shape: StreamShape,
    ids: readonly string[],
    options: MarkDeletedOptions = {},
  ): Promise<number> {
    const db = this.settledDb();
    return db
      .transaction(() => {
        const layout = this.storedLayout(shape.name);
        const key = layout?.keyColumns;
        if (!layout?.hasTable || key?.length !== 1 || !key[0]) return 0;
        const merged = options.mergedInto !== undefined;
        if (
          merged &&
          !db
            .prepare('SELECT 1 FROM pragma_table_xinfo(?) WHERE name = ?')
            .get(layout.table, MERGED_INTO_COLUMN)
        )
          db.exec(
            `ALTER TABLE ${quoteIdent(layout.table)} ADD COLUMN ${quoteIdent(MERGED_INTO_COLUMN)} TEXT`,
          );
        const seq = this.tick();
        const now = new Date().toISOString();
        const set = merged ? `, ${quoteIdent(MERGED_INTO_COLUMN)} = ?` : '';
        const update = this.prepare(
          `UPDATE ${quoteIdent(layout.table)} SET "_ashpipe_deleted_at" = ?, ${quoteIdent(SEEN_COLUMN)} = ?${set} WHERE ${quoteIdent(key[0].column)} = ? AND "_ashpipe_deleted_at" IS NULL RETURNING ${sqliteObjectIdSql(layout, '')} AS object_id`,
        );
        const gone: string[] = [];
        for (const id of ids) {
          const params = merged ? [now, seq, options.mergedInto, id] : [now, seq, id];
          for (const row of update.all(...params) as Array<{ object_id: string }>) gone.push(row.object_id);
        }
        // custom_field_values lists the values of live records.
        if (shape.customFieldsObjectType && gone.length > 0) {
          this.custom().remove(shape.customFieldsObjectType, gone);
        }
        const history =
          gone.length > 0 ? historyTargetOf('sqlite', undefined, shape.name, layout) : undefined;
        if (history) runHistorySqlite(db, afterWrite(history, [...ids], undefined, true, now));
        return gone.length;
      })
      .immediate();
  }

  async readStored(shape: StreamShape, ids: readonly string[]): Promise<Map<string, StoredRecord>> {
    this.settledDb();
    const out = new Map<string, StoredRecord>();
    const layout = this.storedLayout(shape.name);
    const key = layout?.keyColumns;
    if (!layout?.hasTable || key?.length !== 1 || !key[0] || ids.length === 0) return out;
    const rows = this.prepare(
      `SELECT ${quoteIdent(key[0].column)} AS id, "_ashpipe_raw" AS raw, "_ashpipe_deleted_at" AS deleted FROM ${quoteIdent(layout.table)} WHERE ${quoteIdent(key[0].column)} IN (SELECT value FROM json_each(?))`,
    ).all(JSON.stringify(ids)) as Array<{ id: string; raw: string; deleted: string | null }>;
    for (const row of rows) {
      out.set(String(row.id), {
        record: JSON.parse(row.raw) as Record<string, unknown>,
        deleted: row.deleted !== null,
      });
    }
    return out;
  }

  async readRows(stream: string, options: ReadRowsOptions = {}): Promise<Array<Record<string, unknown>>> {
    this.settledDb();
    if (stream === CUSTOM_FIELD_VALUES_TABLE) {
      const rows = this.prepare(
        `SELECT object_type, object_id, field_id, title, value, value_json FROM ${CUSTOM_FIELD_VALUES_TABLE} ORDER BY object_type, object_id, field_id LIMIT ? OFFSET ?`,
      ).all(options.limit ?? -1, options.offset ?? 0) as Array<Record<string, unknown>>;
      return rows.map(({ value_json, ...row }) => ({
        ...row,
        value: typeof value_json === 'string' ? (JSON.parse(value_json) as unknown) : row.value,
      }));
    }
    const layout = this.storedLayout(stream);
    if (!layout?.hasTable) return [];
    const where = options.includeDeleted === false ? ' WHERE "_ashpipe_deleted_at" IS NULL' : '';
    const order = layout.keyColumns.map((c) => quoteIdent(c.column)).join(', ');
    const sql = `SELECT * FROM ${quoteIdent(layout.table)}${where} ORDER BY ${order} LIMIT ? OFFSET ?`;
    const rows = this.prepare(sql).all(options.limit ?? -1, options.offset ?? 0) as Array<
      Record<string, unknown>
    >;
    const decode = rowDecoder(layout);
    return rows.map((row) => {
      const { [SEEN_COLUMN]: _seen, ...rest } = row;
      return decode(rest);
    });
  }

  async countRows(stream: string): Promise<RowCount> {
    this.settledDb();
    if (stream === CUSTOM_FIELD_VALUES_TABLE) {
      const row = this.prepare(`SELECT count(*) AS n FROM ${CUSTOM_FIELD_VALUES_TABLE}`).get() as {
        n: number;
      };
      return { live: row.n, deleted: 0 };
    }
    const layout = this.storedLayout(stream);
    if (!layout?.hasTable) return { live: 0, deleted: 0 };
    const row = this.prepare(
      `SELECT count(*) AS n, count("_ashpipe_deleted_at") AS deleted FROM ${quoteIdent(layout.table)}`,
    ).get() as { n: number; deleted: number };
    return { live: row.n - row.deleted, deleted: row.deleted };
  }

  async listTables(): Promise<string[]> {
    this.settledDb();
    const streams = (
      this.prepare('SELECT DISTINCT stream FROM _ashpipe_columns').all() as Array<{ stream: string }>
    ).map((r) => r.stream);
    const tables = streams.filter((stream) => this.storedLayout(stream)?.hasTable);
    const custom = this.prepare('SELECT 1 FROM _ashpipe_custom_fields LIMIT 1').get();
    if (custom) tables.push(CUSTOM_FIELD_VALUES_TABLE);
    return tables.sort();
  }

  async close(): Promise<void> {
    let failure: unknown;
    try {
      if (this.db?.open) this.commitBatch();
    } catch (error) {
      failure = error;
      if (this.batch) clearTimeout(this.batch.timer);
      if (this.db?.inTransaction) this.db.exec('ROLLBACK');
    }
    this.batch = undefined;
    this.batchFailure = undefined;
    await this.locks.releaseAll();
    this.statements.clear();
    this.prepared.clear();
    this.customValues = undefined;
    this.passRows.clear();
    this.bulkLoading.clear();
    this.layoutsVersion = -1;
    if (this.db?.open) this.db.close();
    this.db = undefined;
    if (failure !== undefined) throw failure;
  }

  /**
   * The stream's column map as the database has it. Read inside each page's transaction (a few rows, a
   * cached statement) so a second sink on the same file adding columns can never leave this one stale.
   */
  private storedLayout(stream: string): StreamLayout | undefined {
    const rows = this.prepare(
      'SELECT stream, field, column_name, type, position, key_position FROM _ashpipe_columns WHERE stream = ?',
    ).all(stream) as ColumnMapRow[];
    return layoutsFromRows(rows).get(stream);
  }

  /**
   * The stream's stored layout and its statements, re-read only when the schema version moved (any
   * connection adding a column or a table moves it), so a second sink on the same file is still seen.
   */
  private cachedLayout(stream: string): PreparedLayout | undefined {
    const version = Number(this.requireDb().pragma('schema_version', { simple: true }));
    if (version !== this.layoutsVersion) {
      this.prepared.clear();
      this.layoutsVersion = version;
    }
    let entry = this.prepared.get(stream);
    if (entry) return entry;
    const layout = this.storedLayout(stream);
    if (!layout?.hasTable) return undefined;
    entry = this.prepareLayout(layout);
    this.prepared.set(stream, entry);
    return entry;
  }

  private prepareLayout(layout: StreamLayout): PreparedLayout {
    const table = quoteIdent(layout.table);
    const keys = layout.keyColumns;
    const keyMatch = keys.map((c) => `${quoteIdent(c.column)} = ?`).join(' AND ');
    const first = keys[0];
    const findMany =
      keys.length === 1 && first
        ? this.prepare(
            `SELECT ${quoteIdent(first.column)} AS k, "_ashpipe_raw" AS raw, "_ashpipe_deleted_at" AS deleted_at FROM ${table} WHERE ${quoteIdent(first.column)} IN (SELECT value FROM json_each(?))`,
          )
        : undefined;
    const info = this.prepare('SELECT name, hidden FROM pragma_table_xinfo(?)').all(layout.table) as Array<{
      name: string;
      hidden: number;
    }>;
    const hidden = new Map(info.map((c) => [c.name, c.hidden]));
    // Generated columns (hidden 2) are computed by SQLite; only ordinary ones are written.
    const written = layout.columns.filter((c) => hidden.get(c.column) === 0);
    const columns = [...written.map((c) => c.column), ...META_COLUMNS];
    const keySet = new Set(keys.map((c) => c.column));
    const seen = quoteIdent(SEEN_COLUMN);
    const insertSql = (names: readonly string[]): string =>
      `INSERT INTO ${table} (${names.map(quoteIdent).join(', ')}) VALUES (${names.map(() => '?').join(', ')}) ON CONFLICT (${keys.map((c) => quoteIdent(c.column)).join(', ')})`;
    const upsertSql = (names: readonly string[]): string => {
      const updates = names
        .filter((c) => !keySet.has(c))
        .map((c) =>
          // Sightings only move forward, whichever of two overlapping passes writes last.
          c === SEEN_COLUMN
            ? `${seen} = max(coalesce(${seen}, 0), excluded.${seen})`
            : `${quoteIdent(c)} = excluded.${quoteIdent(c)}`,
        );
      return `${insertSql(names)} DO UPDATE SET ${updates.join(', ')}`;
    };
    const hasParent = hidden.has(PARENT_COLUMN);
    const source = this.prepare('SELECT object_type, path FROM _ashpipe_custom_fields WHERE stream = ?').get(
      layout.stream,
    ) as { object_type: string; path: string } | undefined;
    const customFieldSource = source
      ? customFieldSourceKey(source.object_type, parsePath(source.path))
      : undefined;
    return {
      layout,
      findMany,
      find: this.prepare(
        `SELECT "_ashpipe_raw" AS raw, "_ashpipe_deleted_at" AS deleted_at FROM ${table} WHERE ${keyMatch}`,
      ),
      touch: this.prepare(
        `UPDATE ${table} SET "_ashpipe_pass_id" = ?, "_ashpipe_synced_at" = ?, ${seen} = max(coalesce(${seen}, 0), ?) WHERE ${keyMatch}`,
      ),
      upsert: this.prepare(upsertSql(columns)),
      columnCount: columns.length,
      written,
      writtenFields: written.map((c) =>
        isReferenceField(c.field)
          ? { type: c.type, field: c.field.slice(REFERENCE_MARK.length), reference: true }
          : { type: c.type, field: c.field, reference: false },
      ),
      customFieldSource,
      hasParent,
      touchParent: hasParent
        ? this.prepare(
            `UPDATE ${table} SET ${quoteIdent(PARENT_COLUMN)} = ?, "_ashpipe_pass_id" = ?, "_ashpipe_synced_at" = ?, ${seen} = max(coalesce(${seen}, 0), ?) WHERE ${keyMatch}`,
          )
        : undefined,
      upsertParent: hasParent ? this.prepare(upsertSql([...columns, PARENT_COLUMN])) : undefined,
      insertNew: this.prepare(`${insertSql(columns)} DO NOTHING`),
      insertNewParent: hasParent
        ? this.prepare(`${insertSql([...columns, PARENT_COLUMN])} DO NOTHING`)
        : undefined,
    };
  }

  /** The database with no batch of bulk load pages open: what every operation but a bulk load page starts from. */
  private settledDb(): SqliteDatabase {
    this.commitBatch();
    return this.requireDb();
  }

  /**
   * Commits the open batch of bulk load pages, if any (each page's rows and state are already in it).
   * Returns true, for use in conditions.
   */
  private commitBatch(): true {
    if (this.batchFailure) {
      throw new SinkError(
        this.location,
        `${this.location}: a batch of bulk load pages was not stored: ${this.batchFailure.message}`,
        { cause: this.batchFailure },
      );
    }
    const batch = this.batch;
    if (!batch) return true;
    this.batch = undefined;
    clearTimeout(batch.timer);
    const db = this.requireDb();
    try {
      if (db.inTransaction) db.exec('COMMIT');
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw error;
    }
    return true;
  }

  private requireDb(): SqliteDatabase {
    if (!this.db) throw new SinkError(this.location, `sink ${this.location} is not open`);
    return this.db;
  }

  private prepare(sql: string): SqliteStatement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.requireDb().prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Creates the table or adds columns, and records them in `_ashpipe_columns` (inside the page's transaction). */
  private applyColumns(
    layout: StreamLayout,
    added: ReturnType<StreamLayout['extend']>['added'],
    existed: boolean,
  ): void {
    if (added.length === 0) return;
    const db = this.requireDb();
    if (!existed) db.exec(createTableSql(layout, 'sqlite'));
    const keyFields = new Set(layout.primaryKey);
    // Data columns are computed from `_ashpipe_raw` (VIRTUAL generated columns): each record is written
    // once. A table of an earlier version, with written data columns, keeps getting written ones.
    // Reference columns are written in either kind: SQLite computes a generated column on every INSERT
    // anyway, and an index built over one would parse every stored record's JSON.
    const generated = !existed || !this.hasWrittenDataColumns(layout);
    // During a bulk load typed columns are only recorded: the load's end adds them with the others.
    const deferred = existed && generated && this.inBulkLoad(layout.stream);
    const record = this.prepare(
      'INSERT INTO _ashpipe_columns (stream, field, column_name, type, position, key_position) VALUES (?, ?, ?, ?, ?, ?)',
    );
    for (const column of added) {
      if (keyFields.has(column.field)) {
        if (existed) db.exec(addColumnSql(layout, column, 'sqlite'));
      } else if (isReferenceField(column.field)) {
        db.exec(addColumnSql(layout, column, 'sqlite'));
        // The rows stored before get their ids too.
        if (existed) db.exec(referenceBackfillSql(layout, column, 'sqlite'));
        // A bulk load builds its indexes when it ends, in one sort each.
        if (!deferred && isIndexedReference(column.field)) db.exec(referenceIndexSql(layout, column));
      } else if (deferred) {
        // Only the column map changes, which moves no schema version: the cached layout is dropped here.
        this.prepared.delete(layout.stream);
      } else {
        db.exec(generated ? addGeneratedColumnSql(layout, column) : addColumnSql(layout, column, 'sqlite'));
      }
      record.run(
        layout.stream,
        column.field,
        column.column,
        column.type,
        column.position,
        keyPosition(layout, column),
      );
    }
  }

  /**
   * Whether the table has an ordinary (written) column for a field that is neither part of the key nor a
   * reference (those are written in every kind of table).
   */
  private hasWrittenDataColumns(layout: StreamLayout): boolean {
    const keys = new Set(layout.keyColumns.map((c) => c.column));
    for (const c of layout.columns) if (isReferenceField(c.field)) keys.add(c.column);
    const columns = this.prepare('SELECT name, hidden FROM pragma_table_xinfo(?)').all(
      layout.table,
    ) as Array<{
      name: string;
      hidden: number;
    }>;
    return columns.some((c) => c.hidden === 0 && !keys.has(c.name) && !c.name.startsWith('_ashpipe_'));
  }

  /**
   * Records where a stream's custom field values are; when that is new or changed (a database of an earlier
   * version), the stream's rows of `custom_field_values` are rebuilt from the stored records, so that
   * records stored before and unchanged since still get their values.
   */
  private recordCustomFieldSource(layout: StreamLayout, objectType: string, path: readonly string[]): void {
    this.prepare(
      'INSERT INTO _ashpipe_custom_fields (stream, object_type, path) VALUES (?, ?, ?) ON CONFLICT (stream) DO UPDATE SET object_type = excluded.object_type, path = excluded.path',
    ).run(layout.stream, objectType, JSON.stringify(path));
    if (!layout.hasTable) return;
    this.custom().refill(objectType, customFieldValuesSelectSql({ layout, objectType, path }));
  }

  /** Whether the stream's table is in a bulk load (its typed columns dropped until its full pass ends). */
  private inBulkLoad(stream: string): boolean {
    return (
      this.prepare('SELECT 1 FROM _ashpipe_bulk_loads WHERE stream = ? AND active = 1').get(stream) !==
      undefined
    );
  }

  /**
   * Notes a full pass that starts on an empty (or not yet created) table: only such a pass may become a bulk
   * load, so that readers of a table that had rows never lose a column. A bulk load left unfinished by an
   * earlier pass stays in progress (its columns are still missing) and the new pass finishes it.
   */
  private noteFullPassStart(stream: string, passId: string, now: string): void {
    const layout = this.storedLayout(stream);
    const empty =
      !layout?.hasTable ||
      this.requireDb()
        .prepare(`SELECT 1 FROM ${quoteIdent(layout.table)} LIMIT 1`)
        .get() === undefined;
    if (empty) {
      this.prepare(
        'INSERT INTO _ashpipe_bulk_loads (stream, pass_id, started_at, active) VALUES (?, ?, ?, 0) ON CONFLICT (stream) DO UPDATE SET pass_id = excluded.pass_id, started_at = excluded.started_at WHERE active = 0',
      ).run(stream, passId, now);
    } else {
      this.prepare('DELETE FROM _ashpipe_bulk_loads WHERE stream = ? AND active = 0').run(stream);
    }
  }

  /**
   * Makes the rest of a full pass a bulk load (see {@link BULK_LOAD_ROWS}) when the pass started on an empty
   * table and its typed columns are generated ones: those columns, reference columns apart (they are
   * indexed), are dropped, which rewrites no row. Inside the page's transaction.
   */
  private startBulkLoad(layout: StreamLayout, passId: string): void {
    const noted = this.prepare('SELECT active FROM _ashpipe_bulk_loads WHERE stream = ? AND pass_id = ?').get(
      layout.stream,
      passId,
    ) as { active: number } | undefined;
    if (noted?.active !== 0 || this.hasWrittenDataColumns(layout) || this.hasDependents(layout.table)) return;
    const table = quoteIdent(layout.table);
    const generated = this.prepare('SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 2').all(
      layout.table,
    ) as Array<{ name: string }>;
    const references = new Set(layout.columns.filter((c) => isReferenceField(c.field)).map((c) => c.column));
    const db = this.requireDb();
    for (const { name } of generated) {
      if (!references.has(name)) db.exec(`ALTER TABLE ${table} DROP COLUMN ${quoteIdent(name)}`);
    }
    // Indexes of written columns are built again when the load ends: one sort costs less than keeping
    // them up to date row by row (random ids dirty most index pages in every transaction).
    const generatedNames = new Set(generated.map((c) => c.name));
    for (const column of layout.columns) {
      if (isReferenceField(column.field) && !generatedNames.has(column.column)) {
        db.exec(`DROP INDEX IF EXISTS ${quoteIdent(columnIndexName(layout.table, column.column))}`);
      }
    }
    db.exec(`DROP INDEX IF EXISTS ${quoteIdent(parentIndexName(layout))}`);
    const objectType = this.customObjectType(layout.stream);
    if (objectType) this.custom().dropObjectIndex(objectType);
    this.prepare('UPDATE _ashpipe_bulk_loads SET active = 1 WHERE stream = ?').run(layout.stream);
    this.bulkLoading.add(layout.stream);
    this.prepared.delete(layout.stream);
    this.logger?.info('bulk load: typed columns are added when the full pass finishes', {
      stream: layout.stream,
    });
  }

  /**
   * Whether a view or trigger names the table (analytics views, the user's own): SQLite refuses to drop a
   * column such a view reads, and its readers would fail until the load ends, so the pass is written as usual.
   * Matching the name anywhere in their SQL may find a dependent that is not one; that only costs the speed-up.
   */
  private hasDependents(table: string): boolean {
    return (
      this.prepare(
        "SELECT 1 FROM sqlite_schema WHERE type IN ('view', 'trigger') AND instr(lower(sql), lower(?)) > 0 LIMIT 1",
      ).get(table) !== undefined
    );
  }

  /** Ends a bulk load: every column of the stream's column map missing from its table is added back. */
  private endBulkLoad(layout: StreamLayout): void {
    const present = new Set(
      (
        this.prepare('SELECT name FROM pragma_table_xinfo(?)').all(layout.table) as Array<{ name: string }>
      ).map((c) => c.name),
    );
    const db = this.requireDb();
    for (const column of layout.columns) {
      if (!present.has(column.column)) db.exec(addGeneratedColumnSql(layout, column));
      if (isIndexedReference(column.field)) db.exec(referenceIndexSql(layout, column));
    }
    if (present.has(PARENT_COLUMN)) db.exec(parentIndexSql(layout));
    const objectType = this.customObjectType(layout.stream);
    if (objectType) this.custom().endBulkLoad(objectType);
    this.prepare('DELETE FROM _ashpipe_bulk_loads WHERE stream = ?').run(layout.stream);
    this.bulkLoading.delete(layout.stream);
    this.prepared.delete(layout.stream);
  }

  /** The object type of a stream's custom field values, as recorded in `_ashpipe_custom_fields`. */
  private customObjectType(stream: string): string | undefined {
    return (
      this.prepare('SELECT object_type FROM _ashpipe_custom_fields WHERE stream = ?').get(stream) as
        | { object_type: string }
        | undefined
    )?.object_type;
  }

  private custom(): SqliteCustomValues {
    if (!this.customValues) throw new SinkError(this.location, `sink ${this.location} is not open`);
    return this.customValues;
  }

  private writeRecords(
    shape: StreamShape,
    prepared: PreparedLayout,
    page: readonly Record<string, unknown>[],
    sighting: { passId: string | null; seq: number },
    parent: string | undefined,
    now: string,
    result: UpsertResult,
  ): void {
    const { layout, find, findMany, writtenFields } = prepared;
    const { passId, seq } = sighting;
    // Without a parent the stored one is left alone; with one, unchanged records take it too (last wins).
    const withParent = parent !== undefined && prepared.upsertParent && prepared.touchParent;
    const upsert = withParent ? (prepared.upsertParent as SqliteStatement) : prepared.upsert;
    const keys = layout.keyColumns;
    const objectType = shape.customFieldsObjectType;
    const customPath = customFieldsPathOf(shape);
    // Objects whose stored values are replaced, and the page's values: written after its records.
    const replaced: string[] = [];
    const customParams: unknown[] = [];

    // In a bulk load the table was empty when the pass started: a record is new unless the pass read it
    // before, so it is inserted at once and looked up only when its key is taken.
    const insertNew = this.bulkLoading.has(shape.name)
      ? withParent
        ? prepared.insertNewParent
        : prepared.insertNew
      : undefined;
    // Single-key streams read the stored rows of the whole page in one query instead of one per record.
    let existingByKey: Map<unknown, { raw: string; deleted_at: string | null }> | undefined;
    const firstKey = keys[0];
    if (findMany && firstKey && !insertNew) {
      const pageKeys: unknown[] = [];
      for (const record of page) pageKeys.push(keyColumnValue(shape.name, firstKey, record, 'sqlite'));
      existingByKey = new Map();
      const rows = findMany.all(JSON.stringify(pageKeys)) as Array<{
        k: unknown;
        raw: string;
        deleted_at: string | null;
      }>;
      for (const row of rows) existingByKey.set(row.k, row);
    }

    const values: unknown[] = new Array(prepared.columnCount + (withParent ? 1 : 0));
    const fill = (record: Record<string, unknown>, raw: string): void => {
      let i = 0;
      for (const c of writtenFields) {
        const value = record[c.field];
        values[i++] = encodeValue(c.type, c.reference ? referencedId(value) : value, 'sqlite');
      }
      values[i++] = raw;
      values[i++] = now;
      values[i++] = null;
      values[i++] = passId;
      values[i++] = seq;
      if (withParent) values[i] = parent;
    };
    for (const record of page) {
      const raw = JSON.stringify(record);
      if (insertNew) {
        fill(record, raw);
        if (insertNew.run(values).changes === 1) {
          result.inserted++;
          this.pageChars += raw.length;
          if (objectType) pushCustomValueParams(customParams, objectIdOf(shape, record), record, customPath);
          continue;
        }
      }
      const key = keys.map((c) => keyColumnValue(shape.name, c, record, 'sqlite'));
      const existing =
        existingByKey && !needsExactLookup(key[0])
          ? existingByKey.get(key[0])
          : (find.get(...key) as { raw: string; deleted_at: string | null } | undefined);
      if (existing && existing.deleted_at === null && existing.raw === raw) {
        if (withParent) prepared.touchParent?.run(parent, passId, now, seq, ...key);
        else prepared.touch.run(passId, now, seq, ...key);
        result.unchanged++;
        continue;
      }
      if (!existing) result.inserted++;
      else if (existing.deleted_at !== null) result.undeleted++;
      else result.updated++;
      if (!insertNew) fill(record, raw);
      upsert.run(values);
      this.pageChars += raw.length;
      if (objectType) {
        const objectId = objectIdOf(shape, record);
        // A new row has no values stored yet (they are written with it, in the same transaction).
        if (existing) replaced.push(objectId);
        pushCustomValueParams(customParams, objectId, record, customPath);
      }
    }
    if (objectType) {
      this.custom().writePage(objectType, replaced, customParams, this.bulkLoading.has(shape.name));
    }
  }

  /** The next value of the database's clock (inside the caller's transaction, so writers take turns). */
  private tick(): number {
    const row = this.prepare(
      'UPDATE _ashpipe_clock SET value = value + 1 WHERE id = 1 RETURNING value',
    ).get() as { value: number } | undefined;
    if (!row) throw new SinkError(this.location, `${this.location}: the _ashpipe_clock row is missing`);
    return row.value;
  }

  /** Records where a pass started on the clock, unless it already did (a resumed pass keeps its start). */
  private registerPass(stream: string, passId: string, seq: number, now: string): void {
    const { changes } = this.prepare(
      'INSERT INTO _ashpipe_passes (stream, pass_id, start_seq, started_at) VALUES (?, ?, ?, ?) ON CONFLICT (stream, pass_id) DO NOTHING',
    ).run(stream, passId, seq, now);
    // A pass registered before (a resumed one) was noted then.
    if (changes === 1) this.noteFullPassStart(stream, passId, now);
  }

  private writeState(stream: string, state: StreamState | undefined, now: string): void {
    if (state === undefined) {
      this.prepare('DELETE FROM _ashpipe_state WHERE stream = ?').run(stream);
      return;
    }
    this.prepare(
      'INSERT INTO _ashpipe_state (stream, state, updated_at) VALUES (?, ?, ?) ON CONFLICT (stream) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at',
    ).run(stream, JSON.stringify(state), now);
  }
}

/** A row of `_ashpipe_locks`. */
interface LockRow {
  token: string;
  pid: number;
  host: string;
  since: string;
  heartbeat_at: string;
  label: string | null;
}

function lockRecordOf(row: LockRow): LockRecord {
  return {
    token: row.token,
    pid: Number(row.pid),
    host: row.host,
    since: row.since,
    heartbeatAt: row.heartbeat_at,
    ...(row.label !== null ? { label: row.label } : {}),
  };
}

/** Adds {@link SEEN_COLUMN} to the stream tables of a database written by an earlier version. */
function addSeenColumns(db: SqliteDatabase): void {
  const rows = db
    .prepare('SELECT stream, field, column_name, type, position, key_position FROM _ashpipe_columns')
    .all() as ColumnMapRow[];
  for (const layout of layoutsFromRows(rows).values()) {
    if (!layout.hasTable) continue;
    const has = db
      .prepare('SELECT 1 FROM pragma_table_xinfo(?) WHERE name = ?')
      .get(layout.table, SEEN_COLUMN);
    if (!has) db.exec(addSeenColumnSql(layout.table, 'sqlite'));
  }
}

/**
 * Makes `custom_field_values` the view this version writes through (src/sinks/sqlite-custom-values.ts),
 * filled from the stored records when an earlier version kept it as a view over them or as JSON.
 */
function upgradeCustomFieldValues(db: SqliteDatabase): void {
  ensureSqliteCustomValues(db, () => {
    const layouts = layoutsFromRows(
      db
        .prepare('SELECT stream, field, column_name, type, position, key_position FROM _ashpipe_columns')
        .all() as ColumnMapRow[],
    );
    const sources = db
      .prepare('SELECT stream, object_type, path FROM _ashpipe_custom_fields')
      .all() as Array<{
      stream: string;
      object_type: string;
      path: string;
    }>;
    const selects: Array<{ objectType: string; select: string }> = [];
    for (const source of sources) {
      const layout = layouts.get(source.stream);
      if (!layout?.hasTable) continue;
      selects.push({
        objectType: source.object_type,
        select: customFieldValuesSelectSql({
          layout,
          objectType: source.object_type,
          path: parsePath(source.path),
        }),
      });
    }
    return selects;
  });
}

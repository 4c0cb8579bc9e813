import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../util/logger.js';
import {
  addColumnSql,
  bookkeepingDdl,
  type ColumnMapRow,
  createTableSql,
  encodeValue,
  keyColumnValue,
  keyPosition,
  layoutsFromRows,
  META_COLUMNS,
  quoteIdent,
  rowDecoder,
  StreamLayout,
} from './layout.js';
import { customFieldEntries, dedupeByKey, emptyUpsertResult, objectIdOf } from './records.js';
import {
  type ReadRowsOptions,
  type Sink,
  SinkError,
  type StreamShape,
  type StreamState,
  type UpsertResult,
} from './types.js';

/** How long a write waits for another connection's lock (e.g. a reader in another process). */
const BUSY_TIMEOUT_MS = 15_000;

/**
 * The SQLite sink (the default target): one file, WAL journal, `synchronous=NORMAL`, one immediate
 * transaction per page holding the rows and the stream's state, prepared statements cached per stream and
 * column set.
 */
export class SqliteSink implements Sink {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  private db: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly file: string,
    private readonly logger?: Logger,
  ) {
    this.location = `sqlite:${file}`;
  }

  async open(): Promise<void> {
    if (this.db) return;
    let db: Database.Database | undefined;
    try {
      if (this.file !== ':memory:') mkdirSync(path.dirname(path.resolve(this.file)), { recursive: true });
      db = new Database(this.file);
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      const ddl = bookkeepingDdl('sqlite');
      db.transaction(() => {
        for (const sql of ddl) db?.exec(sql);
      }).immediate();
      this.db = db;
    } catch (error) {
      db?.close();
      this.db = undefined;
      this.statements.clear();
      throw new SinkError(
        this.location,
        `cannot open SQLite database ${this.location}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  async getState(stream: string): Promise<StreamState | undefined> {
    const row = this.prepare('SELECT state FROM _ashpipe_state WHERE stream = ?').get(stream) as
      | { state: string }
      | undefined;
    return row ? (JSON.parse(row.state) as StreamState) : undefined;
  }

  async saveState(stream: string, state: StreamState | undefined): Promise<void> {
    this.requireDb()
      .transaction(() => this.writeState(stream, state, new Date().toISOString()))
      .immediate();
  }

  async upsertPage(
    shape: StreamShape,
    records: readonly Record<string, unknown>[],
    state: StreamState,
  ): Promise<UpsertResult> {
    const db = this.requireDb();
    const run = db.transaction(() => {
      const now = new Date().toISOString();
      const page = dedupeByKey(shape, records);
      const stored = this.storedLayout(shape.name);
      const { layout, added } = (stored ?? new StreamLayout(shape.name, shape.primaryKey, [])).extend(page);
      this.applyColumns(layout, added, stored?.hasTable ?? false);
      const result = emptyUpsertResult(added.map((c) => c.column));
      if (page.length > 0) this.writeRecords(shape, layout, page, state.passId ?? null, now, result);
      this.writeState(shape.name, state, now);
      return { result };
    });
    const { result } = run.immediate();
    if (result.newColumns.length > 0) {
      this.logger?.info('new columns', { stream: shape.name, columns: result.newColumns });
    }
    return result;
  }

  async finishFullPass(shape: StreamShape, passId: string, state: StreamState): Promise<{ deleted: number }> {
    const db = this.requireDb();
    return db
      .transaction(() => {
        const now = new Date().toISOString();
        let deleted = 0;
        const layout = this.storedLayout(shape.name);
        if (layout?.hasTable) {
          const sql = `UPDATE ${quoteIdent(layout.table)} SET "_ashpipe_deleted_at" = ? WHERE "_ashpipe_deleted_at" IS NULL AND ("_ashpipe_pass_id" IS NULL OR "_ashpipe_pass_id" <> ?)`;
          deleted = this.prepare(sql).run(now, passId).changes;
        }
        this.writeState(shape.name, state, now);
        return { deleted };
      })
      .immediate();
  }

  async readRows(stream: string, options: ReadRowsOptions = {}): Promise<Array<Record<string, unknown>>> {
    this.requireDb();
    const layout = this.storedLayout(stream);
    if (!layout?.hasTable) return [];
    const where = options.includeDeleted === false ? ' WHERE "_ashpipe_deleted_at" IS NULL' : '';
    const order = layout.keyColumns.map((c) => quoteIdent(c.column)).join(', ');
    const sql = `SELECT * FROM ${quoteIdent(layout.table)}${where} ORDER BY ${order} LIMIT ? OFFSET ?`;
    const rows = this.prepare(sql).all(options.limit ?? -1, options.offset ?? 0) as Array<
      Record<string, unknown>
    >;
    return rows.map(rowDecoder(layout));
  }

  async close(): Promise<void> {
    this.statements.clear();
    if (this.db?.open) this.db.close();
    this.db = undefined;
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

  private requireDb(): Database.Database {
    if (!this.db) throw new SinkError(this.location, `sink ${this.location} is not open`);
    return this.db;
  }

  private prepare(sql: string): Database.Statement {
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
    const record = this.prepare(
      'INSERT INTO _ashpipe_columns (stream, field, column_name, type, position, key_position) VALUES (?, ?, ?, ?, ?, ?)',
    );
    for (const column of added) {
      if (existed || !keyFields.has(column.field)) db.exec(addColumnSql(layout, column, 'sqlite'));
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

  private writeRecords(
    shape: StreamShape,
    layout: StreamLayout,
    page: readonly Record<string, unknown>[],
    passId: string | null,
    now: string,
    result: UpsertResult,
  ): void {
    const table = quoteIdent(layout.table);
    const keys = layout.keyColumns;
    const keyMatch = keys.map((c) => `${quoteIdent(c.column)} = ?`).join(' AND ');
    const find = this.prepare(
      `SELECT "_ashpipe_raw" AS raw, "_ashpipe_deleted_at" AS deleted_at FROM ${table} WHERE ${keyMatch}`,
    );
    const touch = this.prepare(
      `UPDATE ${table} SET "_ashpipe_pass_id" = ?, "_ashpipe_synced_at" = ? WHERE ${keyMatch}`,
    );
    const columns = [...layout.columns.map((c) => c.column), ...META_COLUMNS];
    const keySet = new Set(keys.map((c) => c.column));
    const updates = columns
      .filter((c) => !keySet.has(c))
      .map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`);
    const upsert = this.prepare(
      `INSERT INTO ${table} (${columns.map(quoteIdent).join(', ')}) VALUES (${columns.map(() => '?').join(', ')}) ON CONFLICT (${keys.map((c) => quoteIdent(c.column)).join(', ')}) DO UPDATE SET ${updates.join(', ')}`,
    );
    const clearCustom = this.prepare(
      'DELETE FROM custom_field_values WHERE object_type = ? AND object_id = ?',
    );
    const insertCustom = this.prepare(
      'INSERT INTO custom_field_values (object_type, object_id, field_id, title, value) VALUES (?, ?, ?, ?, ?)',
    );

    for (const record of page) {
      const key = keys.map((c) => keyColumnValue(shape.name, c, record, 'sqlite'));
      const raw = JSON.stringify(record);
      const existing = find.get(...key) as { raw: string; deleted_at: string | null } | undefined;
      if (existing && existing.deleted_at === null && existing.raw === raw) {
        touch.run(passId, now, ...key);
        result.unchanged++;
        continue;
      }
      if (!existing) result.inserted++;
      else if (existing.deleted_at !== null) result.undeleted++;
      else result.updated++;
      const values = layout.columns.map((c) => encodeValue(c.type, record[c.field], 'sqlite'));
      upsert.run(...values, raw, now, null, passId);
      if (shape.customFieldsObjectType) {
        const objectId = objectIdOf(shape, record);
        clearCustom.run(shape.customFieldsObjectType, objectId);
        for (const entry of customFieldEntries(record)) {
          insertCustom.run(
            shape.customFieldsObjectType,
            objectId,
            entry.fieldId,
            entry.title,
            JSON.stringify(entry.value),
          );
        }
      }
    }
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

import pg from 'pg';
import { UsageError } from '../cli/exit-codes.js';
import type { Logger } from '../util/logger.js';
import { redact, registerSecret } from '../util/redact.js';
import {
  addColumnSql,
  addParentColumnSql,
  bookkeepingDdl,
  type ColumnDef,
  type ColumnMapRow,
  createTableSql,
  encodeValue,
  KEY_TYPE_NOTICE,
  keyColumnValue,
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
  rowDecoder,
  StreamLayout,
  sqlType,
} from './layout.js';
import {
  customFieldEntries,
  customFieldsPathOf,
  dedupeByKey,
  emptyUpsertResult,
  objectIdOf,
  storableRecords,
} from './records.js';
import {
  type ReadRowsOptions,
  type Sink,
  SinkError,
  type StreamShape,
  type StreamState,
  type UpsertOptions,
  type UpsertResult,
} from './types.js';

/** PostgreSQL accepts at most 65535 bound parameters per statement; stay well below. */
const MAX_PARAMS = 30_000;
/** Connections per sink: streams sync concurrently, each page holds one connection for its transaction. */
const POOL_SIZE = 4;

const OID_INT8 = 20;
const OID_TIMESTAMP = 1114;
const OID_TIMESTAMPTZ = 1184;

/** Type parsers: bigint columns only ever hold safe integers; timestamps come back as ISO strings. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === OID_INT8) return (value: string) => Number(value);
    if (oid === OID_TIMESTAMPTZ || oid === OID_TIMESTAMP) {
      return (value: string) => new Date(oid === OID_TIMESTAMP ? `${value}Z` : value).toISOString();
    }
    return pg.types.getTypeParser(oid, format ?? 'text');
  }) as typeof pg.types.getTypeParser,
};

/**
 * JSON text PostgreSQL's jsonb accepts: it cannot hold U+0000 or lone surrogates (which JSON.stringify
 * writes as `\u0000` / `\udXXX` escapes), so those become U+FFFD. An escape preceded by an odd number of
 * backslashes is literal text and is left alone.
 */
export function jsonbSafe(json: string): string {
  if (!json.includes('\\u')) return json;
  return json.replace(/(?<!\\)((?:\\\\)*)\\u(?:0000|d[89a-f][0-9a-f]{2})/g, '$1\\ufffd');
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
    throw new UsageError('invalid PostgreSQL URL (expected postgres://USER@HOST:PORT/DB[?schema=NAME])');
  }
  if (url.password) registerSecret(decodeURIComponent(url.password));
  const schema = url.searchParams.get('schema') ?? 'public';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new UsageError(
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
 * The PostgreSQL sink: tables in one schema (`?schema=`, default `public`), a small connection pool, one
 * transaction per page with multi-row `INSERT … ON CONFLICT … DO UPDATE`. Nested values and `_ashpipe_raw`
 * are jsonb (so key order inside them is PostgreSQL's; the parsed value is the record as received), integers
 * bigint, other numbers double precision, timestamps text as Ashby sends them; bookkeeping times are
 * timestamptz.
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
    let outcome: {
      result: UpsertResult;
      layout: StreamLayout;
      parentAdded: boolean;
      customFieldSource: string | undefined;
    };
    try {
      outcome = await this.inTransaction(pool, async (client) => {
        const now = new Date().toISOString();
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
        if (page.length > 0) {
          await this.writeRecords(client, shape, layout, page, state.passId ?? null, parent, now, result);
        }
        await this.writeState(client, shape.name, state, now);
        return { result, layout, parentAdded, customFieldSource };
      });
    } catch (error) {
      // Another process may have changed the column map meanwhile: start afresh from the database.
      await this.loadLayouts(pool).catch(() => undefined);
      throw error;
    }
    const { result, layout, parentAdded, customFieldSource } = outcome;
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
    return this.inTransaction(this.requirePool(), async (client) => {
      const now = new Date().toISOString();
      let deleted = 0;
      const layout = await this.knownLayout(client, shape.name);
      if (layout?.hasTable) {
        const res = await client.query(
          `UPDATE ${this.t(layout.table)} SET "_ashpipe_deleted_at" = $1 WHERE "_ashpipe_deleted_at" IS NULL AND "_ashpipe_pass_id" IS DISTINCT FROM $2`,
          [now, passId],
        );
        deleted = res.rowCount ?? 0;
      }
      await this.writeState(client, shape.name, state, now);
      return { deleted };
    });
  }

  async readRows(stream: string, options: ReadRowsOptions = {}): Promise<Array<Record<string, unknown>>> {
    const pool = this.requirePool();
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

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end();
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
      // A connection that could not roll back is discarded rather than returned to the pool.
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
    if (!existed) await client.query(createTableSql(layout, 'postgres', this.schema));
    const keyFields = new Set(layout.primaryKey);
    for (const column of added) {
      if (existed || !keyFields.has(column.field)) {
        await client.query(addColumnSql(layout, column, 'postgres', this.schema));
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

  private async writeRecords(
    client: pg.PoolClient,
    shape: StreamShape,
    layout: StreamLayout,
    page: readonly Record<string, unknown>[],
    passId: string | null,
    parent: string | undefined,
    now: string,
    result: UpsertResult,
  ): Promise<void> {
    const table = this.t(layout.table);
    const keys = layout.keyColumns;
    const raws = page.map((record) => jsonbSafe(JSON.stringify(record)));
    const keyArrays = keys.map((c) =>
      page.map((record) => keyColumnValue(shape.name, c, record, 'postgres')),
    );

    // What is stored now, for the counts: jsonb equality ignores key order and number formatting.
    const unnest = keys.map((c, i) => `$${i + 1}::${sqlType(c.type, 'postgres')}[]`).join(', ');
    const pAliases = keys.map((_, i) => `k${i}`);
    const join = keys.map((c, i) => `t.${quoteIdent(c.column)} = p.k${i}`).join(' AND ');
    const { rows } = await client.query<{ i: number; same: boolean; deleted: boolean }>(
      `SELECT p.i::int AS i, t."_ashpipe_raw" = p.raw::jsonb AS same, t."_ashpipe_deleted_at" IS NOT NULL AS deleted
       FROM unnest(${unnest}, $${keys.length + 1}::text[]) WITH ORDINALITY AS p(${pAliases.join(', ')}, raw, i)
       JOIN ${table} t ON ${join}`,
      [...keyArrays, raws],
    );
    const existing = new Map(rows.map((r) => [r.i - 1, r]));
    const changed: number[] = [];
    page.forEach((_, index) => {
      const row = existing.get(index);
      if (!row) result.inserted++;
      else if (row.deleted) result.undeleted++;
      else if (row.same) {
        result.unchanged++;
        return;
      } else result.updated++;
      changed.push(index);
    });

    // Without a parent the stored one is left alone; with one, every row of the page takes it (last wins).
    const columns = [
      ...layout.columns.map((c) => c.column),
      ...META_COLUMNS,
      ...(parent === undefined ? [] : [PARENT_COLUMN]),
    ];
    const parentValue = parent === undefined ? undefined : encodeValue('text', parent, 'postgres');
    const keyNames = new Set(keys.map((c) => c.column));
    const updates = columns
      .filter((c) => !keyNames.has(c))
      .map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`)
      .join(', ');
    const keyFields = new Set(layout.primaryKey);
    const perRow = columns.length;
    const rowsPerStatement = Math.max(1, Math.floor(MAX_PARAMS / perRow));
    for (let start = 0; start < page.length; start += rowsPerStatement) {
      const params: unknown[] = [];
      const tuples: string[] = [];
      for (let index = start; index < Math.min(page.length, start + rowsPerStatement); index++) {
        const record = page[index] ?? {};
        const base = params.length;
        for (const c of layout.columns) {
          const value = keyFields.has(c.field)
            ? keyColumnValue(shape.name, c, record, 'postgres')
            : encodeValue(c.type, record[c.field], 'postgres');
          params.push(c.type === 'json' && typeof value === 'string' ? jsonbSafe(value) : value);
        }
        params.push(raws[index], now, null, passId);
        if (parent !== undefined) params.push(parentValue);
        tuples.push(`(${columns.map((_, i) => `$${base + i + 1}`).join(', ')})`);
      }
      await client.query(
        `INSERT INTO ${table} (${columns.map(quoteIdent).join(', ')}) VALUES ${tuples.join(', ')}
         ON CONFLICT (${keys.map((c) => quoteIdent(c.column)).join(', ')}) DO UPDATE SET ${updates}`,
        params,
      );
    }

    if (shape.customFieldsObjectType && changed.length > 0) {
      await this.writeCustomFields(
        client,
        shape,
        changed.map((i) => page[i] ?? {}),
      );
    }
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

  private async writeCustomFields(
    client: pg.PoolClient,
    shape: StreamShape,
    records: readonly Record<string, unknown>[],
  ): Promise<void> {
    const objectType = shape.customFieldsObjectType;
    const table = this.t('custom_field_values');
    const ids = records.map((r) => objectIdOf(shape, r));
    await client.query(`DELETE FROM ${table} WHERE object_type = $1 AND object_id = ANY($2::text[])`, [
      objectType,
      ids.map(pgText),
    ]);
    const values: unknown[][] = [];
    records.forEach((record, i) => {
      for (const entry of customFieldEntries(record, customFieldsPathOf(shape))) {
        // Ids and titles are Ashby's data: a NUL in one must not fail the page (PostgreSQL text cannot hold it).
        values.push([
          objectType,
          pgText(ids[i] ?? ''),
          pgText(entry.fieldId),
          entry.title === null ? null : pgText(entry.title),
          jsonbSafe(JSON.stringify(entry.value)),
        ]);
      }
    });
    const perStatement = Math.floor(MAX_PARAMS / 5);
    for (let start = 0; start < values.length; start += perStatement) {
      const chunk = values.slice(start, start + perStatement);
      const params = chunk.flat();
      const tuples = chunk.map((_, r) => `(${[1, 2, 3, 4, 5].map((i) => `$${r * 5 + i}`).join(', ')})`);
      await client.query(
        `INSERT INTO ${table} (object_type, object_id, field_id, title, value) VALUES ${tuples.join(', ')}`,
        params,
      );
    }
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

/**
 * Table layout and column typing for the SQL sinks, in one place: how a record field is named as a
 * column, which type a column gets, how a value is stored in it, and the DDL of both dialects.
 *
 * Rules (documented in the README's sink section):
 * - a field's column name is its snake_case form, sanitised to `[a-z0-9_]`; collisions (`ID` and `id`,
 *   `a.b` and `a_b`) get `_2`, `_3`, … in the order fields were first seen; the `_ashpipe_*` names are
 *   never given to a field. The map is persisted in `_ashpipe_columns`, so every later run agrees.
 * - a column is added when its field's first non-null value is seen, and its type is fixed by that value:
 *   string → text, safe integer → integer, other number → real, boolean → boolean, object or array → JSON.
 *   A string field named like a business time (see {@link temporalTypeOf}) is a timestamp or a date instead:
 *   timestamptz / date in PostgreSQL, ISO text in SQLite.
 *   A later value that does not fit is stored as NULL (the record keeps it in `_ashpipe_raw`). Integers fit
 *   a real column; nothing else is converted.
 * - no identifier from Ashby data reaches SQL unsanitised, and every identifier is quoted anyway.
 */

/** The type of a data column. */
export type ColumnType = 'text' | 'integer' | 'real' | 'boolean' | 'json' | 'timestamp' | 'date';
/** SQL dialects of the table sinks. */
export type Dialect = 'sqlite' | 'postgres';

/** One record field stored as a column. */
export interface ColumnDef {
  /** The record's field name, exactly as Ashby sends it. */
  field: string;
  /** The sanitised column name. */
  column: string;
  type: ColumnType;
  /** Order in which the column was added (0-based). */
  position: number;
}

/**
 * Bookkeeping column holding the sink's clock value of the page that last saw the row: a full pass
 * soft-deletes only rows last seen before it started, whatever pass saw them (see `_ashpipe_passes`).
 */
export const SEEN_COLUMN = '_ashpipe_seen_seq';
/** Bookkeeping columns every stream table has, in the order the sinks write them. */
export const META_COLUMNS = [
  '_ashpipe_raw',
  '_ashpipe_synced_at',
  '_ashpipe_deleted_at',
  '_ashpipe_pass_id',
  SEEN_COLUMN,
] as const;
/**
 * Bookkeeping column holding the parent id of a child stream's row (a note's candidate). Added to a table
 * with the first page that comes with a parent, and indexed; never part of {@link META_COLUMNS}.
 */
export const PARENT_COLUMN = '_ashpipe_parent_id';
/** Tables the sinks own besides the stream tables. */
export const RESERVED_TABLES = [
  '_ashpipe_state',
  '_ashpipe_columns',
  '_ashpipe_custom_fields',
  '_ashpipe_locks',
  '_ashpipe_passes',
  '_ashpipe_clock',
  'custom_field_values',
] as const;

/**
 * Typed columns a stream's table gets at most (keys included); later fields are kept in `_ashpipe_raw`
 * only. SQLite allows 2000 columns and PostgreSQL 1600, and a PostgreSQL row of many text columns hits
 * its 8 kB row limit well before that: records with hundreds of top-level fields would fail every page.
 */
export const MAX_TYPED_COLUMNS = 200;

/**
 * Marks the field of a reference column in the column map: `\u0001candidate` is the column holding
 * `record.candidate.id` (`candidate_id`), added beside the JSON column of a nested object that has a string
 * `id`, so joins need no JSON operators. A record's own field starting with it gets no column.
 */
export const REFERENCE_MARK = '\u0001';

/** Whether a column-map field is a reference column's (see {@link REFERENCE_MARK}). */
export function isReferenceField(field: string): boolean {
  return field.startsWith(REFERENCE_MARK);
}

/**
 * Nested objects that point to a record's parent: their reference columns are indexed, because "the
 * applications of this candidate" or "the interviews of this schedule" is how tables are navigated. References
 * to lookups (source, location, user, archive reason, file handle) get a column but no index: a join from
 * one scans the child table and probes the lookup's key, and each index costs a scan of the table when a
 * first sync ends.
 */
const PARENT_REFERENCES: ReadonlySet<string> = new Set([
  'candidate',
  'job',
  'application',
  'currentInterviewStage',
  'interviewStage',
  'interview',
  'interviewSchedule',
  'interviewPlan',
  'offer',
  'opening',
  'jobPosting',
  'project',
]);

/** Whether a column-map field is a reference column that gets an index (see PARENT_REFERENCES). */
export function isIndexedReference(field: string): boolean {
  return isReferenceField(field) && PARENT_REFERENCES.has(field.slice(REFERENCE_MARK.length));
}

/** The string `id` of a nested object (a reference to another record), if it is one. */
export function referencedId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const id = (value as Record<string, unknown>).id;
  return typeof id === 'string' ? id : undefined;
}

/** The value a column holds for `record`: its field, or the nested object's `id` for a reference column. */
export function fieldValue(record: Record<string, unknown>, field: string): unknown {
  return isReferenceField(field) ? referencedId(record[field.slice(1)]) : record[field];
}

/** The JSON path (as keys) a column reads from a record. */
export function fieldPath(field: string): string[] {
  return isReferenceField(field) ? [field.slice(1), 'id'] : [field];
}

/**
 * The name of an index of one column. PostgreSQL cuts names at 63 bytes, so a longer one is shortened with
 * a hash of the whole (two long names never collide into one).
 */
export function columnIndexName(table: string, column: string): string {
  const name = `${table}__${column}`;
  if (name.length <= 63) return name;
  let hash = 0;
  for (let i = 0; i < name.length; i++) hash = (Math.imul(hash, 31) + name.charCodeAt(i)) >>> 0;
  return `${name.slice(0, 54)}_${hash.toString(16).padStart(8, '0')}`;
}

/**
 * Fills a reference column of stored rows from their `_ashpipe_raw` (a table that had no such column).
 * PostgreSQL: run with `[fieldPath(column.field)]` as parameters.
 */
export function referenceBackfillSql(
  layout: StreamLayout,
  column: ColumnDef,
  dialect: Dialect,
  schema?: string,
): string {
  const col = quoteIdent(column.column);
  if (dialect === 'sqlite') {
    const path = `'${jsonPath(fieldPath(column.field))}'`;
    return `UPDATE ${qualified(layout.table, schema)} SET ${col} = CASE json_type("_ashpipe_raw", ${path}) WHEN 'text' THEN "_ashpipe_raw" ->> ${path} END WHERE ${col} IS NULL`;
  }
  // `$1` is the path as a text array (`fieldPath(column.field)`), so no field name is written into the SQL.
  return `UPDATE ${qualified(layout.table, schema)} SET ${col} = CASE jsonb_typeof("_ashpipe_raw" #> $1::text[]) WHEN 'string' THEN "_ashpipe_raw" #>> $1::text[] END WHERE ${col} IS NULL`;
}

/** DDL of the index of a parent reference column ({@link isIndexedReference}). */
export function referenceIndexSql(layout: StreamLayout, column: ColumnDef, schema?: string): string {
  return `CREATE INDEX IF NOT EXISTS ${quoteIdent(columnIndexName(layout.table, column.column))} ON ${qualified(layout.table, schema)} (${quoteIdent(column.column)})`;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function hasBadCodeUnits(text: string): boolean {
  LONE_SURROGATE.lastIndex = 0;
  return text.includes('\u0000') || LONE_SURROGATE.test(text);
}

/** Text PostgreSQL can store: NUL and lone surrogates become U+FFFD (as in `_ashpipe_raw`). */
export function pgText(text: string): string {
  return hasBadCodeUnits(text) ? text.replaceAll('\u0000', '\ufffd').replace(LONE_SURROGATE, '\ufffd') : text;
}

/** The notice of a page whose fields could not all become columns. */
export const CAPPED_NOTICE = `the table has its ${MAX_TYPED_COLUMNS} typed columns: later fields are kept only in _ashpipe_raw`;
export const UNNAMABLE_NOTICE =
  'fields whose names hold a NUL character or a lone surrogate are kept only in _ashpipe_raw';

/** Longest column name generated: PostgreSQL truncates identifiers at 63 bytes, and suffixes need room. */
const MAX_BASE_LENGTH = 48;

/** The snake_case, `[a-z0-9_]` form of a field name (without collision handling). */
export function sanitizeIdentifier(name: string): string {
  let s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (s === '') s = 'field';
  if (/^[0-9]/.test(s)) s = `f_${s}`;
  return s.slice(0, MAX_BASE_LENGTH).replace(/_+$/, '');
}

/** Quotes an identifier for either dialect. Names are sanitised already; the doubling is a second guard. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The table of a stream; stream names are ashpipe's own, so anything unusual is a programming error. */
export function tableNameFor(stream: string): string {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(stream) || (RESERVED_TABLES as readonly string[]).includes(stream)) {
    throw new Error(
      `invalid stream name ${JSON.stringify(stream)}: expected snake_case, not a reserved table`,
    );
  }
  return stream;
}

/**
 * An ISO 8601 date-time with a time zone, as Ashby sends them (`2024-05-01T09:30:00.000Z`). The calendar
 * day is checked apart ({@link isTimestamp}); a value without a zone is not taken, as PostgreSQL would
 * read it in the session's time zone.
 */
const TIMESTAMP =
  /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?(?:Z|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)$/;
/** An ISO 8601 calendar date (`2024-05-01`). */
const DATE = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;

/** Whether year-month-day (from {@link TIMESTAMP} or {@link DATE}) is a day of the calendar, year 1 or later. */
function isCalendarDay(match: RegExpExecArray): boolean {
  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (year < 1) return false;
  // Day 0 of the next month is the last day of this one (UTC, so no time zone moves it).
  const last = new Date(0);
  last.setUTCFullYear(year, month, 0);
  return day <= last.getUTCDate();
}

/** Whether a value is a timestamp a timestamptz column takes (see {@link TIMESTAMP}). */
export function isTimestamp(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = TIMESTAMP.exec(value);
  return match !== null && isCalendarDay(match);
}

/** Whether a value is a calendar date a date column takes. */
export function isDate(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = DATE.exec(value);
  return match !== null && isCalendarDay(match);
}

/**
 * The temporal type of a string field, from its name and (for `…Date`) its first value:
 * - `…At`, `…Time`, `…Timestamp` (`createdAt`, `archivedAt`, `startTime`) are timestamps: the spec marks
 *   few fields with a `format`, and Ashby names every business time this way;
 * - `…Date` (`startDate`, `targetHireDate`, `publishedDate`) is a date when its first value is one
 *   (`2024-05-01`), a timestamp when its first value is one (some date fields carry a whole time);
 * - anything else is text.
 */
export function temporalTypeOf(field: string, value: unknown): 'timestamp' | 'date' | undefined {
  if (/(?:[a-z0-9]At|Time|Timestamp|^time|^timestamp)$/.test(field)) return 'timestamp';
  if (/(?:[a-z0-9]Date|^date)$/.test(field)) {
    if (isDate(value)) return 'date';
    if (isTimestamp(value)) return 'timestamp';
  }
  return undefined;
}

/**
 * The column type a value asks for, or undefined for null/undefined (type not yet known). With the
 * field's name, a string may be a timestamp or a date ({@link temporalTypeOf}); keys never are.
 */
export function inferType(value: unknown, field?: string): ColumnType | undefined {
  switch (typeof value) {
    case 'string':
      return (field !== undefined ? temporalTypeOf(field, value) : undefined) ?? 'text';
    case 'boolean':
      return 'boolean';
    case 'number':
      return Number.isSafeInteger(value) ? 'integer' : 'real';
    case 'object':
      return value === null ? undefined : 'json';
    default:
      return undefined;
  }
}

/** Whether a value can be stored in a column of `type` (else it is stored as NULL). */
export function fits(type: ColumnType, value: unknown, dialect: Dialect): boolean {
  switch (type) {
    case 'text':
      // PostgreSQL text cannot hold NUL characters.
      return typeof value === 'string' && (dialect === 'sqlite' || !value.includes('\u0000'));
    // SQLite keeps business times as the ISO text Ashby sent; PostgreSQL takes what it can parse.
    case 'timestamp':
      return typeof value === 'string' && (dialect === 'sqlite' || isTimestamp(value));
    case 'date':
      return typeof value === 'string' && (dialect === 'sqlite' || isDate(value));
    case 'integer':
      return typeof value === 'number' && Number.isSafeInteger(value);
    case 'real':
      return typeof value === 'number' && Number.isFinite(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'json':
      return typeof value === 'object' && value !== null;
  }
}

/** The bound parameter for a value in a column: NULL when absent or not fitting. */
export function encodeValue(type: ColumnType, value: unknown, dialect: Dialect): unknown {
  if (value === null || value === undefined || !fits(type, value, dialect)) return null;
  if (type === 'json') return JSON.stringify(value);
  if (type === 'boolean' && dialect === 'sqlite') return value ? 1 : 0;
  return value;
}

/** A column value as read back, in JavaScript terms. */
export function decodeValue(type: ColumnType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (type === 'boolean') return value === true || value === 1 || value === '1' || value === 't';
  if (type === 'json' && typeof value === 'string') return JSON.parse(value);
  if (type === 'integer' && typeof value === 'string') return Number(value);
  if (type === 'integer' && typeof value === 'bigint') return Number(value);
  return value;
}

/** Decodes rows as read back: the values of data columns in JavaScript terms, bookkeeping columns as they are. */
export function rowDecoder(layout: StreamLayout): (row: Record<string, unknown>) => Record<string, unknown> {
  const types = new Map(layout.columns.map((c) => [c.column, c.type]));
  return (row) => {
    const out: Record<string, unknown> = {};
    for (const [column, value] of Object.entries(row)) {
      const type = types.get(column);
      out[column] = type ? decodeValue(type, value) : value;
    }
    return out;
  };
}

/** A record's value for a key column; throws when it does not fit (a key is never stored as NULL). */
export function keyColumnValue(
  stream: string,
  column: ColumnDef,
  record: Record<string, unknown>,
  dialect: Dialect,
): unknown {
  const given = record[column.field];
  // A text key PostgreSQL cannot hold as it is is stored as _ashpipe_raw has it.
  const value = dialect === 'postgres' && typeof given === 'string' ? pgText(given) : given;
  if (!fits(column.type, value, dialect))
    throw new Error(
      `a record of stream ${stream} has a ${column.field} that does not fit its ${column.type} key column`,
    );
  return value;
}

/** Notice of records left out because a key value does not fit its key column. */
export const KEY_TYPE_NOTICE =
  "records whose key does not fit the type of the table's key column are not stored";

/** Whether every key value of `record` fits its key column (else it cannot be stored). */
export function keyFits(layout: StreamLayout, record: Record<string, unknown>, dialect: Dialect): boolean {
  return layout.keyColumns.every((c) => {
    const value = record[c.field];
    return fits(c.type, dialect === 'postgres' && typeof value === 'string' ? pgText(value) : value, dialect);
  });
}

/** The SQL type name of a column type. */
export function sqlType(type: ColumnType, dialect: Dialect): string {
  if (dialect === 'sqlite') {
    // JSON is TEXT: a declared type "JSON" would get NUMERIC affinity.
    return {
      text: 'TEXT',
      integer: 'INTEGER',
      real: 'REAL',
      boolean: 'BOOLEAN',
      json: 'TEXT',
      timestamp: 'TEXT',
      date: 'TEXT',
    }[type];
  }
  return {
    text: 'text',
    integer: 'bigint',
    real: 'double precision',
    boolean: 'boolean',
    json: 'jsonb',
    timestamp: 'timestamptz',
    date: 'date',
  }[type];
}

/** The column map of one stream. Immutable: {@link StreamLayout.extend} returns a new layout. */
export class StreamLayout {
  readonly table: string;
  private readonly byField: ReadonlyMap<string, ColumnDef>;
  private readonly names: ReadonlySet<string>;

  constructor(
    readonly stream: string,
    readonly primaryKey: readonly string[],
    readonly columns: readonly ColumnDef[],
  ) {
    this.table = tableNameFor(stream);
    this.byField = new Map(columns.map((c) => [c.field, c]));
    this.names = new Set(columns.map((c) => c.column));
  }

  /** Whether the table exists yet (it is created with the first record, when the key types are known). */
  get hasTable(): boolean {
    return this.primaryKey.every((f) => this.byField.has(f));
  }

  column(field: string): ColumnDef | undefined {
    return this.byField.get(field);
  }

  /** Key columns, in key order. */
  get keyColumns(): ColumnDef[] {
    return this.primaryKey.map((f) => {
      const c = this.byField.get(f);
      if (!c) throw new Error(`stream ${this.stream}: key field ${f} has no column yet`);
      return c;
    });
  }

  /**
   * The layout after seeing `records`: key fields first, then every other top-level field with a
   * non-null value, in order of first appearance. Returns `this` when nothing is new.
   */
  extend(records: readonly Record<string, unknown>[]): {
    layout: StreamLayout;
    added: ColumnDef[];
    /** Notices about fields that got no column ({@link CAPPED_NOTICE}, {@link UNNAMABLE_NOTICE}). */
    notices: string[];
  } {
    const added: ColumnDef[] = [];
    const notices = new Set<string>();
    const taken = new Set(this.names);
    const known = new Set(this.byField.keys());
    // Fields whose reference is settled, by the record's own field name: a page looks them up without
    // building the marked name (a new string, hashed again) for each object of each record.
    const knownReferences = new Set<string>();
    for (const field of known)
      if (isReferenceField(field)) knownReferences.add(field.slice(REFERENCE_MARK.length));
    let position = this.columns.length;
    const add = (field: string, type: ColumnType, name = sanitizeIdentifier(field)): void => {
      const column = uniqueName(name, taken);
      taken.add(column);
      known.add(field);
      if (isReferenceField(field)) knownReferences.add(field.slice(REFERENCE_MARK.length));
      added.push({ field, column, type, position: position++ });
    };
    for (const record of records) {
      for (const field of this.primaryKey) {
        if (known.has(field)) continue;
        const type = inferType(record[field]);
        if (type === undefined || type === 'json') {
          throw new Error(`stream ${this.stream}: key field ${field} must be a string or number`);
        }
        add(field, type);
      }
      // Once a stream's columns are known, a page costs a look-up per field: no entry arrays, no strings built.
      const fields = Object.keys(record);
      for (const field of fields) {
        if (known.has(field)) continue;
        const value = record[field];
        const type = inferType(value, field);
        if (type === undefined) continue;
        if (hasBadCodeUnits(field) || isReferenceField(field)) notices.add(UNNAMABLE_NOTICE);
        else if (this.columns.length + added.length >= MAX_TYPED_COLUMNS) notices.add(CAPPED_NOTICE);
        else add(field, type);
      }
      // After the record's own fields, so that a field of its own named like one (`candidateId`) keeps the name.
      for (const field of fields) {
        const value = record[field];
        // Only an object can be a reference (see referencedId).
        if (typeof value !== 'object' || value === null) continue;
        if (knownReferences.has(field) || referencedId(value) === undefined || hasBadCodeUnits(field))
          continue;
        if (isReferenceField(field)) continue;
        const ref = `${REFERENCE_MARK}${field}`;
        const column = sanitizeIdentifier(`${field}_id`);
        // The name is the record's own field's (`candidate_id` beside `candidate`): no second copy.
        if (taken.has(column)) {
          known.add(ref);
          knownReferences.add(field);
          continue;
        }
        if (this.columns.length + added.length >= MAX_TYPED_COLUMNS) notices.add(CAPPED_NOTICE);
        else add(ref, 'text', column);
      }
    }
    if (added.length === 0) return { layout: this, added, notices: [...notices] };
    return {
      layout: new StreamLayout(this.stream, this.primaryKey, [...this.columns, ...added]),
      added,
      notices: [...notices],
    };
  }
}

function uniqueName(base: string, taken: ReadonlySet<string>): string {
  const isFree = (name: string): boolean =>
    !taken.has(name) && !name.startsWith('_ashpipe') && !(META_COLUMNS as readonly string[]).includes(name);
  if (isFree(base)) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base}_${n}`;
    if (isFree(candidate)) return candidate;
  }
}

/** DDL of the sink's own tables (state, column map, custom field values). */
export function bookkeepingDdl(dialect: Dialect, schema?: string): string[] {
  const t = (name: string): string => qualified(name, schema);
  if (dialect === 'sqlite') {
    return [
      `CREATE TABLE IF NOT EXISTS ${t('_ashpipe_state')} (stream TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL)`,
      `CREATE TABLE IF NOT EXISTS ${t('_ashpipe_columns')} (stream TEXT NOT NULL, field TEXT NOT NULL, column_name TEXT NOT NULL, type TEXT NOT NULL, position INTEGER NOT NULL, key_position INTEGER, PRIMARY KEY (stream, field))`,
      // custom_field_values: a view over narrow tables, see src/sinks/sqlite-custom-values.ts (the sink's open()).
      `CREATE TABLE IF NOT EXISTS ${t('_ashpipe_custom_fields')} (stream TEXT PRIMARY KEY, object_type TEXT NOT NULL, path TEXT NOT NULL DEFAULT '["customFields"]')`,
      // One writer per stream: the lock record of each stream being synced (see the sink's lock()).
      `CREATE TABLE IF NOT EXISTS ${t('_ashpipe_locks')} (stream TEXT PRIMARY KEY, token TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL, since TEXT NOT NULL, heartbeat_at TEXT NOT NULL, label TEXT)`,
      // The clock every page ticks, and where each pass in progress started on it.
      `CREATE TABLE IF NOT EXISTS ${t('_ashpipe_clock')} (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL)`,
      `INSERT OR IGNORE INTO ${t('_ashpipe_clock')} (id, value) VALUES (1, 0)`,
      `CREATE TABLE IF NOT EXISTS ${t('_ashpipe_passes')} (stream TEXT NOT NULL, pass_id TEXT NOT NULL, start_seq INTEGER NOT NULL, started_at TEXT NOT NULL, PRIMARY KEY (stream, pass_id))`,
    ];
  }
  return [
    `CREATE TABLE IF NOT EXISTS ${t('_ashpipe_state')} (stream text PRIMARY KEY, state jsonb NOT NULL, updated_at timestamptz NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${t('_ashpipe_columns')} (stream text NOT NULL, field text NOT NULL, column_name text NOT NULL, type text NOT NULL, position integer NOT NULL, key_position integer, PRIMARY KEY (stream, field))`,
    `CREATE TABLE IF NOT EXISTS ${t('custom_field_values')} (object_type text NOT NULL, object_id text NOT NULL, field_id text NOT NULL, title text, value jsonb, PRIMARY KEY (object_type, object_id, field_id))`,
    // The primary key answers "one object's values"; this one a group-by over titles.
    `CREATE INDEX IF NOT EXISTS "custom_field_values__title" ON ${t('custom_field_values')} (title)`,
    // Where each stream's custom field values were last read from (see postgresCustomFieldBackfillSql).
    `CREATE TABLE IF NOT EXISTS ${t('_ashpipe_custom_fields')} (stream text PRIMARY KEY, object_type text NOT NULL, path jsonb NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${t('_ashpipe_locks')} (stream text PRIMARY KEY, token text NOT NULL, pid integer NOT NULL, host text NOT NULL, since timestamptz NOT NULL, heartbeat_at timestamptz NOT NULL, label text)`,
    `CREATE SEQUENCE IF NOT EXISTS ${t('_ashpipe_clock')}`,
    `CREATE TABLE IF NOT EXISTS ${t('_ashpipe_passes')} (stream text NOT NULL, pass_id text NOT NULL, start_seq bigint NOT NULL, started_at timestamptz NOT NULL, PRIMARY KEY (stream, pass_id))`,
  ];
}

/** A possibly schema-qualified, quoted table name. */
export function qualified(table: string, schema?: string): string {
  return schema === undefined ? quoteIdent(table) : `${quoteIdent(schema)}.${quoteIdent(table)}`;
}

/** DDL creating a stream's table with its key columns and the bookkeeping columns. */
export function createTableSql(layout: StreamLayout, dialect: Dialect, schema?: string): string {
  const keys = layout.keyColumns;
  const time = dialect === 'sqlite' ? 'TEXT' : 'timestamptz';
  const raw = dialect === 'sqlite' ? 'TEXT' : 'jsonb';
  const text = dialect === 'sqlite' ? 'TEXT' : 'text';
  const defs = [
    ...keys.map((c) => `${quoteIdent(c.column)} ${sqlType(c.type, dialect)} NOT NULL`),
    `"_ashpipe_raw" ${raw} NOT NULL`,
    `"_ashpipe_synced_at" ${time} NOT NULL`,
    `"_ashpipe_deleted_at" ${time}`,
    `"_ashpipe_pass_id" ${text}`,
    `${quoteIdent(SEEN_COLUMN)} ${dialect === 'sqlite' ? 'INTEGER' : 'bigint'}`,
    `PRIMARY KEY (${keys.map((c) => quoteIdent(c.column)).join(', ')})`,
  ];
  return `CREATE TABLE IF NOT EXISTS ${qualified(layout.table, schema)} (${defs.join(', ')})`;
}

/** DDL adding a data column. */
export function addColumnSql(
  layout: StreamLayout,
  column: ColumnDef,
  dialect: Dialect,
  schema?: string,
): string {
  const ifNotExists = dialect === 'postgres' ? ' IF NOT EXISTS' : '';
  return `ALTER TABLE ${qualified(layout.table, schema)} ADD COLUMN${ifNotExists} ${quoteIdent(column.column)} ${sqlType(column.type, dialect)}`;
}

/** DDL adding {@link PARENT_COLUMN} (PostgreSQL: only when missing). */
export function addParentColumnSql(layout: StreamLayout, dialect: Dialect, schema?: string): string {
  const ifNotExists = dialect === 'postgres' ? ' IF NOT EXISTS' : '';
  return `ALTER TABLE ${qualified(layout.table, schema)} ADD COLUMN${ifNotExists} ${quoteIdent(PARENT_COLUMN)} ${sqlType('text', dialect)}`;
}

/** DDL adding {@link SEEN_COLUMN} to a table of an earlier version (PostgreSQL: only when missing). */
export function addSeenColumnSql(table: string, dialect: Dialect, schema?: string): string {
  const ifNotExists = dialect === 'postgres' ? ' IF NOT EXISTS' : '';
  return `ALTER TABLE ${qualified(table, schema)} ADD COLUMN${ifNotExists} ${quoteIdent(SEEN_COLUMN)} ${dialect === 'sqlite' ? 'INTEGER' : 'bigint'}`;
}

/** The name of the index on {@link PARENT_COLUMN}. */
export function parentIndexName(layout: StreamLayout): string {
  // Index names share the schema's namespace with tables, hence the table in the name. PostgreSQL cuts names
  // at 63 bytes, which only a table name beyond 44 characters would reach (ashpipe's longest has 32).
  return `${layout.table}__ashpipe_parent_id`;
}

/** DDL of the index on {@link PARENT_COLUMN}: "the notes of this candidate" is the usual query. */
export function parentIndexSql(layout: StreamLayout, schema?: string): string {
  return `CREATE INDEX IF NOT EXISTS ${quoteIdent(parentIndexName(layout))} ON ${qualified(layout.table, schema)} (${quoteIdent(PARENT_COLUMN)})`;
}

/**
 * A JSON path selecting the top-level field `field`, for SQLite's JSON functions. Every character but
 * `[A-Za-z0-9_]` is written as a `\uXXXX` escape, so the path holds nothing a SQL string literal or the
 * path syntax could read differently, whatever the field is called (quotes, dots, emoji, nothing at all).
 */
export function jsonFieldPath(field: string): string {
  return jsonPath([field]);
}

/** A JSON path through nested fields (`['latestVersion', 'customFields']`), escaped as {@link jsonFieldPath}. */
export function jsonPath(keys: readonly string[]): string {
  let path = '$';
  for (const key of keys) {
    let label = '';
    for (let i = 0; i < key.length; i++) {
      const ch = key[i] as string;
      label += /[A-Za-z0-9_]/.test(ch) ? ch : `\\u${key.charCodeAt(i).toString(16).padStart(4, '0')}`;
    }
    path += `."${label}"`;
  }
  return path;
}

/**
 * The expression a SQLite VIRTUAL generated column computes from `_ashpipe_raw`: the field's value when its
 * JSON type fits the column as {@link fits} has it, else NULL (what a written column would hold).
 */
export function generatedColumnExpression(column: ColumnDef): string {
  const path = `'${jsonPath(fieldPath(column.field))}'`;
  const raw = '"_ashpipe_raw"';
  const type = `json_type(${raw}, ${path})`;
  switch (column.type) {
    case 'text':
    case 'timestamp':
    case 'date':
      return `CASE ${type} WHEN 'text' THEN ${raw} ->> ${path} END`;
    case 'integer':
      // Integers beyond 2^53 are not safe in JavaScript, so a written column held NULL for them.
      return `CASE WHEN ${type} = 'integer' AND (${raw} ->> ${path}) BETWEEN -9007199254740991 AND 9007199254740991 THEN ${raw} ->> ${path} END`;
    case 'real':
      return `CASE ${type} WHEN 'real' THEN ${raw} ->> ${path} WHEN 'integer' THEN CAST(${raw} ->> ${path} AS REAL) END`;
    case 'boolean':
      return `CASE ${type} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END`;
    case 'json':
      return `CASE WHEN ${type} IN ('object', 'array') THEN ${raw} -> ${path} END`;
  }
}

/** DDL adding a data column to a SQLite table as a VIRTUAL generated column over `_ashpipe_raw`. */
export function addGeneratedColumnSql(layout: StreamLayout, column: ColumnDef): string {
  return `ALTER TABLE ${quoteIdent(layout.table)} ADD COLUMN ${quoteIdent(column.column)} ${sqlType(column.type, 'sqlite')} GENERATED ALWAYS AS (${generatedColumnExpression(column)}) VIRTUAL`;
}

/** Object types a `custom_field_values` fill may name (they are written into its SQL as literals). */
const OBJECT_TYPE = /^[A-Za-z_]{1,40}$/;

/** A stream whose records carry custom field values: its table, their object type and where they are. */
export interface CustomFieldSource {
  layout: StreamLayout;
  objectType: string;
  /** Keys leading from a record to its array of values. */
  path: readonly string[];
}

/** A custom field value as SQLite `custom_field_values` stores it (`value`, `value_json`). */
export function plainValue(value: unknown): [unknown, string | null] {
  if (value === null || value === undefined) return [null, null];
  if (typeof value === 'string') return [value, null];
  // better-sqlite3 binds every number as a REAL; a bigint is bound as an INTEGER.
  if (typeof value === 'number') return [Number.isSafeInteger(value) ? BigInt(value) : value, null];
  if (typeof value === 'boolean') return value ? [1n, 'true'] : [0n, 'false'];
  const json = JSON.stringify(value);
  return [json, json];
}

/**
 * SQLite: the `custom_field_values.object_id` of a row of `layout` (alias `t`, or none): the record's `id`, else the
 * JSON array of its key (as `objectIdOf` has it).
 */
export function sqliteObjectIdSql(layout: StreamLayout, alias: 't' | '' = 't'): string {
  // A RETURNING clause takes no qualified names.
  const q = alias === '' ? '' : `${alias}.`;
  const keys = layout.keyColumns.map((c) => `${q}${quoteIdent(c.column)}`).join(', ');
  const raw = `${q}"_ashpipe_raw"`;
  return `CASE json_type(${raw}, '$.id') WHEN 'text' THEN ${raw} ->> '$.id' WHEN 'integer' THEN CAST(${raw} ->> '$.id' AS TEXT) WHEN 'real' THEN CAST(${raw} ->> '$.id' AS TEXT) ELSE json_array(${keys}) END`;
}

/**
 * The SELECT of the custom field values of the live rows of one stream, in the columns of SQLite
 * `custom_field_values`: entries without an id skipped, the last of a repeated id winning, `title` NULL
 * unless a string, `value` and `value_json` as {@link plainValue} has them.
 */
export function customFieldValuesSelectSql({ layout, objectType, path }: CustomFieldSource): string {
  if (!OBJECT_TYPE.test(objectType)) throw new Error(`invalid custom field object type ${objectType}`);
  const raw = 't."_ashpipe_raw"';
  const at = `'${jsonPath(path)}'`;
  const type = "json_type(e.value, '$.value')";
  return `SELECT '${objectType}' AS object_type, ${sqliteObjectIdSql(layout)} AS object_id, e.value ->> '$.id' AS field_id,
  CASE json_type(e.value, '$.title') WHEN 'text' THEN e.value ->> '$.title' END AS title,
  CASE ${type} WHEN 'true' THEN 1 WHEN 'false' THEN 0 WHEN 'null' THEN NULL WHEN 'array' THEN e.value -> '$.value' WHEN 'object' THEN e.value -> '$.value' ELSE e.value ->> '$.value' END AS value,
  CASE WHEN ${type} IN ('true', 'false', 'array', 'object') THEN e.value -> '$.value' END AS value_json
FROM ${quoteIdent(layout.table)} AS t, json_each(${raw}, ${at}) AS e
WHERE t."_ashpipe_deleted_at" IS NULL AND json_type(${raw}, ${at}) = 'array'
  AND e.type = 'object' AND json_type(e.value, '$.id') = 'text' AND e.value ->> '$.id' <> ''
  AND NOT EXISTS (SELECT 1 FROM json_each(${raw}, ${at}) AS l
    WHERE l.key > e.key AND l.type = 'object' AND json_type(l.value, '$.id') = 'text' AND l.value ->> '$.id' = e.value ->> '$.id')`;
}

/**
 * PostgreSQL: rebuilds the `custom_field_values` rows of one stream from its stored records
 * (`_ashpipe_raw`), with the same rules as the per-record writes. Parameters: `$1` the object type, `$2`
 * the path as a text array. Run when a stream's custom field location is first recorded or changes, so that
 * records stored before (and unchanged since) get their values too.
 */
export function postgresCustomFieldBackfillSql(layout: StreamLayout, schema?: string): string[] {
  const table = qualified(layout.table, schema);
  const values = qualified('custom_field_values', schema);
  const keys = layout.keyColumns.map((c) => `t.${quoteIdent(c.column)}`).join(', ');
  return [
    `DELETE FROM ${values} WHERE object_type = $1::text`,
    `INSERT INTO ${values} (object_type, object_id, field_id, title, value)
SELECT DISTINCT ON (object_id, field_id) $1::text, object_id, field_id, title, value FROM (
  SELECT CASE WHEN jsonb_typeof(t."_ashpipe_raw" -> 'id') IN ('string', 'number') THEN t."_ashpipe_raw" ->> 'id' ELSE jsonb_build_array(${keys})::text END AS object_id,
    e.item ->> 'id' AS field_id,
    CASE jsonb_typeof(e.item -> 'title') WHEN 'string' THEN e.item ->> 'title' END AS title,
    coalesce(e.item -> 'value', 'null'::jsonb) AS value, e.n
  FROM ${table} AS t
  CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(t."_ashpipe_raw" #> $2::text[]) WHEN 'array' THEN t."_ashpipe_raw" #> $2::text[] ELSE '[]'::jsonb END) WITH ORDINALITY AS e(item, n)
  WHERE t."_ashpipe_deleted_at" IS NULL AND jsonb_typeof(e.item) = 'object'
    AND jsonb_typeof(e.item -> 'id') = 'string' AND e.item ->> 'id' <> ''
) AS v ORDER BY object_id, field_id, n DESC`,
  ];
}

/**
 * PostgreSQL: retypes a text column of an earlier version as timestamptz or date, with what
 * {@link isTimestamp} / {@link isDate} take; anything else becomes NULL (the record keeps it in
 * `_ashpipe_raw`), so no stored value can fail the conversion.
 */
export function temporalConversionSql(
  layout: StreamLayout,
  column: ColumnDef,
  type: 'timestamp' | 'date',
  schema?: string,
): string {
  const c = quoteIdent(column.column);
  const pattern = (type === 'timestamp' ? TIMESTAMP : DATE).source;
  // CASE, unlike AND, evaluates in order: make_date never sees a year 0 or a text that is not a date.
  const lastDay = `extract(day from make_date(substr(${c}, 1, 4)::int, substr(${c}, 6, 2)::int, 1) + interval '1 month - 1 day')`;
  const expression = `CASE WHEN NOT (${c} ~ '${pattern}') THEN NULL WHEN substr(${c}, 1, 4) = '0000' THEN NULL WHEN substr(${c}, 9, 2)::int > ${lastDay} THEN NULL ELSE ${c}::${sqlType(type, 'postgres')} END`;
  return `ALTER TABLE ${qualified(layout.table, schema)} ALTER COLUMN ${c} TYPE ${sqlType(type, 'postgres')} USING (${expression})`;
}

/** Parses a column type read back from `_ashpipe_columns`. */
export function parseColumnType(value: unknown): ColumnType {
  if (
    value === 'text' ||
    value === 'integer' ||
    value === 'real' ||
    value === 'boolean' ||
    value === 'json' ||
    value === 'timestamp' ||
    value === 'date'
  ) {
    return value;
  }
  throw new Error(`unknown column type ${String(value)} in _ashpipe_columns`);
}

/** A row of `_ashpipe_columns` as a driver returns it. */
export interface ColumnMapRow {
  stream: unknown;
  field: unknown;
  column_name: unknown;
  type: unknown;
  position: unknown;
  key_position: unknown;
}

/** Rebuilds every stream's layout from `_ashpipe_columns`. */
export function layoutsFromRows(rows: readonly ColumnMapRow[]): Map<string, StreamLayout> {
  const grouped = new Map<string, { keys: Array<[number, string]>; columns: ColumnDef[] }>();
  for (const row of rows) {
    const stream = String(row.stream);
    let entry = grouped.get(stream);
    if (!entry) {
      entry = { keys: [], columns: [] };
      grouped.set(stream, entry);
    }
    const field = String(row.field);
    entry.columns.push({
      field,
      column: String(row.column_name),
      type: parseColumnType(row.type),
      position: Number(row.position),
    });
    if (row.key_position !== null && row.key_position !== undefined) {
      entry.keys.push([Number(row.key_position), field]);
    }
  }
  const layouts = new Map<string, StreamLayout>();
  for (const [stream, { keys, columns }] of grouped) {
    columns.sort((a, b) => a.position - b.position);
    const primaryKey = keys.sort((a, b) => a[0] - b[0]).map(([, field]) => field);
    layouts.set(stream, new StreamLayout(stream, primaryKey, columns));
  }
  return layouts;
}

/** The `key_position` to persist for a column. */
export function keyPosition(layout: StreamLayout, column: ColumnDef): number | null {
  const index = layout.primaryKey.indexOf(column.field);
  return index < 0 ? null : index;
}

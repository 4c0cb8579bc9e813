/**
 * Checks the typed columns of a synced table against the records it was synced from, with the rules of
 * the README written out here by hand: a top-level field becomes a column named in snake case; the column
 * has the type of the field's values (text, integer, real, boolean, JSON for objects and arrays); a string
 * field named `…At`, `…Time` or `…Timestamp` is a timestamp, one named `…Date` a date when its value is a
 * calendar day and a timestamp when it is a date-time (timestamptz and date in PostgreSQL, the text as
 * received in SQLite); a value of another type is NULL in it. The cells are read with plain SQL, not through the sink.
 */

import pg from 'pg';
import { openSqlite } from '../../src/util/sqlite.js';

type Rec = Record<string, unknown>;
type ColumnKind = 'text' | 'integer' | 'real' | 'boolean' | 'json' | 'timestamp' | 'date';

/** `applicationIds` → `application_ids`: the names the sandbox's fields take (plain camelCase). */
export function snakeCase(field: string): string {
  return field.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

function kindOf(value: unknown, field = ''): ColumnKind | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') {
    if (/[a-z0-9](At|Time|Timestamp)$/.test(field)) return 'timestamp';
    if (/[a-z0-9]Date$/.test(field) && /^\d{4}-\d{2}-\d{2}$/.test(value)) return 'date';
    if (/[a-z0-9]Date$/.test(field) && /^\d{4}-\d{2}-\d{2}T/.test(value)) return 'timestamp';
    return 'text';
  }
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isSafeInteger(value) ? 'integer' : 'real';
  return 'json';
}

/** Rows and declared column types of a table, read with plain SQL. */
export interface TableContents {
  rows: Rec[];
  /** The sink's own record of each field's column and type (`_ashpipe_columns`). */
  columnTypes: Map<string, string>;
  /** Columns that lead some index of the table. */
  indexed: Set<string>;
}

function pgUrl(target: string): { url: string; schema: string } {
  const url = new URL(target);
  const schema = url.searchParams.get('schema') ?? 'public';
  url.searchParams.delete('schema');
  return { url: url.toString(), schema };
}

/** The live rows of `table` and its column types, from a SQLite or PostgreSQL target. */
export async function readTable(target: string, table: string): Promise<TableContents> {
  if (target.startsWith('sqlite:')) {
    const db = openSqlite(target.slice('sqlite:'.length), { readonly: true });
    try {
      const rows = db.prepare(`SELECT * FROM "${table}" WHERE "_ashpipe_deleted_at" IS NULL`).all() as Rec[];
      const types = db
        .prepare('SELECT column_name, type FROM _ashpipe_columns WHERE stream = ?')
        .all(table) as Array<{ column_name: string; type: string }>;
      const indexed = db
        .prepare(
          'SELECT i.name FROM pragma_index_list(?) AS l, pragma_index_info(l.name) AS i WHERE i.seqno = 0',
        )
        .all(table) as Array<{ name: string }>;
      return {
        rows,
        columnTypes: new Map(types.map((t) => [t.column_name, t.type])),
        indexed: new Set(indexed.map((r) => r.name)),
      };
    } finally {
      db.close();
    }
  }
  const { url, schema } = pgUrl(target);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const rows = await client.query(
      `SELECT * FROM "${schema}"."${table}" WHERE "_ashpipe_deleted_at" IS NULL`,
    );
    const types = await client.query(
      `SELECT column_name, type FROM "${schema}"._ashpipe_columns WHERE stream = $1`,
      [table],
    );
    const indexed = await client.query(
      `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
       WHERE i.indrelid = format('%I.%I', $1::text, $2::text)::regclass`,
      [schema, table],
    );
    return {
      rows: rows.rows as Rec[],
      indexed: new Set((indexed.rows as Array<{ name: string }>).map((r) => r.name)),
      columnTypes: new Map(
        (types.rows as Array<{ column_name: string; type: string }>).map((t) => [t.column_name, t.type]),
      ),
    };
  } finally {
    await client.end();
  }
}

/** The `custom_field_values` rows of a SQLite or PostgreSQL target, values parsed. */
export async function readCustomFieldValues(target: string): Promise<Rec[]> {
  if (target.startsWith('sqlite:')) {
    const db = openSqlite(target.slice('sqlite:'.length), { readonly: true });
    try {
      const rows = db
        .prepare('SELECT object_type, object_id, field_id, title, value, value_json FROM custom_field_values')
        .all() as Rec[];
      // Plain values; value_json tells booleans, lists and objects apart.
      return rows.map(({ value_json, ...r }) => ({
        ...r,
        value: typeof value_json === 'string' ? JSON.parse(value_json) : r.value,
      }));
    } finally {
      db.close();
    }
  }
  const { url, schema } = pgUrl(target);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query(
      `SELECT object_type, object_id, field_id, title, value FROM "${schema}".custom_field_values`,
    );
    return r.rows as Rec[];
  } finally {
    await client.end();
  }
}

/** A cell as the test compares it: numbers as numbers, booleans as booleans, JSON parsed. */
function cell(value: unknown, kind: ColumnKind, dialect: 'sqlite' | 'postgres'): unknown {
  if (value === null || value === undefined) return null;
  switch (kind) {
    case 'boolean':
      return dialect === 'sqlite' ? value === 1 : value;
    case 'integer':
      // node-postgres returns bigint as text.
      return Number(value);
    case 'json':
      return dialect === 'sqlite' ? JSON.parse(String(value)) : value;
    // node-postgres returns a timestamptz as a Date, and a date as a Date at local midnight.
    case 'timestamp':
      return value instanceof Date ? value.toISOString() : value;
    case 'date':
      return value instanceof Date
        ? `${value.getFullYear()}-${String(value.getMonth() + 1).padStart(2, '0')}-${String(value.getDate()).padStart(2, '0')}`
        : value;
    default:
      return value;
  }
}

/** What a column of `kind` holds for a record's value: the value when its type fits, else NULL. */
function expectedCell(
  value: unknown,
  field: string,
  kind: ColumnKind,
  dialect: 'sqlite' | 'postgres',
): unknown {
  const own = kindOf(value, field);
  if (own === undefined) return null;
  // SQLite keeps the text received; PostgreSQL the instant, read back in UTC.
  if (own === 'timestamp' && kind === 'timestamp' && dialect === 'postgres')
    return new Date(String(value)).toISOString();
  if (own === kind || (own === 'integer' && kind === 'real')) return value;
  // Any string fits a SQLite time column, as text.
  if (dialect === 'sqlite' && typeof value === 'string' && (kind === 'timestamp' || kind === 'date'))
    return value;
  return null;
}

/**
 * Differences between the typed columns of `contents` and the records (keyed by `id`): one message per
 * wrong cell, missing column or unexpected column type. Empty when they agree.
 */
export function typedColumnDifferences(
  stream: string,
  contents: TableContents,
  records: readonly Rec[],
  dialect: 'sqlite' | 'postgres',
): string[] {
  const problems: string[] = [];
  const kinds = new Map<string, Set<ColumnKind>>();
  for (const record of records) {
    for (const [field, value] of Object.entries(record)) {
      const kind = kindOf(value, field);
      if (!kind) continue;
      const set = kinds.get(field) ?? new Set<ColumnKind>();
      set.add(kind);
      kinds.set(field, set);
    }
  }
  const rowsById = new Map(contents.rows.map((r) => [String(r.id), r]));
  if (rowsById.size !== records.length)
    problems.push(`${stream}: ${rowsById.size} rows, ${records.length} records`);
  for (const [field, set] of kinds) {
    const column = snakeCase(field);
    const declared = contents.columnTypes.get(column) as ColumnKind | undefined;
    if (!declared) {
      problems.push(`${stream}.${column}: no column for field ${field}`);
      continue;
    }
    // One type: the column has it. Integers and reals: either, by the first value stored. Otherwise the
    // first value stored decides, and it must be one of the field's types.
    const only = set.size === 1 ? [...set][0] : undefined;
    const numeric = set.size === 2 && set.has('integer') && set.has('real');
    const expectedKinds = only ? [only] : numeric ? ['integer', 'real'] : [...set];
    if (!expectedKinds.includes(declared)) {
      problems.push(`${stream}.${column}: type ${declared}, values are ${[...set].join('/')}`);
      continue;
    }
    for (const record of records) {
      const row = rowsById.get(String(record.id));
      if (!row) continue;
      if (!(column in row)) {
        problems.push(`${stream}.${column}: not in the table`);
        break;
      }
      const want = expectedCell(record[field], field, declared, dialect);
      const got = cell(row[column], declared, dialect);
      if (JSON.stringify(sortKeys(got)) !== JSON.stringify(sortKeys(want))) {
        problems.push(
          `${stream}.${column} of ${String(record.id)}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`,
        );
      }
    }
  }
  return problems;
}

/** JSON with object keys sorted (PostgreSQL's jsonb reorders them). */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Rec)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, sortKeys(v)]),
  );
}

/**
 * Nested objects naming a record's parent, whose reference columns lead an index; every other reference
 * (source, location, user, archive reason, …) is a lookup and has none. Written out here, not taken from src.
 */
const PARENT_FIELDS = new Set([
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

/** The `id` of a nested object that has a string one (a reference to another record). */
function referencedId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const id = (value as Rec).id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Differences between the reference columns of `contents` and the records: a field holding an object
 * with a string `id` (`candidate: { id, … }`) has a text column `<field>_id` (`candidate_id`) holding that id
 * (NULL where the value is not such an object), leading an index when the object is the record's parent;
 * unless the record has a field of that
 * name itself (`candidateId`), whose column is then checked as any other. Returns the reference columns
 * found, too, so a test can say which it expected.
 */
export function referenceColumnDifferences(
  stream: string,
  contents: TableContents,
  records: readonly Rec[],
  dialect: 'sqlite' | 'postgres',
): { problems: string[]; columns: string[] } {
  const problems: string[] = [];
  const ownColumns = new Set(records.flatMap((r) => Object.keys(r).map(snakeCase)));
  const fields = new Set<string>();
  for (const record of records) {
    for (const [field, value] of Object.entries(record))
      if (referencedId(value) !== undefined) fields.add(field);
  }
  const columns: string[] = [];
  const rowsById = new Map(contents.rows.map((r) => [String(r.id), r]));
  for (const field of fields) {
    const column = `${snakeCase(field)}_id`;
    if (ownColumns.has(column)) continue;
    columns.push(column);
    if (contents.columnTypes.get(column) !== 'text') {
      problems.push(`${stream}.${column}: no text column for ${field}.id`);
      continue;
    }
    const indexed = contents.indexed.has(column);
    if (PARENT_FIELDS.has(field) && !indexed) problems.push(`${stream}.${column}: not indexed`);
    if (!PARENT_FIELDS.has(field) && indexed) problems.push(`${stream}.${column}: indexed, but a lookup`);
    for (const record of records) {
      const row = rowsById.get(String(record.id));
      if (!row) continue;
      const want = referencedId(record[field]) ?? null;
      const got = cell(row[column], 'text', dialect);
      if (got !== want) {
        problems.push(
          `${stream}.${column} of ${String(record.id)}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`,
        );
      }
    }
  }
  return { problems, columns: columns.sort() };
}

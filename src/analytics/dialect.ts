/**
 * The few SQL expressions SQLite and PostgreSQL spell differently, so that one view definition gives the
 * same columns and the same values on both. Views read `_ashpipe_raw` (the record as Ashby sent it), never
 * the typed columns, whose types a sink may choose differently per database.
 */

/** Which database a view is written for. */
export type DialectName = 'sqlite' | 'postgres';

/** SQL fragments of one dialect. Paths are Ashby field names, e.g. `['job', 'id']`. */
export interface Dialect {
  readonly name: DialectName;
  /** A table of the target, qualified by the schema on PostgreSQL. */
  table(name: string): string;
  /** The text of a field of a row's `_ashpipe_raw` (NULL when absent). */
  text(alias: string, path: readonly string[]): string;
  /** A numeric field of a row's `_ashpipe_raw`, as a double (NULL when absent). */
  number(alias: string, path: readonly string[]): string;
  /** Seconds since 1970 of an ISO-8601 text, with its milliseconds, as a double. */
  epoch(iso: string): string;
  /** Seconds since 1970 now, as a double. */
  now(): string;
  /** `expr` rounded to `digits` decimals, half away from zero, as a double. */
  round(expr: string, digits: number): string;
  /** `part / whole` rounded to 4 decimals; NULL when `whole` is 0. */
  ratio(part: string, whole: string): string;
  /** A count or other integer expression as a plain integer (PostgreSQL's `bigint` is text in `pg`). */
  int(expr: string): string;
  /** The integer part of a non-negative double. */
  floor(expr: string): string;
  /** The Monday (UTC) of the week of an ISO-8601 text, as `YYYY-MM-DD`. */
  weekStart(iso: string): string;
  /** Rows of a JSON array field of a row's `_ashpipe_raw`: a FROM item exposing `<as>.value` (JSON). */
  elements(alias: string, path: readonly string[], as: string): string;
  /** Rows of a JSON array held by an element (`elements`' value): a FROM item exposing `<as>.value`. */
  elementsOf(json: string, path: readonly string[], as: string): string;
  /** The text of a field of an element's JSON value. */
  elementText(json: string, path: readonly string[]): string;
}

/** A JSON path literal for SQLite's json_extract: `$.job.id`. */
function sqlitePath(path: readonly string[]): string {
  return `'$${path.map((p) => `.${p}`).join('')}'`;
}

/** A text[] literal for PostgreSQL's `#>>`: `'{job,id}'`. */
function pgPath(path: readonly string[]): string {
  return `'{${path.join(',')}}'`;
}

/** A double-quoted identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

const sqlite: Omit<Dialect, 'table'> = {
  name: 'sqlite',
  text: (alias, path) => `json_extract(${alias}."_ashpipe_raw", ${sqlitePath(path)})`,
  number: (alias, path) => `CAST(json_extract(${alias}."_ashpipe_raw", ${sqlitePath(path)}) AS REAL)`,
  epoch: (iso) => `unixepoch(${iso}, 'subsec')`,
  now: () => `unixepoch('now', 'subsec')`,
  round: (expr, digits) => `ROUND(${expr}, ${digits})`,
  ratio: (part, whole) => `ROUND(CAST(${part} AS REAL) / NULLIF(${whole}, 0), 4)`,
  int: (expr) => `CAST(${expr} AS INTEGER)`,
  floor: (expr) => `CAST(${expr} AS INTEGER)`,
  weekStart: (iso) => `date(${iso}, '-6 days', 'weekday 1')`,
  elements: (alias, path, as) => `json_each(${alias}."_ashpipe_raw", ${sqlitePath(path)}) AS ${as}`,
  elementsOf: (json, path, as) => `json_each(${json}, ${sqlitePath(path)}) AS ${as}`,
  elementText: (json, path) => `json_extract(${json}, ${sqlitePath(path)})`,
};

const postgres: Omit<Dialect, 'table'> = {
  name: 'postgres',
  text: (alias, path) => `(${alias}."_ashpipe_raw" #>> ${pgPath(path)})`,
  number: (alias, path) => `(${alias}."_ashpipe_raw" #>> ${pgPath(path)})::float8`,
  epoch: (iso) => `EXTRACT(EPOCH FROM (${iso})::timestamptz)::float8`,
  now: () => `EXTRACT(EPOCH FROM clock_timestamp())::float8`,
  round: (expr, digits) => `ROUND((${expr})::numeric, ${digits})::float8`,
  ratio: (part, whole) => `ROUND((${part})::numeric / NULLIF(${whole}, 0), 4)::float8`,
  int: (expr) => `(${expr})::int`,
  floor: (expr) => `floor(${expr})::int`,
  weekStart: (iso) => `to_char(date_trunc('week', (${iso})::timestamptz AT TIME ZONE 'UTC'), 'YYYY-MM-DD')`,
  elements: (alias, path, as) =>
    `jsonb_array_elements(CASE jsonb_typeof(${alias}."_ashpipe_raw" #> ${pgPath(path)}) WHEN 'array' THEN ${alias}."_ashpipe_raw" #> ${pgPath(path)} ELSE '[]'::jsonb END) AS ${as}(value)`,
  elementsOf: (json, path, as) =>
    `jsonb_array_elements(CASE jsonb_typeof(${json} #> ${pgPath(path)}) WHEN 'array' THEN ${json} #> ${pgPath(path)} ELSE '[]'::jsonb END) AS ${as}(value)`,
  elementText: (json, path) => `(${json} #>> ${pgPath(path)})`,
};

/** The dialect of a target; PostgreSQL tables are qualified by `schema`. */
export function dialectOf(name: DialectName, schema?: string): Dialect {
  if (name === 'sqlite') return { ...sqlite, table: (t) => quoteIdent(t) };
  return {
    ...postgres,
    table: (t) => (schema ? `${quoteIdent(schema)}.${quoteIdent(t)}` : quoteIdent(t)),
  };
}

import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';

/** One record read from the input, or the reason its row could not be read. */
export interface InputRow {
  /** 1-based position of the record in the input (data rows for CSV, lines for JSONL, elements for JSON). */
  row: number;
  /** Physical line where the record ends (CSV and JSONL). */
  line?: number;
  /** Flat record as read: column name → value (dotted names are expanded by the mapping). */
  record?: Record<string, unknown>;
  /** Why the row could not be read; such rows are quarantined. */
  error?: string;
  /** The row as it was in the input, for the quarantine. */
  raw: unknown;
}

/** Input formats `ashpipe push` reads. */
export type InputFormat = 'csv' | 'jsonl' | 'json';

/** Where records come from. */
export type InputSource =
  | { kind: 'file'; file: string; format?: InputFormat }
  | { kind: 'sql'; from: string; query: string };

/** What a source is called in the run log: the file, or the database URL without its user and password. */
export function inputLabelOf(source: InputSource): string {
  return source.kind === 'file' ? source.file : source.from.replace(/\/\/[^@/]*@/, '//');
}

/** Picks a format from the file extension; `undefined` when it says nothing. */
export function formatOf(file: string): InputFormat | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.json') return 'json';
  return undefined;
}

/** Reads every record of a source, in order. */
export async function* readInput(source: InputSource): AsyncGenerator<InputRow> {
  if (source.kind === 'sql') {
    yield* readSql(source.from, source.query);
    return;
  }
  const format = source.format ?? formatOf(source.file);
  if (format === undefined)
    throw new Error(
      `cannot tell the format of ${source.file}: use a .csv, .jsonl or .json file, or --format`,
    );
  if (format === 'csv') yield* readCsv(source.file);
  else if (format === 'jsonl') yield* readJsonl(source.file);
  else yield* readJsonArray(source.file);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** RFC 4180 CSV: BOM, CRLF, quoted separators and newlines; a row whose width differs from the header is an error for that row. */
export async function* readCsv(file: string): AsyncGenerator<InputRow> {
  const skipped: InputRow[] = [];
  let row = 0;
  const parser = createReadStream(file).pipe(
    parse({
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      skip_records_with_error: true,
      on_skip: (err, raw) => {
        row += 1;
        skipped.push({
          row,
          error: `unreadable CSV row: ${err?.message ?? 'parse error'}`,
          raw: raw ?? null,
        });
        return undefined;
      },
    }),
  );
  let header: string[] | undefined;
  for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    while (skipped.length > 0) yield skipped.shift() as InputRow;
    const { record, info } = item;
    if (header === undefined) {
      header = record.map((h) => h.trim());
      const dup = header.find((h, i) => header?.indexOf(h) !== i);
      if (dup !== undefined) throw new Error(`${file}: the header repeats the column "${dup}"`);
      continue;
    }
    row += 1;
    if (record.length !== header.length) {
      yield {
        row,
        line: info.lines,
        error: `row has ${record.length} fields but the header has ${header.length}`,
        raw: record,
      };
      continue;
    }
    const out: Record<string, unknown> = {};
    header.forEach((h, i) => {
      out[h] = record[i];
    });
    yield { row, line: info.lines, record: out, raw: out };
  }
  while (skipped.length > 0) yield skipped.shift() as InputRow;
}

/** One JSON object per line; blank lines are skipped. */
export async function* readJsonl(file: string): AsyncGenerator<InputRow> {
  const lines = createInterface({
    input: createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let line = 0;
  let row = 0;
  for await (const rawLine of lines) {
    line += 1;
    const text = line === 1 ? rawLine.replace(/^\uFEFF/, '') : rawLine;
    if (text.trim() === '') continue;
    row += 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      yield { row, line, error: `invalid JSON: ${(error as Error).message}`, raw: text };
      continue;
    }
    if (!isPlainObject(parsed)) yield { row, line, error: 'line is not a JSON object', raw: parsed };
    else yield { row, line, record: parsed, raw: parsed };
  }
}

/** A file holding one JSON array of objects. */
export async function* readJsonArray(file: string): AsyncGenerator<InputRow> {
  const text = readFileSync(file, 'utf8').replace(/^\uFEFF/, '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new Error(`${file} must hold a JSON array of records`);
  let row = 0;
  for (const item of parsed) {
    row += 1;
    if (!isPlainObject(item)) yield { row, error: 'element is not a JSON object', raw: item };
    else yield { row, record: item, raw: item };
  }
}

function normaliseSqlValue(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return v;
}

function normaliseSqlRow(r: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) out[k] = normaliseSqlValue(v);
  return out;
}

/**
 * Rows of a query over a synced database, so a table can be written back: `sqlite:PATH` or
 * `postgres://…`. The query runs read-only (SQLite opened read-only; Postgres in a read-only transaction).
 */
export async function* readSql(from: string, query: string): AsyncGenerator<InputRow> {
  let row = 0;
  if (from.startsWith('sqlite:')) {
    const { openSqlite } = await import('../util/sqlite.js');
    const db = openSqlite(from.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
    try {
      for (const r of db.prepare(query).iterate() as Iterable<Record<string, unknown>>) {
        row += 1;
        const record = normaliseSqlRow(r);
        yield { row, record, raw: record };
      }
    } finally {
      db.close();
    }
    return;
  }
  if (from.startsWith('postgres://') || from.startsWith('postgresql://')) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: from });
    await client.connect();
    try {
      await client.query('BEGIN READ ONLY');
      const result = await client.query(query);
      await client.query('COMMIT');
      for (const r of result.rows as Record<string, unknown>[]) {
        row += 1;
        const record = normaliseSqlRow(r);
        yield { row, record, raw: record };
      }
    } finally {
      await client.end();
    }
    return;
  }
  throw new Error('--from must be sqlite:PATH or a postgres:// URL');
}

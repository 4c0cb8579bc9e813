import { isUtf8 } from 'node:buffer';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Tokenizer, TokenParser, TokenType } from '@streamparser/json';
import { parse } from 'csv-parse';
import {
  byteChunks,
  countNewlines,
  DEFAULT_MAX_RECORD_BYTES,
  firstInvalidUtf8,
  InputFileError,
  incompleteTail,
  openInputFile,
  type PhysicalLine,
  physicalLines,
} from './input-file.js';

export { DEFAULT_MAX_RECORD_BYTES, InputFileError } from './input-file.js';

/** One record read from the input, or the reason its row could not be read. */
export interface InputRow {
  /** 1-based position of the record in the input (data rows for CSV, lines for JSONL, elements for JSON). */
  row: number;
  /** Physical line where the record starts (CSV and JSONL). */
  line?: number;
  /** Flat record as read: column name → value (dotted names are expanded by the mapping). */
  record?: Record<string, unknown>;
  /** Why the row could not be read; such rows are quarantined. */
  error?: string;
  /** The row as it was in the input, for the quarantine: the record, or the text of a row that is not one. */
  raw: unknown;
  /**
   * The quarantine key the row already has (a replayed entry keeps its own).
   * @default derived from the input and the row's line (unreadable rows) or content
   */
  key?: string;
  /**
   * The place in its input the row already has (a replayed entry keeps its own).
   * @default its `--key` value, else its row in the input
   */
  inputKey?: string;
}

/** Input formats `ashpipe push` reads. */
export type InputFormat = 'csv' | 'jsonl' | 'json';

/** Where records come from. */
export type InputSource =
  | { kind: 'file'; file: string; format?: InputFormat }
  | { kind: 'sql'; from: string; query: string };

/** Options of {@link readInput}. */
export interface ReadInputOptions {
  /**
   * Largest record, in bytes: a longer CSV record or JSONL line is a bad row (quarantined with its line),
   * a longer JSON array element stops the read.
   * @default 4 MiB ({@link DEFAULT_MAX_RECORD_BYTES})
   * @example 65536
   */
  maxRecordBytes?: number;
}

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

/**
 * Reads every record of a source, in order, streaming: memory stays flat whatever the input's size.
 * Files must be regular UTF-8 text files ({@link openInputFile}); rows that cannot be read are yielded
 * with their line, raw text and the reason, so they are quarantined rather than lost.
 */
export async function* readInput(
  source: InputSource,
  options: ReadInputOptions = {},
): AsyncGenerator<InputRow> {
  if (source.kind === 'sql') {
    yield* readSql(source.from, source.query);
    return;
  }
  const format = source.format ?? formatOf(source.file);
  if (format === undefined)
    throw new Error(
      `cannot tell the format of ${source.file}: use a .csv, .jsonl or .json file, or --format`,
    );
  const max = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (format === 'csv') yield* readCsv(source.file, max);
  else if (format === 'jsonl') yield* readJsonl(source.file, max);
  else yield* readJsonArray(source.file, max);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The path of the first `__proto__` key in a parsed value (it cannot be a field name), or undefined. */
export function protoKeyPath(value: unknown, at = ''): string | undefined {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = protoKeyPath(v, `${at}${at ? '.' : ''}${i}`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  for (const [k, v] of Object.entries(value)) {
    const here = `${at}${at ? '.' : ''}${k}`;
    if (k === '__proto__') return here;
    const found = protoKeyPath(v, here);
    if (found !== undefined) return found;
  }
  return undefined;
}

const PROTO_REASON = (where: string) =>
  `the field "${where}" is named __proto__, which cannot be a field name; rename it in the input`;

/** The start of a text, for a row too long to keep whole. */
function excerpt(text: string): string {
  return text.length > 1024 ? `${text.slice(0, 1024)}…` : text;
}

const tooLong = (line: PhysicalLine, max: number) =>
  `line ${line.line} is ${line.bytes} bytes long, more than the ${max}-byte limit of a record`;

const badUtf8 = (line: PhysicalLine) =>
  `invalid UTF-8 at line ${line.line}, byte offset ${line.invalidAt} of the file`;

/** Lines of one unreadable region of a CSV file held before they are quarantined. */
const MAX_BAD_REGION_LINES = 10_000;

/**
 * RFC 4180 CSV, streamed: BOM, CRLF, quoted separators and newlines; quotes inside unquoted fields are
 * kept as text. A row whose width differs from the header, that csv-parse cannot read, that is not valid
 * UTF-8 or that is longer than `maxRecordBytes` is yielded as an error with its line and raw text; the
 * rows around it are read normally. A header repeating a column or naming `__proto__` is refused.
 */
export async function* readCsv(
  file: string,
  maxRecordBytes = DEFAULT_MAX_RECORD_BYTES,
): AsyncGenerator<InputRow> {
  const handle = await openInputFile(file);
  try {
    // Lines read but not yet part of an emitted record: a record or an unreadable region is reported from them.
    const held = new Map<number, PhysicalLine>();
    const errors: Array<{ line: number; message: string }> = [];
    let lastLine = 0;
    async function* text(): AsyncGenerator<string> {
      let batch = '';
      for await (const line of physicalLines(byteChunks(handle), maxRecordBytes)) {
        held.set(line.line, line);
        lastLine = line.line;
        if (held.size > MAX_BAD_REGION_LINES) {
          const oldest = held.keys().next().value as number;
          throw new InputFileError(
            `${file}: lines ${oldest}–${line.line} cannot be read as CSV records (an unbalanced quote at line ${oldest}?); nothing after line ${oldest} was read`,
          );
        }
        // A line too long to keep is left out of what the parser sees and reported on its own.
        batch += line.truncated ? line.eol : line.text + line.eol;
        if (batch.length >= 65_536) {
          yield batch;
          batch = '';
        }
      }
      if (batch !== '') yield batch;
    }
    const parser = Readable.from(text(), { objectMode: false }).pipe(
      parse({
        info: true,
        raw: true,
        relax_column_count: true,
        skip_empty_lines: true,
        skip_records_with_error: true,
        max_record_size: maxRecordBytes,
        on_skip: (err) => {
          errors.push({ line: Number(err?.lines ?? 0), message: err?.message ?? 'parse error' });
          return undefined;
        },
      }),
    );
    let header: string[] | undefined;
    let row = 0;
    let done = 0;
    /** Rows for the lines before `until` that belong to no record: an unreadable region, or too-long lines. */
    function* region(until: number): Generator<InputRow> {
      // The parser may report errors of later lines before the records ahead of them are consumed.
      const found: typeof errors = [];
      while (errors.length > 0 && (errors[0]?.line ?? 0) < until)
        found.push(errors.shift() as (typeof errors)[number]);
      for (let n = done + 1; n < until; n++) {
        const line = held.get(n);
        held.delete(n);
        if (!line) continue;
        if (line.truncated) {
          row += 1;
          yield { row, line: n, error: tooLong(line, maxRecordBytes), raw: excerpt(line.text) };
          continue;
        }
        if (line.text.trim() === '' || found.length === 0) continue;
        const own = found.find((e) => e.line === n) ?? found[0];
        row += 1;
        yield {
          row,
          line: n,
          error: `unreadable CSV row: ${own?.message ?? 'parse error'}`,
          raw: line.text,
        };
      }
      done = Math.max(done, until - 1);
    }
    for await (const item of parser as AsyncIterable<{
      record: string[];
      raw: string;
      info: { lines: number };
    }>) {
      const { record, info } = item;
      // Empty lines skipped before the record come with its raw text; they are not part of it.
      const raw = item.raw.replace(/^(?:\r?\n)+/, '').replace(/\r?\n$/, '');
      const end = info.lines;
      const start = end - (raw.match(/\n/g)?.length ?? 0);
      yield* region(start);
      const lines: PhysicalLine[] = [];
      for (let n = start; n <= end; n++) {
        const line = held.get(n);
        held.delete(n);
        if (line) lines.push(line);
      }
      done = end;
      if (header === undefined) {
        if (row > 0)
          throw new InputFileError(`${file}: the header (line ${start}) follows lines that cannot be read`);
        header = record.map((h) => h.trim());
        const proto = header.indexOf('__proto__');
        if (proto >= 0)
          throw new InputFileError(
            `${file}: column ${proto + 1} of the header is named "__proto__", which cannot be a field name; rename it`,
          );
        const dup = header.find((h, i) => header?.indexOf(h) !== i);
        if (dup !== undefined) throw new InputFileError(`${file}: the header repeats the column "${dup}"`);
        const broken = lines.find((l) => l.invalidAt !== undefined || l.truncated);
        if (broken)
          throw new InputFileError(
            `${file}: the header cannot be read: ${broken.truncated ? tooLong(broken, maxRecordBytes) : badUtf8(broken)}`,
          );
        continue;
      }
      row += 1;
      const broken = lines.find((l) => l.invalidAt !== undefined || l.truncated);
      if (broken) {
        yield {
          row,
          line: start,
          error: broken.truncated ? tooLong(broken, maxRecordBytes) : badUtf8(broken),
          raw: excerpt(raw),
        };
        continue;
      }
      if (record.length !== header.length) {
        yield {
          row,
          line: start,
          error: `row has ${record.length} fields but the header has ${header.length}`,
          raw,
        };
        continue;
      }
      const out: Record<string, unknown> = {};
      header.forEach((h, i) => {
        out[h] = record[i];
      });
      yield { row, line: start, record: out, raw: out };
    }
    yield* region(lastLine + 1);
  } finally {
    await handle.close();
  }
}

/** One JSON object per line; blank lines are skipped; each unreadable line is a row with its line and text. */
export async function* readJsonl(
  file: string,
  maxRecordBytes = DEFAULT_MAX_RECORD_BYTES,
): AsyncGenerator<InputRow> {
  const handle = await openInputFile(file);
  try {
    let row = 0;
    for await (const line of physicalLines(byteChunks(handle), maxRecordBytes)) {
      if (!line.truncated && line.text.trim() === '') continue;
      row += 1;
      const at = { row, line: line.line };
      if (line.truncated) {
        yield { ...at, error: tooLong(line, maxRecordBytes), raw: excerpt(line.text) };
        continue;
      }
      if (line.invalidAt !== undefined) {
        yield { ...at, error: badUtf8(line), raw: line.text };
        continue;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(line.text);
      } catch (error) {
        yield { ...at, error: `invalid JSON: ${(error as Error).message}`, raw: line.text };
        continue;
      }
      const proto = protoKeyPath(parsed);
      if (!isPlainObject(parsed)) yield { ...at, error: 'line is not a JSON object', raw: line.text };
      else if (proto !== undefined) yield { ...at, error: PROTO_REASON(proto), raw: line.text };
      else yield { ...at, record: parsed, raw: parsed };
    }
  } finally {
    await handle.close();
  }
}

/**
 * A file holding one JSON array of objects, parsed as a stream (@streamparser/json): elements are yielded
 * as they are read. An element that is not an object, or has a `__proto__` key, is a bad row; a syntax
 * error, invalid UTF-8 or an element larger than `maxRecordBytes` stops the read, naming the line and
 * byte offset.
 */
export async function* readJsonArray(
  file: string,
  maxRecordBytes = DEFAULT_MAX_RECORD_BYTES,
): AsyncGenerator<InputRow> {
  const handle = await openInputFile(file);
  try {
    const tokenizer = new Tokenizer();
    const parser = new TokenParser({ paths: ['$.*'], keepStack: false });
    const values: unknown[] = [];
    let firstToken = true;
    /** Byte offset (in the stream fed to the tokenizer) where the element being read started. */
    let elementStart = 0;
    let lastOffset = 0;
    tokenizer.onToken = (info) => {
      lastOffset = info.offset;
      if (firstToken) {
        firstToken = false;
        if (info.token !== TokenType.LEFT_BRACKET)
          throw new InputFileError(`${file} must hold a JSON array of records`);
        elementStart = info.offset + 1;
      }
      parser.write(info);
    };
    parser.onValue = ({ value }) => {
      values.push(value);
      elementStart = lastOffset + 1;
    };
    // Offsets are in bytes of the file (the tokenizer reads UTF-8 bytes); lines are counted to name them.
    let fed = 0;
    let line = 1;
    let carry = Buffer.alloc(0);
    let row = 0;
    const where = (offset: number, chunk: Buffer, chunkStart: number): string => {
      const within = Math.max(0, Math.min(chunk.length, offset - chunkStart));
      return `line ${line + countNewlines(chunk, within)}, byte offset ${offset}`;
    };
    const feed = function* (chunk: Buffer): Generator<InputRow> {
      const chunkStart = fed;
      const bad = isUtf8(chunk) ? -1 : firstInvalidUtf8(chunk);
      if (bad >= 0)
        throw new InputFileError(`${file}: invalid UTF-8 at ${where(chunkStart + bad, chunk, chunkStart)}`);
      try {
        tokenizer.write(chunk);
      } catch (error) {
        if (error instanceof InputFileError) throw error;
        throw new InputFileError(
          `${file} is not valid JSON near ${where(lastOffset, chunk, chunkStart)}: ${(error as Error).message}`,
        );
      }
      fed += chunk.length;
      line += countNewlines(chunk);
      if (fed - elementStart > maxRecordBytes)
        throw new InputFileError(
          `${file}: element ${row + values.length + 1} (from byte offset ${elementStart}) is larger than the ${maxRecordBytes}-byte limit of a record`,
        );
      yield* drain();
    };
    const drain = function* (): Generator<InputRow> {
      for (const value of values.splice(0)) {
        row += 1;
        const proto = protoKeyPath(value);
        if (!isPlainObject(value)) yield { row, error: 'element is not a JSON object', raw: value };
        else if (proto !== undefined) yield { row, error: PROTO_REASON(proto), raw: value };
        else yield { row, record: value, raw: value };
      }
    };
    for await (const chunk of byteChunks(handle)) {
      let bytes = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      const tail = incompleteTail(bytes);
      carry = Buffer.from(bytes.subarray(bytes.length - tail));
      bytes = bytes.subarray(0, bytes.length - tail);
      yield* feed(bytes);
    }
    if (carry.length > 0)
      throw new InputFileError(
        `${file}: invalid UTF-8 at byte offset ${fed} (the file ends inside a character)`,
      );
    if (firstToken) throw new InputFileError(`${file} is empty: it must hold a JSON array of records`);
    try {
      tokenizer.end();
      // The tokenizer only knows tokens; the parser knows whether the array was closed.
      if (!parser.isEnded) parser.end();
    } catch (error) {
      throw new InputFileError(`${file} ends before its JSON array is closed: ${(error as Error).message}`);
    }
    yield* drain();
  } finally {
    await handle.close();
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

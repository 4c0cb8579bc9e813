import { existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { byteChunks, openInputFile, type PhysicalLine, physicalLines } from '../push/input-file.js';
import { openSqlite } from '../util/sqlite.js';
import { NotFoundError, ValidationError } from './errors.js';
import type { Flow } from './model.js';
import type { DatasetPage, DatasetService } from './services.js';

/** Table names are stream names: snake_case, never taken from a request unchecked. */
const TABLE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** Bookkeeping columns that the preview puts last. */
const META_COLUMNS = ['_ashpipe_raw', '_ashpipe_synced_at', '_ashpipe_deleted_at'];

function order(columns: string[]): string[] {
  return [
    ...columns.filter((c) => !META_COLUMNS.includes(c)),
    ...columns.filter((c) => META_COLUMNS.includes(c)),
  ];
}

/** Longest JSONL line the preview parses; a longer one is shown as a note. */
const MAX_PREVIEW_LINE_BYTES = 4 * 1024 * 1024;

function previewRow(line: PhysicalLine): Record<string, unknown> {
  if (line.truncated)
    return { _ashpipe_error: `line ${line.line} is ${line.bytes} bytes long; too long to show` };
  try {
    const value = JSON.parse(line.text) as unknown;
    if (value !== null && typeof value === 'object' && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {}
  return { _ashpipe_error: `line ${line.line} is not a JSON object` };
}

/**
 * Reads pages of a synced table from a source flow's target: SQLite (read-only connection), PostgreSQL
 * or JSONL. Soft-deleted rows are shown too (with `_ashpipe_deleted_at`), since the table holds them.
 */
export class SinkDatasetService implements DatasetService {
  async preview(flow: Flow, stream: string, page: { limit: number; offset: number }): Promise<DatasetPage> {
    if (flow.config.kind !== 'source') throw new ValidationError('only source flows have synced tables');
    if (!TABLE_NAME.test(stream)) throw new ValidationError(`"${stream}" is not a stream name`);
    const target = flow.config.target;
    if (target.type === 'sqlite') return this.sqlite(path.resolve(target.path), stream, page);
    if (target.type === 'postgres')
      return this.postgres(
        target.url,
        target.schema ?? new URL(target.url).searchParams.get('schema') ?? 'public',
        stream,
        page,
      );
    return this.jsonl(path.resolve(target.path, `${stream}.jsonl`), stream, page);
  }

  private sqlite(file: string, stream: string, page: { limit: number; offset: number }): DatasetPage {
    if (!existsSync(file)) throw new NotFoundError('synced table', stream);
    const db = openSqlite(file, { readonly: true, fileMustExist: true });
    try {
      const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(stream);
      if (!exists) throw new NotFoundError('synced table', stream);
      // Safe to quote: the name matched TABLE_NAME and names an existing table.
      const total = (db.prepare(`SELECT COUNT(*) AS n FROM "${stream}"`).get() as { n: number }).n;
      const stmt = db.prepare(`SELECT * FROM "${stream}" ORDER BY rowid LIMIT ? OFFSET ?`);
      const columns = stmt.columns().map((c) => c.name);
      const rows = stmt.all(page.limit, page.offset) as Array<Record<string, unknown>>;
      return { stream, columns: order(columns), rows, total, ...page };
    } finally {
      db.close();
    }
  }

  private async postgres(
    url: string,
    schema: string,
    stream: string,
    page: { limit: number; offset: number },
  ): Promise<DatasetPage> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const exists = await client.query(
        'SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2',
        [schema, stream],
      );
      if (exists.rowCount === 0) throw new NotFoundError('synced table', stream);
      const ident = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(stream)}`;
      const total = await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${ident}`);
      const rows = await client.query(`SELECT * FROM ${ident} ORDER BY 1 LIMIT $1 OFFSET $2`, [
        page.limit,
        page.offset,
      ]);
      return {
        stream,
        columns: order(rows.fields.map((f) => f.name)),
        rows: rows.rows as Array<Record<string, unknown>>,
        total: Number(total.rows[0]?.n ?? 0),
        ...page,
      };
    } finally {
      await client.end();
    }
  }

  /**
   * A page of a JSONL change log, read as a stream: only the page's lines are parsed, the others are
   * counted, and no line is held beyond {@link MAX_PREVIEW_LINE_BYTES}, so a large file never blocks the
   * server or fills its memory.
   */
  private async jsonl(
    file: string,
    stream: string,
    page: { limit: number; offset: number },
  ): Promise<DatasetPage> {
    if (!existsSync(file)) throw new NotFoundError('synced table', stream);
    let handle: Awaited<ReturnType<typeof openInputFile>>;
    try {
      handle = await openInputFile(file);
    } catch (error) {
      throw new ValidationError(error instanceof Error ? error.message : String(error));
    }
    const rows: Array<Record<string, unknown>> = [];
    let total = 0;
    try {
      for await (const line of physicalLines(byteChunks(handle), MAX_PREVIEW_LINE_BYTES)) {
        if (!line.truncated && line.text.trim() === '') continue;
        if (total >= page.offset && rows.length < page.limit) rows.push(previewRow(line));
        total += 1;
      }
    } finally {
      await handle.close();
    }
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    return { stream, columns: order(columns), rows, total, ...page };
  }
}

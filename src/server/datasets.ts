import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
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

  private jsonl(file: string, stream: string, page: { limit: number; offset: number }): DatasetPage {
    if (!existsSync(file)) throw new NotFoundError('synced table', stream);
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    const rows = lines
      .slice(page.offset, page.offset + page.limit)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    return { stream, columns: order(columns), rows, total: lines.length, ...page };
  }
}

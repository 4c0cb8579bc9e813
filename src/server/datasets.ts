import { existsSync } from 'node:fs';
import path from 'node:path';
import { openSink, type Sink } from '../sinks/index.js';
import { targetString } from './engines.js';
import { NotFoundError, ValidationError } from './errors.js';
import type { Flow } from './model.js';
import type { DatasetPage, DatasetService, DatasetTable } from './services.js';

/** Table names are stream names: snake_case, never taken from a request unchecked. */
const TABLE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** Bookkeeping columns in the order the preview shows them, after every business column. */
const BOOKKEEPING_ORDER = [
  '_ashpipe_parent_id',
  '_ashpipe_synced_at',
  '_ashpipe_deleted_at',
  '_ashpipe_pass_id',
  '_ashpipe_raw',
];

function order(columns: Iterable<string>): string[] {
  const all = [...new Set(columns)];
  const business = all.filter((c) => !c.startsWith('_ashpipe_'));
  const bookkeeping = all
    .filter((c) => c.startsWith('_ashpipe_'))
    .sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return [...business, ...bookkeeping];
}

function rank(column: string): number {
  const i = BOOKKEEPING_ORDER.indexOf(column);
  return i < 0 ? BOOKKEEPING_ORDER.length : i;
}

/** `_ashpipe_raw` as the record itself, so the console shows (and expands) it like any JSON cell. */
function withRecord(row: Record<string, unknown>): Record<string, unknown> {
  const raw = row._ashpipe_raw;
  if (typeof raw !== 'string') return row;
  try {
    return { ...row, _ashpipe_raw: JSON.parse(raw) as unknown };
  } catch {
    return row;
  }
}

/**
 * Reads synced tables of a source flow's target through its sink (`Sink.listTables`, `countRows`,
 * `readRows`), so SQLite, PostgreSQL and JSONL show the same thing: the current records (a JSONL target's
 * change log replayed), live rows by default, `custom_field_values` like any table.
 */
export class SinkDatasetService implements DatasetService {
  constructor(private readonly sinkFor: (target: string) => Sink = (target) => openSink(target)) {}

  async tables(flow: Flow): Promise<DatasetTable[]> {
    return this.withSink(
      flow,
      () => [],
      async (sink) => {
        const tables: DatasetTable[] = [];
        for (const name of await sink.listTables()) {
          const count = await sink.countRows(name);
          tables.push({ name, rows: count.live, deleted: count.deleted });
        }
        return tables;
      },
    );
  }

  async preview(
    flow: Flow,
    stream: string,
    page: { limit: number; offset: number },
    options: { includeDeleted?: boolean } = {},
  ): Promise<DatasetPage> {
    if (!TABLE_NAME.test(stream)) throw new ValidationError(`"${stream}" is not a stream name`);
    const includeDeleted = options.includeDeleted === true;
    const missing = (): never => {
      throw new NotFoundError('synced table', stream);
    };
    return this.withSink(flow, missing, async (sink) => {
      if (!(await sink.listTables()).includes(stream)) throw new NotFoundError('synced table', stream);
      const count = await sink.countRows(stream);
      const rows = (await sink.readRows(stream, { ...page, includeDeleted })).map(withRecord);
      return {
        stream,
        columns: order(rows.flatMap((r) => Object.keys(r))),
        rows,
        total: includeDeleted ? count.live + count.deleted : count.live,
        deleted: count.deleted,
        ...page,
      };
    });
  }

  /** Runs `read` on the flow's sink, or answers `missing()` when nothing was ever synced to the target. */
  private async withSink<T>(flow: Flow, missing: () => T, read: (sink: Sink) => Promise<T>): Promise<T> {
    if (flow.config.kind !== 'source') throw new ValidationError('only source flows have synced tables');
    const target = flow.config.target;
    // Opening a sink creates its file or directory: a target nothing was synced into yet has no tables.
    if (target.type !== 'postgres' && !existsSync(path.resolve(target.path))) return missing();
    const sink = this.sinkFor(targetString(target));
    try {
      await sink.open();
      return await read(sink);
    } finally {
      await sink.close();
    }
  }
}

import { ConfigError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { JsonlSink } from './jsonl.js';
import type { OutputMode } from './output-mode.js';
import { PostgresSink } from './postgres.js';
import { SqliteSink } from './sqlite.js';
import type { Sink } from './types.js';

export { type JsonlChange, JsonlSink } from './jsonl.js';
export type { ColumnDef, ColumnType } from './layout.js';
export type { OutputMode } from './output-mode.js';
export { PostgresSink, parsePostgresTarget } from './postgres.js';
export { SqliteSink, type SqliteSinkOptions } from './sqlite.js';
export type {
  LockAttempt,
  LockHolder,
  MarkDeletedOptions,
  PageParent,
  ReadRowsOptions,
  RowCount,
  Sink,
  StoredRecord,
  StreamLock,
  StreamShape,
  StreamState,
  UpsertOptions,
  UpsertResult,
} from './types.js';
export {
  CUSTOM_FIELD_VALUES_TABLE,
  LOCK_HEARTBEAT_MS,
  LOCK_STALE_MS,
  LockLostError,
  MERGED_INTO_COLUMN,
  SinkError,
} from './types.js';

/** Options of {@link openSink}. */
export interface OpenSinkOptions {
  /**
   * Receives notable sink events (new columns, a discarded JSONL tail).
   * @default none
   */
  logger?: Logger;
  /**
   * Permissions of the files and directories the sink creates (SQLite files, JSONL directories): they
   * hold personal data, so only their owner may read them unless `umask` is asked for.
   * @default 'private' (files 0600, directories 0700)
   * @example 'umask'
   */
  outputMode?: OutputMode;
}

/**
 * The sink for a target string. Nothing is opened until {@link Sink.open}.
 * - `sqlite:PATH` (`sqlite:./ashpipe.db`, `sqlite:///var/lib/ashpipe.db`, `sqlite::memory:`)
 * - `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?schema=NAME]` (or `postgresql://`); schema default `public`
 * - `jsonl:DIR`
 * @throws ConfigError naming the problem for anything else.
 * @example const sink = openSink('sqlite:./ashpipe.db'); await sink.open();
 */
export function openSink(target: string, options: OpenSinkOptions = {}): Sink {
  const scheme = /^([a-z]+):/i.exec(target)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') {
    let file = target.slice('sqlite:'.length);
    if (file.startsWith('//')) file = file.slice(2);
    if (file === '') throw new ConfigError('sqlite target needs a file path, e.g. sqlite:./ashpipe.db');
    return new SqliteSink(file, options.logger, { outputMode: options.outputMode ?? 'private' });
  }
  if (scheme === 'postgres' || scheme === 'postgresql') return new PostgresSink(target, options.logger);
  if (scheme === 'jsonl') {
    let dir = target.slice('jsonl:'.length);
    if (dir.startsWith('//')) dir = dir.slice(2);
    if (dir === '') throw new ConfigError('jsonl target needs a directory, e.g. jsonl:./ashpipe-data');
    return new JsonlSink(dir, options.logger, options.outputMode ?? 'private');
  }
  throw new ConfigError(
    `unsupported sink target ${JSON.stringify(target.replace(/\/\/[^@/]*@/, '//***@'))}: use sqlite:PATH, postgres://… or jsonl:DIR`,
  );
}

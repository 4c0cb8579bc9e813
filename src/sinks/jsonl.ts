import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../util/logger.js';
import { tableNameFor } from './layout.js';
import { dirMode, fileMode, type OutputMode } from './output-mode.js';
import { dedupeByKey, emptyUpsertResult, keyValues, storableRecords } from './records.js';
import {
  type PageParent,
  type ReadRowsOptions,
  type Sink,
  SinkError,
  type StreamShape,
  type StreamState,
  type UpsertOptions,
  type UpsertResult,
} from './types.js';

/** Name of the state file in the sink's directory. */
export const JSONL_STATE_FILE = '_ashpipe_state.json';
/** Bytes read at a time when replaying a stream file. */
const READ_CHUNK = 1 << 20;

/** One line of a stream file. `seen` marks an unchanged record as seen by a pass (for soft deletes). */
export interface JsonlChange {
  op: 'upsert' | 'delete' | 'seen';
  stream: string;
  /** The record's key fields, in key order. */
  key: Record<string, string | number>;
  /** ISO time the change was written. */
  time: string;
  passId: string | null;
  /** The record exactly as received (`upsert` only). */
  record?: Record<string, unknown>;
  /** The parent the record was read under (child streams; `upsert` and `seen`). */
  parent?: PageParent;
}

interface StreamMeta {
  state?: StreamState;
  /** Bytes of the stream file committed together with `state`; anything after them is a torn write. */
  offset: number;
  primaryKey?: string[];
}
interface Meta {
  version: 1;
  streams: Record<string, StreamMeta>;
}
interface IndexEntry {
  hash: string;
  passId: string | null;
  deleted: boolean;
}

/**
 * The JSONL sink: a directory with one append-only change log per stream (`candidates.jsonl`) and a state
 * file written atomically after the page's lines are on disk. The state file records how many bytes of each
 * log are committed; opening the sink cuts any tail beyond that (a crash between the two writes), so the log
 * and the state always agree. Unchanged records are logged as `seen` lines, so soft deletes after a full pass
 * also work after a restart. Custom field values stay inside each record.
 */
export class JsonlSink implements Sink {
  readonly kind = 'jsonl' as const;
  readonly location: string;
  private meta: Meta = { version: 1, streams: {} };
  private readonly indexes = new Map<string, Map<string, IndexEntry>>();
  private isOpen = false;

  constructor(
    private readonly dir: string,
    private readonly logger?: Logger,
    private readonly outputMode: OutputMode = 'private',
  ) {
    this.location = `jsonl:${dir}`;
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    try {
      fs.mkdirSync(this.dir, { recursive: true, mode: dirMode(this.outputMode) });
      fs.accessSync(this.dir, fs.constants.W_OK);
      const stateFile = path.join(this.dir, JSONL_STATE_FILE);
      if (fs.existsSync(stateFile)) {
        this.meta = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as Meta;
      }
      this.discardTornTails();
    } catch (error) {
      if (error instanceof SinkError) throw error;
      throw new SinkError(
        this.location,
        `cannot open JSONL sink ${this.location}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    this.isOpen = true;
  }

  async getState(stream: string): Promise<StreamState | undefined> {
    this.requireOpen();
    return this.meta.streams[stream]?.state;
  }

  async saveState(stream: string, state: StreamState | undefined): Promise<void> {
    this.requireOpen();
    const current = this.meta.streams[stream];
    this.writeMeta(stream, { ...stateOrNothing(state), offset: current?.offset ?? 0, ...pkOf(current) });
  }

  async upsertPage(
    shape: StreamShape,
    records: readonly Record<string, unknown>[],
    state: StreamState,
    options: UpsertOptions = {},
  ): Promise<UpsertResult> {
    this.requireOpen();
    const name = tableNameFor(shape.name);
    const parent = options.parent
      ? `,"parent":${JSON.stringify({ field: options.parent.field, value: options.parent.value })}`
      : '';
    const index = this.indexFor(name);
    const result = emptyUpsertResult();
    const storable = storableRecords(shape, records);
    result.notices = storable.notices;
    result.notStored = storable.notStored;
    const time = new Date().toISOString();
    const passId = state.passId ?? null;
    const staged = new Map<string, IndexEntry>();
    const lines: string[] = [];
    for (const record of dedupeByKey(shape, storable.records)) {
      const key = keyObject(shape, record);
      const keyText = JSON.stringify(key);
      const raw = JSON.stringify(record);
      const hash = hashOf(raw);
      const previous = index.get(keyText);
      const head = (op: JsonlChange['op']): string =>
        `{"op":"${op}","stream":${JSON.stringify(name)},"key":${keyText},"time":"${time}","passId":${JSON.stringify(passId)}${parent}`;
      if (previous && !previous.deleted && previous.hash === hash) {
        result.unchanged++;
        lines.push(`${head('seen')}}\n`);
      } else {
        if (!previous) result.inserted++;
        else if (previous.deleted) result.undeleted++;
        else result.updated++;
        // The record's own JSON text is embedded as is, so the log holds exactly what was received.
        lines.push(`${head('upsert')},"record":${raw}}\n`);
      }
      staged.set(keyText, { hash, passId, deleted: false });
    }
    this.commit(name, lines, { state, primaryKey: [...shape.primaryKey] });
    for (const [key, entry] of staged) index.set(key, entry);
    return result;
  }

  async finishFullPass(shape: StreamShape, passId: string, state: StreamState): Promise<{ deleted: number }> {
    this.requireOpen();
    const name = tableNameFor(shape.name);
    const index = this.indexFor(name);
    const time = new Date().toISOString();
    const gone: string[] = [];
    const lines: string[] = [];
    for (const [keyText, entry] of index) {
      if (entry.deleted || entry.passId === passId) continue;
      gone.push(keyText);
      lines.push(
        `{"op":"delete","stream":${JSON.stringify(name)},"key":${keyText},"time":"${time}","passId":${JSON.stringify(passId)}}\n`,
      );
    }
    this.commit(name, lines, { state, primaryKey: [...shape.primaryKey] });
    for (const keyText of gone) {
      const entry = index.get(keyText);
      if (entry) entry.deleted = true;
    }
    return { deleted: gone.length };
  }

  async readRows(stream: string, options: ReadRowsOptions = {}): Promise<Array<Record<string, unknown>>> {
    this.requireOpen();
    type Entry = { key: Record<string, unknown>; row: Record<string, unknown>; parent: string | null };
    const rows = new Map<string, Entry>();
    // As in the SQL sinks, `_ashpipe_parent_id` exists once some page of the stream came with a parent.
    let sawParent = false;
    this.replay(stream, (change) => {
      const keyText = JSON.stringify(change.key);
      const current = rows.get(keyText);
      if (change.parent) sawParent = true;
      if (change.op === 'upsert') {
        const raw = JSON.stringify(change.record ?? {});
        rows.set(keyText, {
          key: change.key,
          row: {
            ...change.record,
            _ashpipe_raw: raw,
            _ashpipe_synced_at: change.time,
            _ashpipe_deleted_at: null,
            _ashpipe_pass_id: change.passId,
          },
          // An upsert without a parent keeps the one stored before, as the SQL sinks do.
          parent: change.parent?.value ?? current?.parent ?? null,
        });
      } else if (current && change.op === 'seen') {
        current.row._ashpipe_synced_at = change.time;
        current.row._ashpipe_pass_id = change.passId;
        if (change.parent) current.parent = change.parent.value;
      } else if (current && change.op === 'delete') {
        current.row._ashpipe_deleted_at = change.time;
      }
    });
    let list = [...rows.values()].sort((a, b) => compareKeys(Object.values(a.key), Object.values(b.key)));
    if (options.includeDeleted === false) list = list.filter((r) => r.row._ashpipe_deleted_at === null);
    const start = options.offset ?? 0;
    return list
      .slice(start, options.limit === undefined ? undefined : start + options.limit)
      .map((r) => (sawParent ? { ...r.row, _ashpipe_parent_id: r.parent } : r.row));
  }

  async close(): Promise<void> {
    this.indexes.clear();
    this.isOpen = false;
  }

  private requireOpen(): void {
    if (!this.isOpen) throw new SinkError(this.location, `sink ${this.location} is not open`);
  }

  private fileOf(stream: string): string {
    return path.join(this.dir, `${stream}.jsonl`);
  }

  /** Cuts every stream file back to the bytes committed with the state file. */
  private discardTornTails(): void {
    for (const entry of fs.readdirSync(this.dir)) {
      const match = /^([a-z][a-z0-9_]*)\.jsonl$/.exec(entry);
      if (!match?.[1]) continue;
      const stream = match[1];
      const file = this.fileOf(stream);
      const committed = this.meta.streams[stream]?.offset ?? 0;
      const size = fs.statSync(file).size;
      if (size > committed) {
        fs.truncateSync(file, committed);
        this.logger?.warn('discarded uncommitted tail of a JSONL stream file', {
          stream,
          bytes: size - committed,
        });
      } else if (size < committed) {
        throw new SinkError(
          this.location,
          `JSONL sink ${this.location}: ${entry} is shorter than its committed state (${size} < ${committed} bytes); it was changed outside ashpipe`,
        );
      }
    }
  }

  /** Appends the lines (flushed to disk), then saves the state; on failure the file is cut back. */
  private commit(
    stream: string,
    lines: readonly string[],
    next: { state: StreamState; primaryKey: string[] },
  ): void {
    const file = this.fileOf(stream);
    const offset = this.meta.streams[stream]?.offset ?? 0;
    const data = lines.join('');
    let written = offset;
    try {
      if (data.length > 0) {
        const fd = fs.openSync(file, 'a', fileMode(this.outputMode));
        try {
          fs.writeSync(fd, data);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        written = offset + Buffer.byteLength(data);
      }
      this.writeMeta(stream, { state: next.state, offset: written, primaryKey: next.primaryKey });
    } catch (error) {
      if (data.length > 0 && fs.existsSync(file)) fs.truncateSync(file, offset);
      throw new SinkError(
        this.location,
        `cannot write JSONL sink ${this.location}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  /** Replaces one stream's entry in the state file: temp file, fsync, rename, fsync of the directory. */
  private writeMeta(stream: string, entry: StreamMeta): void {
    const meta: Meta = { version: 1, streams: { ...this.meta.streams, [stream]: entry } };
    const target = path.join(this.dir, JSONL_STATE_FILE);
    const temp = `${target}.${process.pid}.tmp`;
    const fd = fs.openSync(temp, 'w', fileMode(this.outputMode));
    try {
      fs.writeSync(fd, `${JSON.stringify(meta, null, 2)}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, target);
    try {
      const dirFd = fs.openSync(this.dir, 'r');
      try {
        fs.fsyncSync(dirFd);
      } finally {
        fs.closeSync(dirFd);
      }
    } catch {
      // Some platforms cannot fsync a directory; the rename is still atomic.
    }
    this.meta = meta;
  }

  private indexFor(stream: string): Map<string, IndexEntry> {
    let index = this.indexes.get(stream);
    if (index) return index;
    const built = new Map<string, IndexEntry>();
    this.replay(stream, (change) => {
      const keyText = JSON.stringify(change.key);
      const entry = built.get(keyText);
      if (change.op === 'upsert') {
        built.set(keyText, {
          hash: hashOf(JSON.stringify(change.record ?? {})),
          passId: change.passId,
          deleted: false,
        });
      } else if (entry && change.op === 'seen') entry.passId = change.passId;
      else if (entry && change.op === 'delete') entry.deleted = true;
    });
    index = built;
    this.indexes.set(stream, index);
    return index;
  }

  /** Calls `fn` for every committed line of a stream file, in order, without loading the file whole. */
  private replay(stream: string, fn: (change: JsonlChange) => void): void {
    const committed = this.meta.streams[stream]?.offset ?? 0;
    if (committed === 0) return;
    const fd = fs.openSync(this.fileOf(stream), 'r');
    try {
      const buffer = Buffer.alloc(READ_CHUNK);
      let position = 0;
      let pending = Buffer.alloc(0);
      while (position < committed) {
        const n = fs.readSync(fd, buffer, 0, Math.min(READ_CHUNK, committed - position), position);
        if (n === 0) break;
        position += n;
        let chunk = Buffer.concat([pending, buffer.subarray(0, n)]);
        let newline = chunk.indexOf(0x0a);
        while (newline >= 0) {
          const line = chunk.subarray(0, newline).toString('utf8');
          if (line.length > 0) fn(JSON.parse(line) as JsonlChange);
          chunk = chunk.subarray(newline + 1);
          newline = chunk.indexOf(0x0a);
        }
        pending = Buffer.from(chunk);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}

function keyObject(shape: StreamShape, record: Record<string, unknown>): Record<string, string | number> {
  const values = keyValues(shape, record);
  const key: Record<string, string | number> = {};
  shape.primaryKey.forEach((field, i) => {
    key[field] = values[i] as string | number;
  });
  return key;
}

function hashOf(raw: string): string {
  return createHash('sha1').update(raw).digest('base64');
}

function compareKeys(a: readonly unknown[], b: readonly unknown[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

function stateOrNothing(state: StreamState | undefined): { state?: StreamState } {
  return state === undefined ? {} : { state };
}

function pkOf(meta: StreamMeta | undefined): { primaryKey?: string[] } {
  return meta?.primaryKey ? { primaryKey: meta.primaryKey } : {};
}

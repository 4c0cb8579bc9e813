import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../util/logger.js';
import { tableNameFor } from './layout.js';
import { tryLockFile, writeFully } from './lock-file.js';
import { LockKeeper } from './locks.js';
import { dirMode, fileMode, type OutputMode } from './output-mode.js';
import {
  customFieldEntries,
  customFieldsPathOf,
  dedupeByKey,
  emptyUpsertResult,
  keyValues,
  objectIdOf,
  storableRecords,
} from './records.js';
import {
  CUSTOM_FIELD_VALUES_TABLE,
  type LockAttempt,
  type MarkDeletedOptions,
  MERGED_INTO_COLUMN,
  type PageParent,
  type ReadRowsOptions,
  type RowCount,
  type Sink,
  SinkError,
  type StoredRecord,
  type StreamShape,
  type StreamState,
  type UpsertOptions,
  type UpsertResult,
} from './types.js';

/**
 * The state file of earlier versions, holding every stream's state in one file; read once and replaced
 * by {@link JSONL_STATE_DIR} (one file per stream, so runs syncing different streams never overwrite
 * each other's state).
 */
export const JSONL_STATE_FILE = '_ashpipe_state.json';
/** Directory of the per-stream state files (`<stream>.json`) in the sink's directory. */
export const JSONL_STATE_DIR = '_ashpipe_state';
/** Directory of the per-stream lock files (`<stream>.lock`) in the sink's directory. */
export const JSONL_LOCK_DIR = '_ashpipe_locks';
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
  /** The stream's clock value of the page (absent in lines of earlier versions). */
  seq?: number;
  /** The record exactly as received (`upsert` only). */
  record?: Record<string, unknown>;
  /** The parent the record was read under (child streams; `upsert` and `seen`). */
  parent?: PageParent;
}

/** One stream's state file. */
interface StreamMeta {
  state?: StreamState;
  /** Bytes of the stream file committed together with `state`; anything after them is a torn write. */
  offset: number;
  primaryKey?: string[];
  /** The stream's clock: ticked by every page, so a line's `seq` says when it was written. */
  clock?: number;
  /** Where each full pass in progress started on the clock. */
  passes?: Record<string, number>;
  /**
   * Streams with custom field values: their object type and where records keep them, so
   * `custom_field_values` can be read from the records (absent in state files of earlier versions until
   * the stream's next page).
   */
  customFields?: { objectType: string; path: string[] };
}
/** The single state file of earlier versions. */
interface LegacyMeta {
  version: 1;
  streams: Record<string, StreamMeta>;
}
interface IndexEntry {
  hash: string;
  passId: string | null;
  seq: number;
  deleted: boolean;
}
/** A stream's key index, replayed from its log up to `offset`. */
interface StreamIndex {
  entries: Map<string, IndexEntry>;
  offset: number;
}

/**
 * The JSONL sink: a directory with one append-only change log per stream (`candidates.jsonl`) and one
 * state file per stream (`_ashpipe_state/candidates.json`) written atomically after the page's lines are on
 * disk. The state file records how many bytes of the log are committed; a tail beyond that (a crash between
 * the two writes) is cut off by the next writer of the stream, so the log and the state always agree.
 * Unchanged records are logged as `seen` lines, so soft deletes after a full pass also work after a
 * restart. Custom field values stay inside each record.
 */
export class JsonlSink implements Sink {
  readonly kind = 'jsonl' as const;
  readonly location: string;
  private readonly indexes = new Map<string, StreamIndex>();
  private readonly locks = new LockKeeper();
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
      fs.mkdirSync(path.join(this.dir, JSONL_STATE_DIR), { recursive: true, mode: dirMode(this.outputMode) });
      fs.accessSync(this.dir, fs.constants.W_OK);
      this.migrateLegacyState();
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
    return this.readMeta(stream)?.state;
  }

  async lock(stream: string, label?: string): Promise<LockAttempt> {
    this.requireOpen();
    const attempt = tryLockFile(this.lockFileOf(stream), label);
    if (!attempt.acquired) return attempt;
    return { acquired: true, lock: this.locks.hold(stream, attempt.backend) };
  }

  async beginPass(stream: string, passId: string): Promise<void> {
    this.requireOpen();
    const meta = this.readMeta(stream) ?? { offset: 0 };
    if (meta.passes?.[passId] !== undefined) return;
    const clock = (meta.clock ?? 0) + 1;
    this.writeMeta(stream, { ...meta, clock, passes: { ...meta.passes, [passId]: clock } });
  }

  async saveState(stream: string, state: StreamState | undefined): Promise<void> {
    this.requireOpen();
    const { state: _old, ...rest } = this.readMeta(stream) ?? { offset: 0 };
    this.writeMeta(stream, { ...rest, ...stateOrNothing(state) });
  }

  async upsertPage(
    shape: StreamShape,
    records: readonly Record<string, unknown>[],
    state: StreamState,
    options: UpsertOptions = {},
  ): Promise<UpsertResult> {
    this.requireOpen();
    const name = tableNameFor(shape.name);
    const meta = this.readMeta(name) ?? { offset: 0 };
    const parent = options.parent
      ? `,"parent":${JSON.stringify({ field: options.parent.field, value: options.parent.value })}`
      : '';
    const index = this.indexFor(name, meta.offset);
    const result = emptyUpsertResult();
    const storable = storableRecords(shape, records);
    result.notices = storable.notices;
    result.notStored = storable.notStored;
    const time = new Date().toISOString();
    const passId = state.passId ?? null;
    const seq = (meta.clock ?? 0) + 1;
    // Only a full pass deletes, so only its start matters; a resumed pass keeps the start it had.
    const passes =
      state.passId !== undefined &&
      state.passKind !== 'incremental' &&
      meta.passes?.[state.passId] === undefined
        ? { ...meta.passes, [state.passId]: seq }
        : meta.passes;
    const staged = new Map<string, IndexEntry>();
    const lines: string[] = [];
    for (const record of dedupeByKey(shape, storable.records)) {
      const key = keyObject(shape, record);
      const keyText = JSON.stringify(key);
      const raw = JSON.stringify(record);
      const hash = hashOf(raw);
      const previous = index.entries.get(keyText);
      const head = (op: JsonlChange['op']): string =>
        `{"op":"${op}","stream":${JSON.stringify(name)},"key":${keyText},"time":"${time}","passId":${JSON.stringify(passId)},"seq":${seq}${parent}`;
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
      staged.set(keyText, { hash, passId, seq, deleted: false });
    }
    const offset = this.commit(name, meta, lines, {
      ...(options.keepState ? stateOrNothing(meta.state) : { state }),
      primaryKey: [...shape.primaryKey],
      clock: seq,
      ...(passes ? { passes } : {}),
      ...customFieldsOf(shape, meta),
    });
    for (const [key, entry] of staged) index.entries.set(key, entry);
    index.offset = offset;
    return result;
  }

  async finishFullPass(shape: StreamShape, passId: string, state: StreamState): Promise<{ deleted: number }> {
    this.requireOpen();
    const name = tableNameFor(shape.name);
    const meta = this.readMeta(name) ?? { offset: 0 };
    const index = this.indexFor(name, meta.offset);
    const time = new Date().toISOString();
    const clock = (meta.clock ?? 0) + 1;
    // A pass nobody registered started no earlier than now, as far as this log can tell.
    const start = meta.passes?.[passId] ?? clock;
    const gone: string[] = [];
    const lines: string[] = [];
    for (const [keyText, entry] of index.entries) {
      // Rows another pass saw after this one started stay: it may have read them after this pass went by.
      if (entry.deleted || entry.passId === passId || entry.seq >= start) continue;
      gone.push(keyText);
      lines.push(
        `{"op":"delete","stream":${JSON.stringify(name)},"key":${keyText},"time":"${time}","passId":${JSON.stringify(passId)},"seq":${clock}}\n`,
      );
    }
    const { [passId]: _finished, ...others } = meta.passes ?? {};
    const offset = this.commit(name, meta, lines, {
      state,
      primaryKey: [...shape.primaryKey],
      clock,
      passes: others,
      ...customFieldsOf(shape, meta),
    });
    for (const keyText of gone) {
      const entry = index.entries.get(keyText);
      if (entry) entry.deleted = true;
    }
    index.offset = offset;
    return { deleted: gone.length };
  }

  async markDeleted(
    shape: StreamShape,
    ids: readonly string[],
    options: MarkDeletedOptions = {},
  ): Promise<number> {
    this.requireOpen();
    const name = tableNameFor(shape.name);
    const meta = this.readMeta(name);
    const field = shape.primaryKey[0];
    if (!meta || shape.primaryKey.length !== 1 || field === undefined) return 0;
    const index = this.indexFor(name, meta.offset);
    const time = new Date().toISOString();
    const clock = (meta.clock ?? 0) + 1;
    const merged =
      options.mergedInto !== undefined
        ? `,${JSON.stringify(MERGED_INTO_COLUMN)}:${JSON.stringify(options.mergedInto)}`
        : '';
    const gone: string[] = [];
    const lines: string[] = [];
    for (const id of new Set(ids)) {
      const keyText = JSON.stringify({ [field]: id });
      const entry = index.entries.get(keyText);
      if (!entry || entry.deleted) continue;
      gone.push(keyText);
      lines.push(
        `{"op":"delete","stream":${JSON.stringify(name)},"key":${keyText},"time":"${time}","passId":null,"seq":${clock}${merged}}\n`,
      );
    }
    if (lines.length === 0) return 0;
    const { state: _state, ...rest } = meta;
    const offset = this.commit(name, meta, lines, { ...rest, ...stateOrNothing(meta.state), clock });
    for (const keyText of gone) {
      const entry = index.entries.get(keyText);
      if (entry) entry.deleted = true;
    }
    index.offset = offset;
    return gone.length;
  }

  async readStored(shape: StreamShape, ids: readonly string[]): Promise<Map<string, StoredRecord>> {
    this.requireOpen();
    const out = new Map<string, StoredRecord>();
    const field = shape.primaryKey[0];
    if (shape.primaryKey.length !== 1 || field === undefined || ids.length === 0) return out;
    const wanted = new Set(ids);
    // The log is replayed: a JSONL target is read whole anyway, and webhooks ask in batches.
    for (const row of await this.readRows(shape.name)) {
      const id = row[field];
      if (typeof id !== 'string' || !wanted.has(id)) continue;
      out.set(id, {
        record: JSON.parse(String(row._ashpipe_raw)) as Record<string, unknown>,
        deleted: row._ashpipe_deleted_at !== null,
      });
    }
    return out;
  }

  async readRows(stream: string, options: ReadRowsOptions = {}): Promise<Array<Record<string, unknown>>> {
    this.requireOpen();
    if (stream === CUSTOM_FIELD_VALUES_TABLE) {
      const start = options.offset ?? 0;
      const values = await this.customFieldValues();
      return values.slice(start, options.limit === undefined ? undefined : start + options.limit);
    }
    type Entry = { key: Record<string, unknown>; row: Record<string, unknown>; parent: string | null };
    const rows = new Map<string, Entry>();
    // As in the SQL sinks, `_ashpipe_parent_id` exists once some page of the stream came with a parent.
    let sawParent = false;
    await this.replayAsync(stream, 0, this.readMeta(stream)?.offset ?? 0, (change) => {
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
        const mergedInto = (change as { [MERGED_INTO_COLUMN]?: unknown })[MERGED_INTO_COLUMN];
        if (typeof mergedInto === 'string') current.row[MERGED_INTO_COLUMN] = mergedInto;
      }
    });
    let list = [...rows.values()].sort((a, b) => compareKeys(Object.values(a.key), Object.values(b.key)));
    if (options.includeDeleted === false) list = list.filter((r) => r.row._ashpipe_deleted_at === null);
    const start = options.offset ?? 0;
    return list
      .slice(start, options.limit === undefined ? undefined : start + options.limit)
      .map((r) => (sawParent ? { ...r.row, _ashpipe_parent_id: r.parent } : r.row));
  }

  async countRows(stream: string): Promise<RowCount> {
    this.requireOpen();
    if (stream === CUSTOM_FIELD_VALUES_TABLE)
      return { live: (await this.customFieldValues()).length, deleted: 0 };
    const meta = this.readMeta(tableNameFor(stream));
    if (!meta?.primaryKey) return { live: 0, deleted: 0 };
    const deletedByKey = new Map<string, boolean>();
    await this.replayAsync(stream, 0, meta.offset, (change) => {
      const keyText = JSON.stringify(change.key);
      if (change.op === 'upsert') deletedByKey.set(keyText, false);
      else if (change.op === 'delete' && deletedByKey.has(keyText)) deletedByKey.set(keyText, true);
    });
    let deleted = 0;
    for (const gone of deletedByKey.values()) if (gone) deleted++;
    return { live: deletedByKey.size - deleted, deleted };
  }

  async listTables(): Promise<string[]> {
    this.requireOpen();
    const tables: string[] = [];
    let custom = false;
    for (const stream of this.storedStreams()) {
      const meta = this.readMeta(stream);
      if (!meta?.primaryKey) continue;
      tables.push(stream);
      if (meta.customFields) custom = true;
    }
    if (custom) tables.push(CUSTOM_FIELD_VALUES_TABLE);
    return tables.sort();
  }

  /** Streams with a state file. */
  private storedStreams(): string[] {
    return fs
      .readdirSync(path.join(this.dir, JSONL_STATE_DIR))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .filter((name) => /^[a-z][a-z0-9_]{0,62}$/.test(name));
  }

  /**
   * The custom field values of the live records of every stream that has them, in the columns of the SQL
   * sinks' `custom_field_values`, ordered by object type, object id and field id.
   */
  private async customFieldValues(): Promise<Array<Record<string, unknown>>> {
    const values: Array<{
      object_type: string;
      object_id: string;
      field_id: string;
      title: string | null;
      value: unknown;
    }> = [];
    for (const stream of this.storedStreams()) {
      const meta = this.readMeta(stream);
      if (!meta?.customFields || !meta.primaryKey) continue;
      const shape: StreamShape = { name: stream, primaryKey: meta.primaryKey };
      for (const row of await this.readRows(stream, { includeDeleted: false })) {
        const record = JSON.parse(String(row._ashpipe_raw)) as Record<string, unknown>;
        const objectId = objectIdOf(shape, record);
        for (const entry of customFieldEntries(record, meta.customFields.path)) {
          values.push({
            object_type: meta.customFields.objectType,
            object_id: objectId,
            field_id: entry.fieldId,
            title: entry.title,
            value: entry.value,
          });
        }
      }
    }
    const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
    return values.sort(
      (a, b) =>
        cmp(a.object_type, b.object_type) || cmp(a.object_id, b.object_id) || cmp(a.field_id, b.field_id),
    );
  }

  async close(): Promise<void> {
    await this.locks.releaseAll();
    this.indexes.clear();
    this.isOpen = false;
  }

  private requireOpen(): void {
    if (!this.isOpen) throw new SinkError(this.location, `sink ${this.location} is not open`);
  }

  private fileOf(stream: string): string {
    return path.join(this.dir, `${tableNameFor(stream)}.jsonl`);
  }

  private metaFileOf(stream: string): string {
    return path.join(this.dir, JSONL_STATE_DIR, `${tableNameFor(stream)}.json`);
  }

  private lockFileOf(stream: string): string {
    return path.join(this.dir, JSONL_LOCK_DIR, `${tableNameFor(stream)}.lock`);
  }

  /** The stream's state file as it is on disk now (another run may have written it since). */
  private readMeta(stream: string): StreamMeta | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.metaFileOf(stream), 'utf8')) as StreamMeta;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SinkError(
        this.location,
        `JSONL sink ${this.location}: the state file of ${stream} cannot be read: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** Moves the single state file of earlier versions into per-stream files (once; a crash redoes it). */
  private migrateLegacyState(): void {
    const legacy = path.join(this.dir, JSONL_STATE_FILE);
    if (!fs.existsSync(legacy)) return;
    const old = JSON.parse(fs.readFileSync(legacy, 'utf8')) as LegacyMeta;
    for (const [stream, meta] of Object.entries(old.streams ?? {})) {
      if (!this.readMeta(stream)) this.writeMeta(stream, meta);
    }
    fs.rmSync(legacy);
    this.logger?.info('moved the JSONL state file to one file per stream', { directory: JSONL_STATE_DIR });
  }

  /**
   * Cuts every stream file back to the bytes committed with its state, unless a run holds the stream's
   * lock: its lines past the state are a page being committed, not a torn write.
   */
  private discardTornTails(): void {
    for (const entry of fs.readdirSync(this.dir)) {
      const match = /^([a-z][a-z0-9_]*)\.jsonl$/.exec(entry);
      if (!match?.[1]) continue;
      const stream = match[1];
      if (fs.existsSync(rewriteIntentFile(this.dir, stream))) {
        // Settled under the stream's lock: a rewrite that holds it is still running, not interrupted.
        const held = tryLockFile(this.lockFileOf(stream), 'settling an interrupted rewrite');
        if (!held.acquired) continue;
        try {
          settleJsonlRewrite(this.dir, stream);
        } finally {
          void held.backend.release();
        }
      }
      const file = this.fileOf(stream);
      const committed = this.readMeta(stream)?.offset ?? 0;
      const size = fs.statSync(file).size;
      if (size < committed) {
        throw new SinkError(
          this.location,
          `JSONL sink ${this.location}: ${entry} is shorter than its committed state (${size} < ${committed} bytes); it was changed outside ashpipe`,
        );
      }
      if (size === committed) continue;
      const attempt = tryLockFile(this.lockFileOf(stream), 'cutting a torn tail');
      if (!attempt.acquired) continue;
      try {
        const now = this.readMeta(stream)?.offset ?? 0;
        const length = fs.statSync(file).size;
        if (length > now) {
          fs.truncateSync(file, now);
          this.logger?.warn('discarded uncommitted tail of a JSONL stream file', {
            stream,
            bytes: length - now,
          });
        }
      } finally {
        void attempt.backend.release();
      }
    }
  }

  /**
   * Appends the lines at the committed length (cutting a torn tail first), flushes them, then saves the
   * state; on failure the file is cut back, so nothing half-written is ever committed. Returns the new
   * committed length.
   */
  private commit(
    stream: string,
    meta: StreamMeta,
    lines: readonly string[],
    next: Omit<StreamMeta, 'offset'>,
  ): number {
    const file = this.fileOf(stream);
    const offset = meta.offset;
    const data = lines.join('');
    let written = offset;
    let fd: number | undefined;
    try {
      if (data.length > 0 || fs.existsSync(file)) {
        fd = fs.openSync(file, 'a', fileMode(this.outputMode));
        if (fs.fstatSync(fd).size > offset) fs.ftruncateSync(fd, offset);
        if (data.length > 0) {
          writeFully(fd, data);
          written = offset + Buffer.byteLength(data);
        }
        fs.closeSync(fd);
        fd = undefined;
      }
      this.writeMeta(stream, { ...next, offset: written });
      return written;
    } catch (error) {
      try {
        if (fd === undefined && fs.existsSync(file)) fd = fs.openSync(file, 'a');
        if (fd !== undefined) fs.ftruncateSync(fd, offset);
      } catch {
        // The next writer of the stream cuts the tail instead.
      }
      throw new SinkError(
        this.location,
        `cannot write JSONL sink ${this.location}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  /** Replaces one stream's state file: temp file, fsync, rename, fsync of the directory. */
  private writeMeta(stream: string, meta: StreamMeta): void {
    const target = this.metaFileOf(stream);
    const temp = `${target}.${process.pid}.${randomUUID()}.tmp`;
    try {
      const fd = fs.openSync(temp, 'w', fileMode(this.outputMode));
      try {
        writeFully(fd, `${JSON.stringify(meta, null, 2)}\n`);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temp, target);
    } catch (error) {
      fs.rmSync(temp, { force: true });
      throw error;
    }
    try {
      const dirFd = fs.openSync(path.dirname(target), 'r');
      try {
        fs.fsyncSync(dirFd);
      } finally {
        fs.closeSync(dirFd);
      }
    } catch {
      // Some platforms cannot fsync a directory; the rename is still atomic.
    }
  }

  /** The stream's key index, brought up to `committed` (another run may have appended since). */
  private indexFor(stream: string, committed: number): StreamIndex {
    let index = this.indexes.get(stream);
    if (!index || index.offset > committed) {
      index = { entries: new Map(), offset: 0 };
      this.indexes.set(stream, index);
    }
    const { entries } = index;
    this.replay(stream, index.offset, committed, (change) => {
      const keyText = JSON.stringify(change.key);
      const entry = entries.get(keyText);
      const seq = change.seq ?? 0;
      if (change.op === 'upsert') {
        entries.set(keyText, {
          hash: hashOf(JSON.stringify(change.record ?? {})),
          passId: change.passId,
          seq,
          deleted: false,
        });
      } else if (entry && change.op === 'seen') {
        entry.passId = change.passId;
        entry.seq = Math.max(entry.seq, seq);
      } else if (entry && change.op === 'delete') entry.deleted = true;
    });
    index.offset = committed;
    return index;
  }

  /** Calls `fn` for every line of a stream file between two committed offsets, without loading it whole. */
  /**
   * {@link replay} reading with asynchronous I/O, so a large log read for a reader (the console's data
   * preview) never holds the event loop for long.
   */
  private async replayAsync(
    stream: string,
    from: number,
    to: number,
    fn: (change: JsonlChange) => void,
  ): Promise<void> {
    if (to <= from) return;
    const handle = await fs.promises.open(this.fileOf(stream), 'r');
    try {
      const buffer = Buffer.alloc(READ_CHUNK);
      let position = from;
      let pending: Buffer = Buffer.alloc(0);
      while (position < to) {
        const { bytesRead: n } = await handle.read(buffer, 0, Math.min(READ_CHUNK, to - position), position);
        if (n === 0) break;
        position += n;
        pending = eachLine(Buffer.concat([pending, buffer.subarray(0, n)]), fn);
      }
    } finally {
      await handle.close();
    }
  }

  private replay(stream: string, from: number, to: number, fn: (change: JsonlChange) => void): void {
    if (to <= from) return;
    const fd = fs.openSync(this.fileOf(stream), 'r');
    try {
      const buffer = Buffer.alloc(READ_CHUNK);
      let position = from;
      let pending: Buffer = Buffer.alloc(0);
      while (position < to) {
        const n = fs.readSync(fd, buffer, 0, Math.min(READ_CHUNK, to - position), position);
        if (n === 0) break;
        position += n;
        pending = eachLine(Buffer.concat([pending, buffer.subarray(0, n)]), fn);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** Calls `fn` with each whole line of `chunk`; returns the unfinished rest (copied). */
function eachLine(chunk: Buffer, fn: (change: JsonlChange) => void): Buffer {
  let rest = chunk;
  let newline = rest.indexOf(0x0a);
  while (newline >= 0) {
    const line = rest.subarray(0, newline).toString('utf8');
    if (line.length > 0) fn(JSON.parse(line) as JsonlChange);
    rest = rest.subarray(newline + 1);
    newline = rest.indexOf(0x0a);
  }
  return Buffer.from(rest);
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

/** The custom field location a stream's state file records: the stream's own, else the one recorded before. */
function customFieldsOf(shape: StreamShape, meta: StreamMeta): Pick<StreamMeta, 'customFields'> {
  if (shape.customFieldsObjectType) {
    return {
      customFields: { objectType: shape.customFieldsObjectType, path: [...customFieldsPathOf(shape)] },
    };
  }
  return meta.customFields ? { customFields: meta.customFields } : {};
}

/**
 * A rewrite of a stream file in progress (an erasure or an anonymisation rewriting lines): the new file's
 * inode and length, written before the new file is renamed over the old one and removed once the stream's
 * state holds the new length. A crash between the rename and the state would otherwise leave a state
 * that points past the end of the shorter file, and the target would refuse to open.
 */
interface RewriteIntent {
  ino: number;
  offset: number;
}

function rewriteIntentFile(dir: string, stream: string): string {
  return path.join(dir, JSONL_STATE_DIR, `${stream}.rewrite`);
}

function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Sets the committed length in a stream's state file (temp file and rename), when it has one. */
function setCommittedLength(dir: string, stream: string, offset: number): void {
  const stateFile = path.join(dir, JSONL_STATE_DIR, `${stream}.json`);
  if (!fs.existsSync(stateFile)) return;
  const meta = JSON.parse(fs.readFileSync(stateFile, 'utf8')) as { offset?: number };
  meta.offset = offset;
  const tmp = `${stateFile}.${process.pid}.${randomUUID()}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(meta, null, 2)}\n`, { mode: fs.statSync(stateFile).mode & 0o777 });
  fsyncFile(tmp);
  fs.renameSync(tmp, stateFile);
}

/**
 * Finishes or forgets a rewrite of `stream`'s file that a crash interrupted (see {@link rewriteJsonlStream}):
 * when the file is the new one (same inode) its state takes the new length; when the rename never happened
 * the old file and its state stand. Either way the target opens as if the rewrite had run whole or not at all.
 */
export function settleJsonlRewrite(dir: string, stream: string): void {
  const intentFile = rewriteIntentFile(dir, stream);
  if (!fs.existsSync(intentFile)) return;
  const intent = JSON.parse(fs.readFileSync(intentFile, 'utf8')) as RewriteIntent;
  const file = path.join(dir, `${stream}.jsonl`);
  if (fs.existsSync(file) && fs.statSync(file).ino === intent.ino) {
    setCommittedLength(dir, stream, intent.offset);
  }
  for (const leftover of fs.readdirSync(dir)) {
    if (leftover.startsWith(`${stream}.jsonl.`) && leftover.endsWith('.tmp')) {
      fs.rmSync(path.join(dir, leftover), { force: true });
    }
  }
  fs.rmSync(intentFile, { force: true });
}

/**
 * Writes a stream file anew with `text` (a temp file renamed over the old one, so the old bytes go with the
 * old file) and moves the stream's committed length to the new one; crash-safe through an intent file that
 * {@link settleJsonlRewrite} reads. The caller holds the stream's lock.
 */
export function rewriteJsonlStream(dir: string, stream: string, text: string): void {
  settleJsonlRewrite(dir, stream);
  const file = path.join(dir, `${stream}.jsonl`);
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  fs.writeFileSync(tmp, text, { mode: fs.statSync(file).mode & 0o777 });
  fsyncFile(tmp);
  const intent: RewriteIntent = { ino: fs.statSync(tmp).ino, offset: Buffer.byteLength(text) };
  const intentFile = rewriteIntentFile(dir, stream);
  fs.mkdirSync(path.dirname(intentFile), { recursive: true });
  fs.writeFileSync(intentFile, JSON.stringify(intent), { mode: 0o600 });
  fsyncFile(intentFile);
  fs.renameSync(tmp, file);
  setCommittedLength(dir, stream, intent.offset);
  fs.rmSync(intentFile, { force: true });
}

/** What a sink needs to know about a stream. */
export interface StreamShape {
  /**
   * Stream name, which is also the table (or file) name: snake_case plural.
   * @example 'interview_stages'
   */
  name: string;
  /**
   * Record fields forming the key; child streams may use a compound key.
   * @example ['interviewPlanId', 'id']
   */
  primaryKey: readonly string[];
  /**
   * When set, each record's custom field values (`{id, title, value}` entries, see `customFieldsPath`) are
   * also written to `custom_field_values` under this object type, replaced per object on every upsert.
   * @example 'Candidate'
   */
  customFieldsObjectType?:
    | 'Candidate'
    | 'Application'
    | 'Job'
    | 'Opening'
    | 'Offer'
    | 'Talent_Project'
    | 'Employee';
  /**
   * The keys leading from a record to its array of custom field values: offers keep theirs on the latest
   * version, projects in `customFieldEntries`.
   * @default ['customFields']
   * @example ['latestVersion', 'customFields']
   */
  customFieldsPath?: readonly string[];
}

/**
 * Per-stream sync state, stored in `_ashpipe_state` in the same transaction as the page it follows.
 * JSON-serialisable; every member is optional so that a state of an earlier version still reads.
 */
export interface StreamState {
  /** Token from the last page of the last complete pass. */
  syncToken?: string;
  /** `nextCursor` of the last committed page of the pass in progress (resume point). */
  cursor?: string;
  /** Id of the pass in progress (or last completed). */
  passId?: string;
  passKind?: 'full' | 'incremental';
  /** ISO time. */
  passStartedAt?: string;
  pagesCommitted?: number;
  /** ISO time; drives the periodic reconcile. */
  lastFullPassCompletedAt?: string;
  lastCompletedAt?: string;
  /**
   * A full pass read every page but its deletes are not applied yet; the next run applies them first.
   */
  pendingFinish?: boolean;
  /** The `syncToken` of a full pass waiting for its deletes (stored as `syncToken` once they are applied). */
  pendingSyncToken?: string;
  /** Child streams: the last parent whose list was read completely. */
  parentDone?: string;
  /** Child streams: the parent whose list is being read (its cursor is {@link StreamState.cursor}). */
  parentCurrent?: string;
  /** `--exclude-confidential`: ids this stream left out, for the streams that hang off them. */
  confidentialIds?: string[];
  /**
   * Changed-parents streams: the latest parent `updatedAt` their last complete pass covered, and the
   * parents updated at exactly that time; the next pass reads only parents updated later (or others then).
   */
  parentsChangedAfter?: { at: string; ids: string[] };
  /** Fingerprint of the PII policy the stream's records were last written with (absent: none). */
  piiPolicy?: string;
  /**
   * History mode is on for the stream: every page (and webhook write) also keeps each changed record's
   * new version in `<stream>_history` (see docs/history.md). Absent: off.
   */
  history?: boolean;
}

/**
 * What one page did. Every record of the page is counted exactly once:
 * `inserted + updated + unchanged + undeleted` equals the number of distinct keys in the page.
 * "Unchanged" means the record's JSON is byte-identical to the stored `_ashpipe_raw` of a live row; such
 * rows still get the new `_ashpipe_pass_id` and `_ashpipe_synced_at`.
 */
export interface UpsertResult {
  inserted: number;
  updated: number;
  unchanged: number;
  /** Rows that were soft-deleted and reappeared (their content is rewritten too). */
  undeleted: number;
  /** Columns added by this page (SQL sinks), in the order they were added. */
  newColumns: string[];
  /**
   * What the sink did differently from its rules on this page, for the run's summary: fields kept only
   * in `_ashpipe_raw` (the table's typed-column cap, names a column cannot have), records not stored.
   * Each is a stable sentence, so a run can list each once.
   */
  notices?: string[];
  /** Records of the page that could not be stored (no usable key); never counted above. */
  notStored?: number;
}

/** The parent record a page of a child stream was read for (`candidate.listNotes` for one candidate). */
export interface PageParent {
  /**
   * Ashby's name for the parent's id: the request parameter the page was read with.
   * @example 'candidateId'
   */
  field: string;
  /**
   * The parent's id, stored in `_ashpipe_parent_id` of every record of the page.
   * @example 'f9e52a51-a075-4116-a7b8-484deba69004'
   */
  value: string;
}

/** Options of {@link Sink.upsertPage}. */
export interface UpsertOptions {
  /**
   * The parent all records of the page belong to (child streams). Stored beside the record, never in
   * `_ashpipe_raw`; a record stored again under another parent takes the new one (the last wins).
   * @default none: the stored parent of existing rows is left as it is
   * @example { field: 'candidateId', value: 'f9e52a51-a075-4116-a7b8-484deba69004' }
   */
  parent?: PageParent;
  /**
   * Leave the stream's stored state as it is instead of saving the `state` argument: records that arrive
   * outside a sync (webhooks) must not move a sync's `syncToken` or cursor.
   * @default false
   * @example { keepState: true }
   */
  keepState?: boolean;
}

/** Column of a soft-deleted candidate that names the candidate it was merged into. */
export const MERGED_INTO_COLUMN = '_ashpipe_merged_into';

/** Options of {@link Sink.markDeleted}. */
export interface MarkDeletedOptions {
  /**
   * The record the deleted ones were merged into, stored in {@link MERGED_INTO_COLUMN} (added when first
   * needed).
   * @default none
   * @example 'f9e52a51-a075-4116-a7b8-484deba69004'
   */
  mergedInto?: string;
}

/** A row as {@link Sink.readStored} finds it. */
export interface StoredRecord {
  /** `_ashpipe_raw`, parsed. */
  record: Record<string, unknown>;
  /** The row is soft-deleted. */
  deleted: boolean;
}

/** Options of {@link Sink.readRows}. */
export interface ReadRowsOptions {
  /**
   * Maximum number of rows.
   * @default unlimited
   */
  limit?: number;
  /**
   * Rows to skip, in primary key order.
   * @default 0
   */
  offset?: number;
  /**
   * Include soft-deleted rows.
   * @default true
   */
  includeDeleted?: boolean;
}

/**
 * The table of custom field values: `readRows(CUSTOM_FIELD_VALUES_TABLE)` returns
 * `{ object_type, object_id, field_id, title, value }` rows (value parsed from JSON), ordered by
 * object type, object id and field id, from every sink (JSONL derives them from the stored records).
 */
export const CUSTOM_FIELD_VALUES_TABLE = 'custom_field_values';

/** What {@link Sink.countRows} found. */
export interface RowCount {
  /** Rows not soft-deleted. */
  live: number;
  /** Soft-deleted rows (`_ashpipe_deleted_at` set). */
  deleted: number;
}

/** The run holding (or asking for) the lock of one stream of a target. */
export interface LockHolder {
  /**
   * Process id of the holder.
   * @example 4242
   */
  pid: number;
  /**
   * Host name of the holder (`os.hostname()`).
   * @example 'etl-1'
   */
  host: string;
  /**
   * ISO time the holder took the lock.
   * @example '2026-03-02T12:01:07.000Z'
   */
  since: string;
  /** ISO time of the holder's last heartbeat (absent where the lock cannot outlive its holder). */
  heartbeatAt?: string;
  /**
   * What holds it, for people.
   * @example 'ashpipe sync'
   */
  label?: string;
}

/** A held lock of one stream. */
export interface StreamLock {
  readonly stream: string;
  /** Throws {@link LockLostError} when the lock was taken over or its connection died since. */
  assertHeld(): void;
  /** Gives the lock up; harmless when already lost or released. */
  release(): Promise<void>;
}

/** What {@link Sink.lock} found: the lock, or who holds it (`undefined` when the holder is unknown). */
export type LockAttempt =
  | { acquired: true; lock: StreamLock }
  | { acquired: false; holder: LockHolder | undefined };

/** A destination for synced records. */
export interface Sink {
  readonly kind: 'sqlite' | 'postgres' | 'jsonl';
  /** Human description of where the data is, without credentials (e.g. 'sqlite:./ashpipe.db'). */
  readonly location: string;
  open(): Promise<void>;
  getState(stream: string): Promise<StreamState | undefined>;
  /**
   * Takes the lock of `stream` in this target for this process, or reports who holds it. One writer per
   * (target, stream): PostgreSQL session advisory locks (they end with the connection); SQLite and JSONL a
   * lock record naming pid, host and start time, kept fresh by a heartbeat and taken over when its holder
   * is provably gone (same host and the pid is dead, or the heartbeat is older than
   * {@link LOCK_STALE_MS}). Released by {@link StreamLock.release} or {@link Sink.close}.
   * @param label what holds it, shown to a run that finds it taken
   */
  lock(stream: string, label?: string): Promise<LockAttempt>;
  /**
   * Registers the start of pass `passId` of `stream` (idempotent: a resumed pass keeps its start). A full
   * pass soft-deletes only rows whose last sighting is older than its start; a pass never registered is
   * registered by its first page.
   */
  beginPass(stream: string, passId: string): Promise<void>;
  /**
   * Atomically: upsert the records (marking them seen by state.passId, undeleting rows that reappear) and
   * save `state`. With `options.parent`, every record of the page is stored under that parent
   * (`_ashpipe_parent_id`, added to the table when first needed).
   */
  upsertPage(
    stream: StreamShape,
    records: readonly Record<string, unknown>[],
    state: StreamState,
    options?: UpsertOptions,
  ): Promise<UpsertResult>;
  /**
   * Atomically: soft-delete (set `_ashpipe_deleted_at`) every live row of the stream that pass `passId` did
   * not see and that no page written since that pass started saw either, and save `state`. Only called
   * after a COMPLETE full pass. Rows seen by another pass that overlapped this one are never deleted.
   */
  finishFullPass(stream: StreamShape, passId: string, state: StreamState): Promise<{ deleted: number }>;
  /**
   * Soft-deletes the live rows of a single-key stream with these ids at once (a `candidateDelete` webhook),
   * leaving the stream's state alone. Ids without a row are ignored. Returns the number of rows deleted.
   */
  markDeleted(stream: StreamShape, ids: readonly string[], options?: MarkDeletedOptions): Promise<number>;
  /**
   * The stored rows of a single-key stream with these ids: the record's JSON as stored and whether the row
   * is soft-deleted. Ids without a row are absent from the map.
   */
  readStored(stream: StreamShape, ids: readonly string[]): Promise<Map<string, StoredRecord>>;
  /** Save state alone (e.g. to drop a syncToken). */
  saveState(stream: string, state: StreamState | undefined): Promise<void>;
  /**
   * Read back rows (for tests, data preview): live and deleted, ordered by primary key;
   * {@link CUSTOM_FIELD_VALUES_TABLE} gives the custom field values of live rows.
   * Every sink returns `_ashpipe_raw` as the record's JSON text, `_ashpipe_synced_at` and
   * `_ashpipe_deleted_at` as ISO strings (or null) and `_ashpipe_pass_id`; rows of a stream whose pages came
   * with a parent also have `_ashpipe_parent_id` (null for rows stored without one). SQL sinks add one property per
   * column (booleans as booleans, JSON columns parsed); the JSONL sink adds the record's own fields.
   */
  readRows(stream: string, options?: ReadRowsOptions): Promise<Array<Record<string, unknown>>>;
  /**
   * How many rows of `stream` are live and how many soft-deleted (what {@link Sink.readRows} would return
   * with and without `includeDeleted`). `custom_field_values` counts its rows, all live. A stream never
   * stored counts 0 and 0.
   */
  countRows(stream: string): Promise<RowCount>;
  /**
   * The tables (JSONL: stream files) the target holds, sorted: every stream stored so far, and
   * `custom_field_values` once a stream with custom field values was stored.
   */
  listTables(): Promise<string[]>;
  close(): Promise<void>;
}

/** A sink could not be opened or written; the message names the target (never a password). */
export class SinkError extends Error {
  override name = 'SinkError';
  constructor(
    /** The sink's location, without credentials. */
    readonly target: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A stream's lock was taken over, or the connection holding it died, while the run was writing. */
export class LockLostError extends Error {
  override name = 'LockLostError';
}

/** How often a held SQLite or JSONL lock records that its holder is alive. */
export const LOCK_HEARTBEAT_MS = 10_000;
/**
 * A SQLite or JSONL lock whose heartbeat is older than this is taken over, whoever holds it (a holder on
 * another host, or a pid that was reused since its holder died).
 */
export const LOCK_STALE_MS = 120_000;

/** A registered full pass older than this that never finished was abandoned; its registration is dropped. */
export const ABANDONED_PASS_MS = 30 * 86_400_000;

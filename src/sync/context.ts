/** What the streams of one sync run share, and what one stream keeps while it runs. */
import type { AshbyPage, AshbyResult, PageOptions } from '../ashby/index.js';
import type { PiiTransformer } from '../privacy/transform.js';
import type { Sink, StreamShape } from '../sinks/index.js';
import type { ConfidentialContext, ResolvedStream } from '../streams/index.js';
import type { Logger } from '../util/logger.js';
import type { EndpointCounters } from './counters.js';
import type { RefreshAfter } from './refresh.js';
import type { PassMode, StreamResult, SyncEvent } from './types.js';

/** The part of the Ashby client the engine reads with. */
export interface PageSource {
  pages<T = unknown>(
    endpoint: string,
    body?: Record<string, unknown>,
    options?: PageOptions,
  ): AsyncIterableIterator<AshbyPage<T>>;
  /** One request of a single-record endpoint (a changed-parents stream's fallback); absent in some tests. */
  call?<T = unknown>(
    endpoint: string,
    body?: Record<string, unknown>,
    options?: { signal?: AbortSignal },
  ): Promise<AshbyResult<T>>;
}

/** The run's options, with their defaults applied. */
export interface RunSettings {
  fullRefresh: boolean;
  includeArchived: boolean;
  excludeConfidential: boolean;
  reconcileAfterMs: number | null;
  /** `--refresh`: read the streams without a sync token whatever their refresh interval. */
  refresh: boolean;
  /** Refresh intervals the user gave (see `refreshAfterOf`). */
  refreshAfter: RefreshAfter;
  pageSize: number | undefined;
  /** How long a stream waits for another run's lock on it. */
  lockWaitMs: number;
  /** What this run is called in the lock records it writes. */
  lockLabel: string;
  /** Streams that keep every version in `<stream>_history` (history mode); the others turn it off. */
  history: ReadonlySet<string>;
}

/** Everything the streams of one run share. */
export interface RunContext {
  client: PageSource;
  sink: Sink;
  settings: RunSettings;
  /** Fires when the run stops: the caller's signal, or a refused key. */
  signal: AbortSignal;
  counters: EndpointCounters;
  /** Confidential ids seen so far, filled by the streams that drop them. */
  confidential: ConfidentialContext;
  logger: Logger;
  now(): Date;
  emit(event: SyncEvent): void;
  /** The results of the run's streams, for the streams that wait for others. */
  results: ReadonlyMap<string, Promise<StreamResult>>;
  /** Stops every stream: the key was refused. */
  stopAll(error: NonNullable<StreamResult['error']>): void;
  /** The PII policy records go through before they are written; `undefined` stores them as read. */
  pii: PiiTransformer | undefined;
  /** Collects candidates anonymised in Ashby since their row was written (`SyncOptions.anonymised`). */
  anonymised?: Set<string> | undefined;
}

/** The counts of one stream, turned into its {@link StreamResult} at the end. */
export class StreamTally {
  pages = 0;
  records = 0;
  inserted = 0;
  updated = 0;
  unchanged = 0;
  undeleted = 0;
  deleted = 0;
  droppedConfidential = 0;
  readonly rejects = new Map<string, number>();
  readonly newColumns = new Set<string>();
  /** What the sink did differently from its rules (fields kept only in `_ashpipe_raw`, records not stored). */
  readonly notices = new Set<string>();
  notStored = 0;
  mode: PassMode | null = null;
  /** Set when the stream was not read: its last complete read is within its refresh interval. */
  notDue: StreamResult['notDue'];
  /** Nothing was stored for the stream before this run: every column is new, none worth announcing. */
  firstSync = false;
  readonly reasons: string[] = [];
  private startedAt = Date.now();
  private readonly before: ReturnType<EndpointCounters['get']>;

  constructor(
    readonly stream: ResolvedStream,
    private readonly counters: EndpointCounters,
  ) {
    this.before = this.counts();
  }

  /** Requests of the stream's endpoint and of its fallback (a stream may have read with either). */
  private counts(): ReturnType<EndpointCounters['get']> {
    const own = this.counters.get(this.stream.endpoint);
    const fallback = this.stream.changedParents?.fallback?.endpoint;
    if (fallback === undefined) return own;
    const other = this.counters.get(fallback);
    return {
      requests: own.requests + other.requests,
      retries: own.retries + other.retries,
      rateLimited: own.rateLimited + other.rateLimited,
    };
  }

  /** Starts the clock again: the duration is the stream's own, not the wait for the streams before it. */
  restartClock(): void {
    this.startedAt = Date.now();
  }

  reject(reason: string): void {
    this.rejects.set(reason, (this.rejects.get(reason) ?? 0) + 1);
  }

  get rejected(): number {
    let n = 0;
    for (const count of this.rejects.values()) n += count;
    return n;
  }

  result(status: StreamResult['status'], error?: StreamResult['error']): StreamResult {
    const after = this.counts();
    const rejected = this.rejected;
    return {
      stream: this.stream.name,
      endpoint: this.stream.endpoint,
      status,
      mode: this.mode,
      reason: this.reasons.join('; '),
      pages: this.pages,
      records: this.records,
      inserted: this.inserted,
      updated: this.updated,
      unchanged: this.unchanged,
      undeleted: this.undeleted,
      deleted: this.deleted,
      droppedConfidential: this.droppedConfidential,
      rejected,
      ...(rejected > 0 ? { rejects: [...this.rejects].map(([reason, count]) => ({ reason, count })) } : {}),
      newColumns: this.firstSync ? [] : [...this.newColumns],
      ...(this.notDue ? { notDue: this.notDue } : {}),
      ...(this.notices.size > 0 || this.notStored > 0
        ? {
            notices: [
              ...(this.notStored > 0
                ? [`${this.notStored} record${this.notStored === 1 ? '' : 's'} not stored`]
                : []),
              ...this.notices,
            ],
          }
        : {}),
      requests: after.requests - this.before.requests,
      retries: after.retries - this.before.retries,
      rateLimited: after.rateLimited - this.before.rateLimited,
      durationMs: Date.now() - this.startedAt,
      ...(error ? { error } : {}),
    };
  }
}

/** What a sink needs to know about a stream. */
export function shapeOf(stream: ResolvedStream): StreamShape {
  return {
    name: stream.name,
    primaryKey: stream.primaryKey,
    ...(stream.customFieldsObjectType ? { customFieldsObjectType: stream.customFieldsObjectType } : {}),
    ...(stream.customFieldsPath ? { customFieldsPath: stream.customFieldsPath } : {}),
  };
}

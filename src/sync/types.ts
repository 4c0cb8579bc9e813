import type { ErrorInfo } from '../ashby/errors.js';

/** How a stream's pass read Ashby. */
export type PassMode = 'full' | 'incremental';

/** What happened to one stream in a sync run. */
export interface StreamResult {
  stream: string;
  endpoint: string;
  /**
   * `ok`: every page committed · `skipped`: not attempted (permission, parent, another run holds its lock)
   * · `failed`: error · `aborted`: stopped because the run stopped.
   */
  status: 'ok' | 'skipped' | 'failed' | 'aborted';
  /** Mode of the last pass (`null` when nothing was read). */
  mode: PassMode | null;
  /** Why this mode, and anything notable (token discarded, pass resumed, cursor expired). */
  reason: string;
  pages: number;
  records: number;
  inserted: number;
  updated: number;
  unchanged: number;
  undeleted: number;
  /** Rows soft-deleted after a complete full pass. */
  deleted: number;
  /** Records left out by `--exclude-confidential`. */
  droppedConfidential: number;
  /**
   * Records that could not be stored: no primary key, or one of the wrong type. Each is in the run log
   * with its reason; the stream goes on without them. The engine always sets it (0 when none).
   */
  rejected?: number;
  /** Why records were rejected, with how many each (present when some were). */
  rejects?: Array<{ reason: string; count: number }>;
  /** Columns added for fields seen for the first time. */
  newColumns: string[];
  /**
   * Present when the stream was not read because it has no sync token and its last complete read
   * (`lastReadAt`) is within its refresh interval; `nextReadAt` is when a run reads it again (absent for an
   * endless interval). Its status is `ok` and it made no request.
   * @example { lastReadAt: '2026-03-02T06:00:00.000Z', nextReadAt: '2026-03-03T06:00:00.000Z' }
   */
  notDue?: { lastReadAt: string; nextReadAt?: string };
  /**
   * What the sink did differently from its rules (fields kept only in `_ashpipe_raw`, records it could
   * not store); absent when nothing.
   */
  notices?: string[];
  requests: number;
  retries: number;
  rateLimited: number;
  durationMs: number;
  /**
   * Set for `skipped` and `failed`: Ashby's code, message and requestId when there is one; for `skipped`
   * also the permission the key lacks (`scope`, e.g. `offersRead`) and its `module` (e.g. `Offers: Read`).
   */
  error?: ErrorInfo & { scope?: string; module?: string };
}

/** What a sync run did. `--json` prints this. */
export interface SyncSummary {
  /** Where the data went (no credentials). */
  target: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** 0 everything synced · 3 some streams skipped or failed, or records rejected · 1 the run stopped (bad key). */
  exitCode: 0 | 1 | 3;
  streams: StreamResult[];
  totals: {
    records: number;
    inserted: number;
    updated: number;
    deleted: number;
    requests: number;
    retries: number;
    rateLimited: number;
    /** Records rejected by every stream (the engine always sets it). */
    rejected?: number;
    /** Streams not read because they were still fresh (see {@link StreamResult.notDue}; the engine always sets it). */
    notDue?: number;
  };
  /** Set when the whole run stopped (authentication failure). */
  fatal?: { code?: string; message: string; requestId?: string };
  /**
   * Set by a run with `onDelete: 'purge'`: candidates erased after the run (and their applications),
   * anonymised candidates whose older copies were rewritten, and why the purge failed when it did (the rows stay soft-deleted; the next run tries again; exit code 3).
   */
  purged?: { candidates: number; applications: number; anonymised?: number; error?: string };
}

/** Progress of a run, for live lines and logs. */
export type SyncEvent =
  | { type: 'stream-start'; stream: string; endpoint: string; mode: PassMode; reason: string }
  | { type: 'page'; stream: string; pages: number; records: number }
  | { type: 'stream-end'; result: StreamResult }
  | { type: 'warning'; stream?: string; message: string }
  /**
   * The stream's stored `syncToken` is dropped for a full pass: Ashby refused it (`reason` is Ashby's
   * code, e.g. `sync_token_expired`), or a `full_refresh` or a `reconcile` pass was chosen.
   */
  | { type: 'token-reset'; stream: string; reason: string };

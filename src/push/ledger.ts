/**
 * The exactly-once ledger, the quarantine and the run log, stored in the control store. Functions take
 * the better-sqlite3 connection first, so callers decide on transactions.
 *
 * States: `pending` (read, valid, not yet sent) → `in-flight` (a write was about to leave; committed
 * before the request is sent) → `done` (with the Ashby id) | `failed` (Ashby refused the record).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { SqliteDatabase, SqliteStatement } from '../util/sqlite.js';
import { OUTCOME_UNKNOWN } from './operations/shared.js';
import type { RecordStatus } from './types.js';

export type LedgerState = 'pending' | 'in-flight' | 'done' | 'failed';

/** One ledger row. */
export interface LedgerEntry {
  operation: string;
  recordKey: string;
  state: LedgerState;
  ashbyId: string | null;
  status: RecordStatus | null;
  step: string | null;
  stepData: Record<string, unknown>;
  attempts: number;
  runId: string | null;
  error: string | null;
}

interface LedgerRow {
  operation: string;
  record_key: string;
  state: LedgerState;
  ashby_id: string | null;
  status: string | null;
  step: string | null;
  step_data: string | null;
  attempts: number;
  run_id: string | null;
  error: string | null;
}

/** A JSON object column (written by this module), `{}` when NULL or empty. */
function jsonObject(text: string | null): Record<string, unknown> {
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

function toEntry(row: LedgerRow): LedgerEntry {
  return {
    operation: row.operation,
    recordKey: row.record_key,
    state: row.state,
    ashbyId: row.ashby_id,
    status: row.status as RecordStatus | null,
    step: row.step,
    stepData: jsonObject(row.step_data),
    attempts: row.attempts,
    runId: row.run_id,
    error: row.error,
  };
}

const now = () => new Date().toISOString();

/** Statements prepared once per connection: a push prepares the same few for every record. */
const statements = new WeakMap<SqliteDatabase, Map<string, SqliteStatement>>();

function prepared(db: SqliteDatabase, sql: string): SqliteStatement {
  let cache = statements.get(db);
  if (!cache) {
    cache = new Map();
    statements.set(db, cache);
  }
  let statement = cache.get(sql);
  if (!statement) {
    statement = db.prepare(sql);
    cache.set(sql, statement);
  }
  return statement;
}

export function getLedgerEntry(
  db: SqliteDatabase,
  operation: string,
  recordKey: string,
): LedgerEntry | undefined {
  const row = prepared(db, 'SELECT * FROM push_ledger WHERE operation = ? AND record_key = ?').get(
    operation,
    recordKey,
  ) as LedgerRow | undefined;
  return row ? toEntry(row) : undefined;
}

/** Whether the ledger holds any record of `operation`. */
export function hasLedgerEntries(db: SqliteDatabase, operation: string): boolean {
  return prepared(db, 'SELECT 1 FROM push_ledger WHERE operation = ? LIMIT 1').get(operation) !== undefined;
}

/** Records a valid record as pending unless the ledger already knows it; returns the current entry. */
export function ensurePending(
  db: SqliteDatabase,
  operation: string,
  recordKey: string,
  runId: string,
): LedgerEntry {
  const t = now();
  prepared(
    db,
    `INSERT INTO push_ledger (operation, record_key, state, run_id, created_at, updated_at)
     VALUES (?, ?, 'pending', ?, ?, ?) ON CONFLICT (operation, record_key) DO NOTHING`,
  ).run(operation, recordKey, runId, t, t);
  return getLedgerEntry(db, operation, recordKey) as LedgerEntry;
}

/** Marks a write as about to leave; committed before the request is sent. */
export function markInFlight(
  db: SqliteDatabase,
  operation: string,
  recordKey: string,
  runId: string,
  step: string,
  stepData: Record<string, unknown>,
): void {
  prepared(
    db,
    `UPDATE push_ledger SET state = 'in-flight', step = ?, step_data = ?, attempts = attempts + 1, run_id = ?,
       error = NULL, updated_at = ? WHERE operation = ? AND record_key = ?`,
  ).run(step, JSON.stringify(stepData), runId, now(), operation, recordKey);
}

/** Saves progress between steps without changing the state. */
export function saveStep(
  db: SqliteDatabase,
  operation: string,
  recordKey: string,
  step: string,
  stepData: Record<string, unknown>,
): void {
  prepared(
    db,
    'UPDATE push_ledger SET step = ?, step_data = ?, updated_at = ? WHERE operation = ? AND record_key = ?',
  ).run(step, JSON.stringify(stepData), now(), operation, recordKey);
}

/** A write was answered with a definite refusal: it did not happen, so the record goes back to `state`. */
export function markNotSent(
  db: SqliteDatabase,
  operation: string,
  recordKey: string,
  state: 'pending' | 'failed',
  error: string | null,
): void {
  prepared(
    db,
    'UPDATE push_ledger SET state = ?, error = ?, updated_at = ? WHERE operation = ? AND record_key = ?',
  ).run(state, error, now(), operation, recordKey);
}

export function markDone(
  db: SqliteDatabase,
  operation: string,
  recordKey: string,
  ashbyId: string | undefined,
  status: RecordStatus,
  stepData?: Record<string, unknown>,
): void {
  prepared(
    db,
    `UPDATE push_ledger SET state = 'done', ashby_id = ?, status = ?, error = NULL,
       step_data = COALESCE(?, step_data), updated_at = ? WHERE operation = ? AND record_key = ?`,
  ).run(ashbyId ?? null, status, stepData ? JSON.stringify(stepData) : null, now(), operation, recordKey);
}

/** Counts of ledger rows per state for one operation. */
export function ledgerCounts(db: SqliteDatabase, operation: string): Record<LedgerState, number> {
  const counts: Record<LedgerState, number> = { pending: 0, 'in-flight': 0, done: 0, failed: 0 };
  const rows = prepared(
    db,
    'SELECT state, COUNT(*) AS n FROM push_ledger WHERE operation = ? GROUP BY state',
  ).all(operation) as Array<{ state: LedgerState; n: number }>;
  for (const r of rows) counts[r.state] = r.n;
  return counts;
}

// ---------------------------------------------------------------------------------------------------
// Quarantine

/** One quarantined record. */
export interface QuarantineEntry {
  id: number;
  runId: string;
  at: string;
  operation: string;
  rowNumber: number | null;
  recordKey: string | null;
  errorCode: string;
  errorMessage: string;
  fieldPath: string | null;
  requestId: string | null;
  /** The record as read from the input. */
  raw: unknown;
  /** How the run that quarantined it was set up (mapping, policy), for replay. */
  options: Record<string, unknown>;
  status: QuarantineStatus;
  /** The record's place in its input, kept when the record is corrected (see {@link NewQuarantineEntry}). */
  inputKey: string | null;
  closedAt: string | null;
  /** @example 'push run 3f2c…' or 'ashpipe quarantine resolve' */
  closedBy: string | null;
  /** When the raw input was cleared at the end of the quarantine retention (`raw` is then `null`). */
  rawClearedAt: string | null;
}

interface QuarantineRow {
  id: number;
  run_id: string;
  at: string;
  operation: string;
  row_number: number | null;
  record_key: string | null;
  error_code: string;
  error_message: string;
  field_path: string | null;
  request_id: string | null;
  raw: string;
  options: string | null;
  status: QuarantineStatus;
  input_key: string | null;
  closed_at: string | null;
  closed_by: string | null;
  raw_cleared_at: string | null;
}

function toQuarantine(row: QuarantineRow): QuarantineEntry {
  return {
    id: row.id,
    runId: row.run_id,
    at: row.at,
    operation: row.operation,
    rowNumber: row.row_number,
    recordKey: row.record_key,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    fieldPath: row.field_path,
    requestId: row.request_id,
    raw: JSON.parse(row.raw) as unknown,
    options: jsonObject(row.options),
    status: row.status,
    inputKey: row.input_key,
    closedAt: row.closed_at,
    closedBy: row.closed_by,
    rawClearedAt: row.raw_cleared_at,
  };
}

/**
 * `open` until closed: `replayed` (a replay applied it), `resolved` (a person marked it fixed some other
 * way) or `dismissed` (a person decided it is not to be pushed).
 */
export type QuarantineStatus = 'open' | 'replayed' | 'resolved' | 'dismissed';

export interface NewQuarantineEntry {
  runId: string;
  operation: string;
  rowNumber?: number | undefined;
  recordKey?: string | undefined;
  errorCode: string;
  errorMessage: string;
  fieldPath?: string | undefined;
  requestId?: string | undefined;
  raw: unknown;
  options?: Record<string, unknown>;
  /**
   * The record's place in its input, which a correction of the record does not change: its `--key`
   * value, or its row in that file or flow. A later run that applies the record at this place closes
   * the entry as `resolved`.
   * @example 'key:cand-0042'
   */
  inputKey?: string | undefined;
}

/** The open entry a new quarantining of `entry` updates, if any (see {@link addQuarantine}). */
function openEntryOf(db: SqliteDatabase, entry: NewQuarantineEntry): number | undefined {
  if (entry.recordKey !== undefined) {
    const same = prepared(
      db,
      `SELECT id FROM push_quarantine WHERE operation = ? AND record_key = ? AND status = 'open'
         ORDER BY id DESC LIMIT 1`,
    ).get(entry.operation, entry.recordKey) as { id: number } | undefined;
    if (same) return same.id;
  }
  if (entry.inputKey === undefined) return undefined;
  // A write whose outcome is unknown keeps its own entry: its record key names a ledger row in flight.
  const place = prepared(
    db,
    `SELECT id FROM push_quarantine WHERE operation = ? AND input_key = ? AND status = 'open'
       AND error_code <> ? ORDER BY id DESC LIMIT 1`,
  ).get(entry.operation, entry.inputKey, OUTCOME_UNKNOWN) as { id: number } | undefined;
  return place?.id;
}

/**
 * Quarantines a record. A record already open in the quarantine under the same operation and record key
 * (the same row of a rerun, or a replay that failed again), or at the same place in its input (the row
 * was corrected and fails for another reason), has its entry updated with the latest record, run and
 * error instead of gaining a second one; returns the entry id.
 */
export function addQuarantine(db: SqliteDatabase, entry: NewQuarantineEntry): number {
  return db.transaction(() => {
    const open = openEntryOf(db, entry);
    if (open === undefined) return insertQuarantine(db, entry);
    prepared(
      db,
      `UPDATE push_quarantine SET run_id = @runId, at = @at, row_number = @rowNumber,
         record_key = COALESCE(@recordKey, record_key), error_code = @errorCode, error_message = @errorMessage,
         field_path = @fieldPath, request_id = @requestId, raw = @raw, options = @options,
         input_key = COALESCE(input_key, @inputKey), raw_cleared_at = NULL WHERE id = @id`,
    ).run({ ...quarantineColumns(entry), id: open });
    return open;
  })();
}

/** An entry's column values, by the named parameters the quarantine's statements use. */
function quarantineColumns(entry: NewQuarantineEntry): Record<string, string | number | null> {
  return {
    runId: entry.runId,
    at: now(),
    operation: entry.operation,
    rowNumber: entry.rowNumber ?? null,
    recordKey: entry.recordKey ?? null,
    errorCode: entry.errorCode,
    errorMessage: entry.errorMessage,
    fieldPath: entry.fieldPath ?? null,
    requestId: entry.requestId ?? null,
    raw: JSON.stringify(entry.raw ?? null),
    options: JSON.stringify(entry.options ?? {}),
    inputKey: entry.inputKey ?? null,
  };
}

function insertQuarantine(db: SqliteDatabase, entry: NewQuarantineEntry): number {
  const result = prepared(
    db,
    `INSERT INTO push_quarantine (run_id, at, operation, row_number, record_key, error_code, error_message,
         field_path, request_id, raw, options, input_key)
       VALUES (@runId, @at, @operation, @rowNumber, @recordKey, @errorCode, @errorMessage, @fieldPath, @requestId,
         @raw, @options, @inputKey)`,
  ).run(quarantineColumns(entry));
  return Number(result.lastInsertRowid);
}

/** How long a quarantine entry keeps its raw input, by default. */
export const DEFAULT_QUARANTINE_RETENTION_DAYS = 30;

/**
 * Clears the raw input of quarantine entries older than `retentionDays` (the entry, its reason and
 * status stay), then overwrites the freed pages (SQLite `secure_delete`, VACUUM, WAL truncated) so the
 * input is gone from the file too. Returns how many entries were cleared.
 * @example clearExpiredQuarantineInput(db, 30)
 */
export function clearExpiredQuarantineInput(
  db: SqliteDatabase,
  retentionDays: number = DEFAULT_QUARANTINE_RETENTION_DAYS,
  at: Date = new Date(),
): number {
  const cutoff = new Date(at.getTime() - retentionDays * 86_400_000).toISOString();
  const expired = prepared(
    db,
    'SELECT 1 FROM push_quarantine WHERE raw_cleared_at IS NULL AND at < ? LIMIT 1',
  ).get(cutoff);
  if (!expired) return 0;
  db.pragma('secure_delete = ON');
  const result = prepared(
    db,
    `UPDATE push_quarantine SET raw = 'null', raw_cleared_at = ? WHERE raw_cleared_at IS NULL AND at < ?`,
  ).run(at.toISOString(), cutoff);
  // secure_delete zeroes the old cells; the VACUUM also rewrites pages, and the checkpoint empties the WAL
  // of the old page images. A VACUUM refused (another statement running) must not fail the push run.
  try {
    db.exec('VACUUM');
  } catch {
    // the cells are zeroed already
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  return result.changes;
}

/** Filters of {@link listQuarantine}. */
export interface QuarantineFilter {
  /** @default 'open' */
  status?: QuarantineStatus | 'all';
  operation?: string;
  runId?: string;
  /** @default 1000 */
  limit?: number;
}

export function listQuarantine(db: SqliteDatabase, filter: QuarantineFilter = {}): QuarantineEntry[] {
  const where: string[] = [];
  const params: unknown[] = [];
  const status = filter.status ?? 'open';
  if (status !== 'all') {
    where.push('status = ?');
    params.push(status);
  }
  if (filter.operation) {
    where.push('operation = ?');
    params.push(filter.operation);
  }
  if (filter.runId) {
    where.push('run_id = ?');
    params.push(filter.runId);
  }
  params.push(filter.limit ?? 1000);
  const rows = prepared(
    db,
    `SELECT * FROM push_quarantine ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT ?`,
  ).all(...params) as QuarantineRow[];
  return rows.map(toQuarantine);
}

export function getQuarantine(db: SqliteDatabase, id: number): QuarantineEntry | undefined {
  const row = prepared(db, 'SELECT * FROM push_quarantine WHERE id = ?').get(id) as QuarantineRow | undefined;
  return row ? toQuarantine(row) : undefined;
}

/**
 * Sets an entry's status; `closedBy` says who or what closed it.
 * @example setQuarantineStatus(db, 12, 'dismissed', 'ashpipe quarantine dismiss')
 */
export function setQuarantineStatus(
  db: SqliteDatabase,
  id: number,
  status: QuarantineEntry['status'],
  closedBy?: string,
): void {
  const open = status === 'open';
  prepared(db, 'UPDATE push_quarantine SET status = ?, closed_at = ?, closed_by = ? WHERE id = ?').run(
    status,
    open ? null : now(),
    open ? null : (closedBy ?? null),
    id,
  );
}

/** Whether `operation` has open entries that a later run could close (see {@link resolveByInput}). */
export function hasResolvableQuarantine(db: SqliteDatabase, operation: string): boolean {
  return (
    prepared(
      db,
      `SELECT 1 FROM push_quarantine WHERE operation = ? AND status = 'open' AND input_key IS NOT NULL
         AND error_code <> ? LIMIT 1`,
    ).get(operation, OUTCOME_UNKNOWN) !== undefined
  );
}

/**
 * A record at `inputKey` was applied: its open entries are closed as `resolved` by `closedBy`. Entries of
 * a write whose outcome is unknown stay open: only a person (or a replay's look-up) can say whether Ashby
 * has that record, and the applied one may be a second copy of it. Returns the ids closed.
 */
export function resolveByInput(
  db: SqliteDatabase,
  operation: string,
  inputKey: string,
  closedBy: string,
): number[] {
  const rows = prepared(
    db,
    `UPDATE push_quarantine SET status = 'resolved', closed_at = ?, closed_by = ?
       WHERE operation = ? AND input_key = ? AND status = 'open' AND error_code <> ?
       RETURNING id`,
  ).all(now(), closedBy, operation, inputKey, OUTCOME_UNKNOWN) as Array<{ id: number }>;
  return rows.map((r) => r.id);
}

// ---------------------------------------------------------------------------------------------------
// Runs

/** Runs of this process still going: a run row of this pid is live exactly when it is listed here. */
const liveRuns = new Set<string>();

/** Whether the process that started a run is still alive (on another host: assumed alive). */
function ownerAlive(run: { id: string; pid: number | null; host: string | null }): boolean {
  if (run.pid === null) return false;
  if (run.host !== null && run.host !== hostname()) return true;
  if (run.pid === process.pid) return liveRuns.has(run.id);
  try {
    process.kill(run.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A second push of one operation on one ledger while the first is running. */
export class PushRunConflictError extends Error {
  override name = 'PushRunConflictError';
}

/**
 * Starts a run. A run that writes owns its operation's ledger until {@link finishRun}: two processes (or
 * two flows) pushing the same operation at once would both find a record pending, or both reconcile it
 * before the other's create is visible, and send it twice — so the second is refused. Runs whose process
 * died (kill -9) are marked `abandoned` and their records are reconciled by the new run.
 */
export function startRun(db: SqliteDatabase, operation: string, input: string, dryRun: boolean): string {
  const id = randomUUID();
  db.transaction(() => {
    if (!dryRun) {
      const open = prepared(
        db,
        'SELECT id, pid, host FROM push_runs WHERE operation = ? AND dry_run = 0 AND finished_at IS NULL',
      ).all(operation) as Array<{ id: string; pid: number | null; host: string | null }>;
      for (const run of open) {
        if (ownerAlive(run))
          throw new PushRunConflictError(
            `another push of ${operation} is running on this ledger (run ${run.id}, pid ${run.pid}${
              run.host ? ` on ${run.host}` : ''
            }); wait for it to finish, then run again`,
          );
        prepared(db, "UPDATE push_runs SET finished_at = ?, outcome = 'abandoned' WHERE id = ?").run(
          now(),
          run.id,
        );
      }
    }
    prepared(
      db,
      'INSERT INTO push_runs (id, operation, input, dry_run, started_at, pid, host) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ).run(id, operation, input, dryRun ? 1 : 0, now(), process.pid, hostname());
  }).immediate();
  liveRuns.add(id);
  return id;
}

export function finishRun(
  db: SqliteDatabase,
  id: string,
  outcome: string,
  counts: Record<string, number>,
): void {
  liveRuns.delete(id);
  prepared(db, 'UPDATE push_runs SET finished_at = ?, outcome = ?, counts = ? WHERE id = ?').run(
    now(),
    outcome,
    JSON.stringify(counts),
    id,
  );
}

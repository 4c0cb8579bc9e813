/**
 * The exactly-once ledger, the quarantine and the run log, stored in the control store (SQLite or
 * PostgreSQL, through the typed query layer). Functions take the query layer (`control.db`, or a
 * transaction of `Control.transaction`) first, so callers decide on transactions; the two that read and
 * then write (`startRun`, `addQuarantine`) take the `Control` and open their own.
 *
 * States: `pending` (read, valid, not yet sent) → `in-flight` (a write was about to leave; committed
 * before the request is sent) → `done` (with the Ashby id) | `failed` (Ashby refused the record).
 *
 * Entries and runs belong to the Ashby account the push writes to (`src/push/account.ts`). Entries
 * written before accounts belong to the shared scope `''`: such an entry answers for its record key under
 * every account (an account finds its own entry or the shared one, never both: shared entries are never
 * written again), since nothing says which account received the record.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { type ExpressionBuilder, type Kysely, type Selectable, sql } from 'kysely';
import type { Control } from '../control/open.js';
import type { ControlDatabase, PushLedgerTable, PushQuarantineTable } from '../control/schema.js';
import { OUTCOME_UNKNOWN } from './operations/shared.js';
import type { RecordStatus } from './types.js';

/** The control store's query layer, or a transaction of it. */
export type ControlDb = Kysely<ControlDatabase>;

/** The account of ledger entries and runs written before accounts (see the module's comment). */
export const SHARED_ACCOUNT = '';

/**
 * One operation's ledger on one account. A bare operation name is the shared scope
 * ({@link SHARED_ACCOUNT}), the one ledger a store had before accounts.
 * @example { operation: 'candidate.create', account: 'credential:3f2c…' }
 */
export type LedgerScope = string | { operation: string; account: string };

function scopeOf(scope: LedgerScope): { operation: string; account: string } {
  return typeof scope === 'string' ? { operation: scope, account: SHARED_ACCOUNT } : scope;
}

/** The accounts whose entries `account` sees: its own and the shared ones. */
function visibleAccounts(account: string): string[] {
  return account === SHARED_ACCOUNT ? [SHARED_ACCOUNT] : [SHARED_ACCOUNT, account];
}

export type LedgerState = 'pending' | 'in-flight' | 'done' | 'failed';

/** One ledger row. */
export interface LedgerEntry {
  /** The entry's account: the push's, or {@link SHARED_ACCOUNT} for an entry written before accounts. */
  account: string;
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

/** A JSON object column (written by this module), `{}` when NULL or empty. */
function jsonObject(text: string | null): Record<string, unknown> {
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

function toEntry(row: Selectable<PushLedgerTable>): LedgerEntry {
  return {
    account: row.account,
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

/** The scope of the entry itself, which the writes below name: the push's account, or the shared one. */
export function entryScope(entry: LedgerEntry): LedgerScope {
  return { operation: entry.operation, account: entry.account };
}

/** The entry `scope`'s account sees for `recordKey`: its own, or the shared one written before accounts. */
export async function getLedgerEntry(
  db: ControlDb,
  scope: LedgerScope,
  recordKey: string,
): Promise<LedgerEntry | undefined> {
  const { operation, account } = scopeOf(scope);
  const row = await db
    .selectFrom('push_ledger')
    .selectAll()
    .where('account', 'in', visibleAccounts(account))
    .where('operation', '=', operation)
    .where('record_key', '=', recordKey)
    // The shared entry first, should both exist (they cannot: see the module's comment).
    .orderBy('account')
    .limit(1)
    .executeTakeFirst();
  return row ? toEntry(row) : undefined;
}

/** Whether the ledger holds any record of `scope` (its account's or shared). */
export async function hasLedgerEntries(db: ControlDb, scope: LedgerScope): Promise<boolean> {
  const { operation, account } = scopeOf(scope);
  const row = await db
    .selectFrom('push_ledger')
    .select('operation')
    .where('account', 'in', visibleAccounts(account))
    .where('operation', '=', operation)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Records a valid record as pending unless the ledger already knows it (under the account, or shared);
 * returns the current entry. The insert is one statement (`ON CONFLICT DO NOTHING`), so two writers
 * never both create the row.
 */
export async function ensurePending(
  db: ControlDb,
  scope: LedgerScope,
  recordKey: string,
  runId: string,
): Promise<LedgerEntry> {
  const known = await getLedgerEntry(db, scope, recordKey);
  if (known) return known;
  const { operation, account } = scopeOf(scope);
  const t = now();
  await db
    .insertInto('push_ledger')
    .values({
      account,
      operation,
      record_key: recordKey,
      state: 'pending',
      run_id: runId,
      created_at: t,
      updated_at: t,
    })
    .onConflict((oc) => oc.columns(['account', 'operation', 'record_key']).doNothing())
    .execute();
  const entry = await getLedgerEntry(db, scope, recordKey);
  if (!entry) throw new Error(`the ledger lost ${operation} ${recordKey} right after writing it`);
  return entry;
}

/**
 * Marks a write as about to leave; committed before the request is sent. Returns `false`, and changes
 * nothing, when the record must not be sent by this run: it is done already, or the run no longer owns
 * its operation (another process found the run's owner dead and took the ledger over). The condition is
 * part of the UPDATE itself, so it holds on PostgreSQL without a lock: whichever writer commits first
 * wins, the other sees no row changed.
 */
export async function markInFlight(
  db: ControlDb,
  /** The entry's own scope ({@link entryScope}). */
  scope: LedgerScope,
  recordKey: string,
  runId: string,
  step: string,
  stepData: Record<string, unknown>,
): Promise<boolean> {
  const result = await db
    .updateTable('push_ledger')
    .set((eb) => ({
      state: 'in-flight',
      step,
      step_data: JSON.stringify(stepData),
      attempts: eb('attempts', '+', 1),
      run_id: runId,
      error: null,
      updated_at: now(),
    }))
    .where('account', '=', scopeOf(scope).account)
    .where('operation', '=', scopeOf(scope).operation)
    .where('record_key', '=', recordKey)
    .where('state', '<>', 'done')
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('push_runs')
          .select('push_runs.id')
          .where('push_runs.id', '=', runId)
          .where('push_runs.finished_at', 'is', null),
      ),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Saves progress between steps without changing the state. */
export async function saveStep(
  db: ControlDb,
  /** The entry's own scope ({@link entryScope}). */
  scope: LedgerScope,
  recordKey: string,
  step: string,
  stepData: Record<string, unknown>,
): Promise<void> {
  await db
    .updateTable('push_ledger')
    .set({ step, step_data: JSON.stringify(stepData), updated_at: now() })
    .where('account', '=', scopeOf(scope).account)
    .where('operation', '=', scopeOf(scope).operation)
    .where('record_key', '=', recordKey)
    .execute();
}

/** A write was answered with a definite refusal: it did not happen, so the record goes back to `state`. */
export async function markNotSent(
  db: ControlDb,
  /** The entry's own scope ({@link entryScope}). */
  scope: LedgerScope,
  recordKey: string,
  state: 'pending' | 'failed',
  error: string | null,
): Promise<void> {
  await db
    .updateTable('push_ledger')
    .set({ state, error, updated_at: now() })
    .where('account', '=', scopeOf(scope).account)
    .where('operation', '=', scopeOf(scope).operation)
    .where('record_key', '=', recordKey)
    .execute();
}

export async function markDone(
  db: ControlDb,
  /** The entry's own scope ({@link entryScope}). */
  scope: LedgerScope,
  recordKey: string,
  ashbyId: string | undefined,
  status: RecordStatus,
  stepData?: Record<string, unknown>,
): Promise<void> {
  await db
    .updateTable('push_ledger')
    .set((eb) => ({
      state: 'done',
      ashby_id: ashbyId ?? null,
      status,
      error: null,
      step_data: stepData ? JSON.stringify(stepData) : eb.ref('step_data'),
      updated_at: now(),
    }))
    .where('account', '=', scopeOf(scope).account)
    .where('operation', '=', scopeOf(scope).operation)
    .where('record_key', '=', recordKey)
    .execute();
}

/** Counts of ledger rows per state that `scope`'s account sees (its own and the shared ones). */
export async function ledgerCounts(db: ControlDb, scope: LedgerScope): Promise<Record<LedgerState, number>> {
  const { operation, account } = scopeOf(scope);
  const counts: Record<LedgerState, number> = { pending: 0, 'in-flight': 0, done: 0, failed: 0 };
  const rows = await db
    .selectFrom('push_ledger')
    .select((eb) => ['state', eb.fn.countAll<number>().as('n')])
    .where('account', 'in', visibleAccounts(account))
    .where('operation', '=', operation)
    .groupBy('state')
    .execute();
  for (const r of rows) counts[r.state] = Number(r.n);
  return counts;
}

/** What {@link claimShared} gave an account, and what it left shared. */
export interface SharedClaim {
  /** Ledger entries that now belong to the account. */
  entries: number;
  /** Quarantine entries that now belong to the account. */
  quarantine: number;
  /** Shared ledger entries left as they are: the account has its own entry for their record. */
  keptShared: number;
}

/**
 * Gives the entries written before accounts ({@link SHARED_ACCOUNT}) to `account`, the Ashby account they
 * were pushed to, so that other accounts stop skipping their records. A shared entry whose record the
 * account already has an entry for stays shared (the account's own answers for it). `operation` limits it
 * to one operation; `dryRun` counts without changing anything. Run it in one transaction.
 */
export async function claimShared(
  db: ControlDb,
  account: string,
  options: { operation?: string; dryRun?: boolean } = {},
): Promise<SharedClaim> {
  if (account === SHARED_ACCOUNT) throw new Error('the shared scope cannot claim entries');
  const { operation, dryRun = false } = options;
  const ownsKey = (eb: ExpressionBuilder<ControlDatabase, 'push_ledger'>) =>
    eb.exists(
      eb
        .selectFrom('push_ledger as own')
        .select('own.record_key')
        .where('own.account', '=', account)
        .whereRef('own.operation', '=', 'push_ledger.operation')
        .whereRef('own.record_key', '=', 'push_ledger.record_key'),
    );
  const shared = (eb: ExpressionBuilder<ControlDatabase, 'push_ledger'>) =>
    eb.and([
      eb('push_ledger.account', '=', SHARED_ACCOUNT),
      ...(operation === undefined ? [] : [eb('push_ledger.operation', '=', operation)]),
    ]);
  const count = async (owned: boolean) =>
    Number(
      (
        await db
          .selectFrom('push_ledger')
          .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
          .where((eb) => eb.and([shared(eb), owned ? ownsKey(eb) : eb.not(ownsKey(eb))]))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const keptShared = await count(true);
  let quarantine = db
    .selectFrom('push_quarantine')
    .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
    .where('account', '=', SHARED_ACCOUNT);
  if (operation !== undefined) quarantine = quarantine.where('operation', '=', operation);
  if (dryRun)
    return {
      entries: await count(false),
      quarantine: Number((await quarantine.executeTakeFirstOrThrow()).n),
      keptShared,
    };
  const moved = await db
    .updateTable('push_ledger')
    .set({ account })
    .where((eb) => eb.and([shared(eb), eb.not(ownsKey(eb))]))
    .executeTakeFirst();
  let claimQuarantine = db
    .updateTable('push_quarantine')
    .set({ account })
    .where('account', '=', SHARED_ACCOUNT);
  if (operation !== undefined) claimQuarantine = claimQuarantine.where('operation', '=', operation);
  const claimed = await claimQuarantine.executeTakeFirst();
  return {
    entries: Number(moved.numUpdatedRows),
    quarantine: Number(claimed.numUpdatedRows),
    keptShared,
  };
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
  /**
   * The Ashby account of the push that quarantined it (`src/push/account.ts`), or {@link SHARED_ACCOUNT}
   * for an entry written before accounts (which any account's push may close or replay).
   */
  account: string;
}

/**
 * `open` until closed: `replayed` (a replay applied it), `resolved` (a person marked it fixed some other
 * way) or `dismissed` (a person decided it is not to be pushed).
 */
export type QuarantineStatus = 'open' | 'replayed' | 'resolved' | 'dismissed';

export interface NewQuarantineEntry {
  runId: string;
  operation: string;
  /** The Ashby account the push writes to. @default {@link SHARED_ACCOUNT} */
  account?: string | undefined;
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
async function openEntryOf(db: ControlDb, entry: NewQuarantineEntry): Promise<number | undefined> {
  // The account's own entries first, then one written before accounts (see `0440-quarantine-account`).
  const accounts = visibleAccounts(entry.account ?? SHARED_ACCOUNT);
  if (entry.recordKey !== undefined) {
    const same = await db
      .selectFrom('push_quarantine')
      .select('id')
      .where('account', 'in', accounts)
      .where('operation', '=', entry.operation)
      .where('record_key', '=', entry.recordKey)
      .where('status', '=', 'open')
      .orderBy('account', 'desc')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (same) return same.id;
  }
  if (entry.inputKey === undefined) return undefined;
  // A write whose outcome is unknown keeps its own entry: its record key names a ledger row in flight.
  const place = await db
    .selectFrom('push_quarantine')
    .select('id')
    .where('account', 'in', accounts)
    .where('operation', '=', entry.operation)
    .where('input_key', '=', entry.inputKey)
    .where('status', '=', 'open')
    .where('error_code', '<>', OUTCOME_UNKNOWN)
    .orderBy('account', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return place?.id;
}

/**
 * Quarantines a record. A record already open in the quarantine under the same operation and record key
 * (the same row of a rerun, or a replay that failed again), or at the same place in its input (the row
 * was corrected and fails for another reason), has its entry updated with the latest record, run and
 * error instead of gaining a second one; returns the entry id. Only an entry of the same account is
 * updated (or one written before accounts, which the account then takes over): another account's
 * entry of the same record is that account's to close or replay. The look-up and the write run in one
 * `Control.transaction` (writers serialised on both dialects), so two runs quarantining the same record
 * at once never add two entries.
 */
export function addQuarantine(control: Control, entry: NewQuarantineEntry): Promise<number> {
  return control.transaction(async (trx) => {
    const open = await openEntryOf(trx, entry);
    const c = quarantineColumns(entry);
    if (open === undefined) {
      const row = await trx.insertInto('push_quarantine').values(c).returning('id').executeTakeFirstOrThrow();
      return row.id;
    }
    await trx
      .updateTable('push_quarantine')
      .set((eb) => ({
        run_id: c.run_id,
        at: c.at,
        row_number: c.row_number,
        record_key: c.record_key ?? eb.ref('record_key'),
        error_code: c.error_code,
        error_message: c.error_message,
        field_path: c.field_path,
        request_id: c.request_id,
        raw: c.raw,
        options: c.options,
        input_key: eb.fn.coalesce('input_key', eb.val(c.input_key)),
        raw_cleared_at: null,
        account: c.account,
      }))
      .where('id', '=', open)
      .execute();
    return open;
  });
}

/** An entry's column values. */
function quarantineColumns(entry: NewQuarantineEntry) {
  return {
    run_id: entry.runId,
    account: entry.account ?? SHARED_ACCOUNT,
    at: now(),
    operation: entry.operation,
    row_number: entry.rowNumber ?? null,
    record_key: entry.recordKey ?? null,
    error_code: entry.errorCode,
    error_message: entry.errorMessage,
    field_path: entry.fieldPath ?? null,
    request_id: entry.requestId ?? null,
    raw: JSON.stringify(entry.raw ?? null),
    options: JSON.stringify(entry.options ?? {}),
    input_key: entry.inputKey ?? null,
  };
}

/** How long a quarantine entry keeps its raw input, by default. */
export const DEFAULT_QUARANTINE_RETENTION_DAYS = 30;

/**
 * Clears the raw input of quarantine entries older than `retentionDays` (the entry, its reason and
 * status stay), then has the freed space overwritten so the input is gone from the store's files too:
 * SQLite with `secure_delete`, VACUUM and the WAL truncated; PostgreSQL with `VACUUM FULL` of the table
 * (a new file; the old row versions go with the old one). Returns how many entries were cleared.
 * @example await clearExpiredQuarantineInput(control, 30)
 */
export async function clearExpiredQuarantineInput(
  control: Control,
  retentionDays: number = DEFAULT_QUARANTINE_RETENTION_DAYS,
  at: Date = new Date(),
): Promise<number> {
  const cutoff = new Date(at.getTime() - retentionDays * 86_400_000).toISOString();
  const { db } = control;
  const expired = await db
    .selectFrom('push_quarantine')
    .select('id')
    .where('raw_cleared_at', 'is', null)
    .where('at', '<', cutoff)
    .limit(1)
    .executeTakeFirst();
  if (!expired) return 0;
  const sqlite = control.sqlite?.db;
  sqlite?.pragma('secure_delete = ON');
  const result = await db
    .updateTable('push_quarantine')
    .set({ raw: 'null', raw_cleared_at: at.toISOString() })
    .where('raw_cleared_at', 'is', null)
    .where('at', '<', cutoff)
    .executeTakeFirst();
  // A VACUUM refused (another statement running, a lock held) must not fail the push run: on SQLite the
  // cells are zeroed already, on PostgreSQL the next run that clears something tries again.
  try {
    if (sqlite)
      // Through the query layer's one connection, so no other caller's transaction is open on it. The
      // checkpoint empties the WAL of the old page images.
      await db.connection().execute(async () => {
        sqlite.exec('VACUUM');
        sqlite.pragma('wal_checkpoint(TRUNCATE)');
      });
    else await sql`VACUUM FULL push_quarantine`.execute(db);
  } catch {
    // see above
  }
  return Number(result.numUpdatedRows);
}

/** Filters of {@link listQuarantine}. */
export interface QuarantineFilter {
  /** @default 'open' */
  status?: QuarantineStatus | 'all';
  operation?: string;
  runId?: string;
  /** Only the entries of this account (not those written before accounts). */
  account?: string;
  /** @default 1000 */
  limit?: number;
}

function toQuarantine(row: Selectable<PushQuarantineTable>): QuarantineEntry {
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
    status: row.status as QuarantineStatus,
    inputKey: row.input_key,
    closedAt: row.closed_at,
    closedBy: row.closed_by,
    rawClearedAt: row.raw_cleared_at,
    account: row.account,
  };
}

export async function listQuarantine(
  db: ControlDb,
  filter: QuarantineFilter = {},
): Promise<QuarantineEntry[]> {
  let query = db.selectFrom('push_quarantine').selectAll();
  const status = filter.status ?? 'open';
  if (status !== 'all') query = query.where('status', '=', status);
  if (filter.operation) query = query.where('operation', '=', filter.operation);
  if (filter.runId) query = query.where('run_id', '=', filter.runId);
  if (filter.account !== undefined) query = query.where('account', '=', filter.account);
  const rows = await query
    .orderBy('id')
    .limit(filter.limit ?? 1000)
    .execute();
  return rows.map(toQuarantine);
}

/** The accounts that have quarantine entries, each once. */
export async function quarantineAccounts(db: ControlDb): Promise<string[]> {
  const rows = await db
    .selectFrom('push_quarantine')
    .select('account')
    .distinct()
    .orderBy('account')
    .execute();
  return rows.map((r) => r.account);
}

export async function getQuarantine(db: ControlDb, id: number): Promise<QuarantineEntry | undefined> {
  const row = await db.selectFrom('push_quarantine').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toQuarantine(row) : undefined;
}

/**
 * Sets an entry's status; `closedBy` says who or what closed it.
 * @example await setQuarantineStatus(control.db, 12, 'dismissed', 'ashpipe quarantine dismiss')
 */
export async function setQuarantineStatus(
  db: ControlDb,
  id: number,
  status: QuarantineEntry['status'],
  closedBy?: string,
): Promise<void> {
  const open = status === 'open';
  await db
    .updateTable('push_quarantine')
    .set({ status, closed_at: open ? null : now(), closed_by: open ? null : (closedBy ?? null) })
    .where('id', '=', id)
    .execute();
}

/** Whether `scope` has open entries that a later run could close (see {@link resolveByInput}). */
export async function hasResolvableQuarantine(db: ControlDb, scope: LedgerScope): Promise<boolean> {
  const { operation, account } = scopeOf(scope);
  const row = await db
    .selectFrom('push_quarantine')
    .select('id')
    .where('account', 'in', visibleAccounts(account))
    .where('operation', '=', operation)
    .where('status', '=', 'open')
    .where('input_key', 'is not', null)
    .where('error_code', '<>', OUTCOME_UNKNOWN)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * A record at `inputKey` was applied to `scope`'s account: its open entries of that account (and those
 * written before accounts) are closed as `resolved` by `closedBy`; another account's entry of the same
 * place stays open, that account does not have the record yet. Entries of
 * a write whose outcome is unknown stay open: only a person (or a replay's look-up) can say whether Ashby
 * has that record, and the applied one may be a second copy of it. Returns the ids closed.
 */
export async function resolveByInput(
  db: ControlDb,
  scope: LedgerScope,
  inputKey: string,
  closedBy: string,
): Promise<number[]> {
  const { operation, account } = scopeOf(scope);
  const rows = await db
    .updateTable('push_quarantine')
    .set({ status: 'resolved', closed_at: now(), closed_by: closedBy })
    .where('account', 'in', visibleAccounts(account))
    .where('operation', '=', operation)
    .where('input_key', '=', inputKey)
    .where('status', '=', 'open')
    .where('error_code', '<>', OUTCOME_UNKNOWN)
    .returning('id')
    .execute();
  return rows.map((r) => r.id);
}

// ---------------------------------------------------------------------------------------------------
// Runs

/** Runs of this process still going: a run row of this pid is live exactly when it is listed here. */
const liveRuns = new Set<string>();

/** How often a running push writes its heartbeat (`push_runs.heartbeat_at`). */
export const RUN_HEARTBEAT_MS = 10_000;

/**
 * How old the heartbeat of a run on another machine may be before the run counts as dead and its ledger
 * is taken over: several missed heartbeats, so a busy process or a slow database is not mistaken for a
 * dead one.
 */
export const RUN_LEASE_MS = 60_000;

/**
 * Whether the process that started a run is still alive: on this machine by its pid; on another by its
 * heartbeat, fresher than {@link RUN_LEASE_MS} (a run without one, started by an older version, is assumed
 * alive).
 */
function ownerAlive(
  run: { id: string; pid: number | null; host: string | null; heartbeat_at: string | null },
  now: number,
): boolean {
  if (run.pid === null) return false;
  if (run.host !== null && run.host !== hostname())
    return run.heartbeat_at === null || now - Date.parse(run.heartbeat_at) < RUN_LEASE_MS;
  if (run.pid === process.pid) return liveRuns.has(run.id);
  try {
    process.kill(run.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A second push of one operation to one account while the first is running. */
export class PushRunConflictError extends Error {
  override name = 'PushRunConflictError';
}

/**
 * Starts a run. A run that writes owns its operation's ledger on its account until {@link finishRun}: two
 * processes (or two flows) pushing the same operation to the same account at once would both find a
 * record pending, or both reconcile it before the other's create is visible, and send it twice — so the
 * second is refused. Pushes to other accounts go on at the same time. A run of the shared scope (no
 * account: it may write to any) excludes, and is excluded by, runs of every account. Runs whose process
 * died (kill -9) are marked `abandoned` and their records are reconciled by the new run.
 *
 * The check and the insert run in one `Control.transaction`: on PostgreSQL its advisory lock makes two
 * processes starting together take turns (a row lock cannot, the second run's row does not exist yet),
 * so exactly one of them finds no open run.
 */
export async function startRun(
  control: Control,
  scope: LedgerScope,
  input: string,
  dryRun: boolean,
): Promise<string> {
  const id = randomUUID();
  // Live before its row is visible: another run of this process that reads the row once this transaction
  // commits must not take it for the row of a dead run (this function resumes a moment after the commit).
  liveRuns.add(id);
  try {
    await startRunIn(control, id, scopeOf(scope), input, dryRun);
  } catch (error) {
    liveRuns.delete(id);
    throw error;
  }
  return id;
}

async function startRunIn(
  control: Control,
  id: string,
  { operation, account }: { operation: string; account: string },
  input: string,
  dryRun: boolean,
): Promise<void> {
  await control.transaction(async (trx) => {
    if (!dryRun) {
      let query = trx
        .selectFrom('push_runs')
        .select(['id', 'pid', 'host', 'heartbeat_at'])
        .where('operation', '=', operation);
      if (account !== SHARED_ACCOUNT) query = query.where('account', 'in', visibleAccounts(account));
      const open = await query.where('dry_run', '=', 0).where('finished_at', 'is', null).execute();
      for (const run of open) {
        if (ownerAlive(run, Date.now()))
          throw new PushRunConflictError(
            `another push of ${operation} is running on this ledger${account === SHARED_ACCOUNT ? '' : ' for this account'} (run ${run.id}, pid ${run.pid}${
              run.host ? ` on ${run.host}` : ''
            }); wait for it to finish, then run again`,
          );
        await trx
          .updateTable('push_runs')
          .set({ finished_at: now(), outcome: 'abandoned' })
          .where('id', '=', run.id)
          .execute();
      }
    }
    await trx
      .insertInto('push_runs')
      .values({
        id,
        operation,
        account,
        input,
        dry_run: dryRun ? 1 : 0,
        started_at: now(),
        pid: process.pid,
        host: hostname(),
        heartbeat_at: now(),
      })
      .execute();
  });
}

/** Writes a running run's heartbeat (see {@link RUN_LEASE_MS}). */
export async function beatRun(db: ControlDb, id: string): Promise<void> {
  await db
    .updateTable('push_runs')
    .set({ heartbeat_at: now() })
    .where('id', '=', id)
    .where('finished_at', 'is', null)
    .execute();
}

export async function finishRun(
  db: ControlDb,
  id: string,
  outcome: string,
  counts: Record<string, number>,
): Promise<void> {
  liveRuns.delete(id);
  await db
    .updateTable('push_runs')
    .set({ finished_at: now(), outcome, counts: JSON.stringify(counts) })
    .where('id', '=', id)
    .execute();
}

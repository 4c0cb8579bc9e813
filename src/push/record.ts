/**
 * One record through the push engine: its operation run against the ledger (never a write sent twice),
 * retried as a reconciliation when its outcome is unknown, and its failure sorted into quarantine,
 * pending or a stop of the whole run.
 */

import { AshbyError, toErrorInfo } from '../ashby/errors.js';
import type { Prepared } from './engine.js';
import { authMessage, classifyError, type ErrorInfo, permissionMessage } from './errors.js';
import {
  ensurePending,
  entryScope,
  getLedgerEntry,
  type LedgerEntry,
  markDone,
  markInFlight,
  markNotSent,
  saveStep,
} from './ledger.js';
import { OUTCOME_UNKNOWN, RecordRejectedError } from './operations/shared.js';
import type { PushRun } from './run.js';
import type { OperationContext, OperationOutcome, WriteOptions } from './types.js';

/** A record that passed mapping and validation. */
export type ValidRecord = Extract<Prepared, { ok: true }>;

/**
 * Stops the operation at its first write in a dry run. Not an Error: it is thrown once per record, and
 * capturing a stack trace each time would cost more than the rest of the record's dry run.
 */
class DryRunStop {
  constructor(
    readonly endpoint: string,
    readonly body: unknown,
  ) {}
}

/** Raised into operations still running when the run has been stopped. */
class RunStoppedError extends Error {}

/**
 * Sends a write through the endpoint's probe and the ledger: the record is in flight while the request
 * is, and marked not sent when Ashby answered that the write did not happen.
 */
async function guardedWrite<T>(
  run: PushRun,
  record: ValidRecord,
  entry: LedgerEntry,
  endpoint: string,
  body: Record<string, unknown>,
  step: string,
  /** Adds the write's step data to the record's, once the write is sure to be sent. */
  withData: () => Record<string, unknown>,
): Promise<T> {
  const { control, client } = run.options;
  const scope = entryScope(entry);
  const release = await run.probes.enter(endpoint);
  let writeInFlight = false;
  try {
    if (run.stopped) throw new RunStoppedError();
    if (!(await markInFlight(control.db, scope, record.key, run.runId, step, withData()))) {
      // Done by another run, or this run's ownership of the ledger was taken over: never send it.
      run.stop('aborted', 'the run no longer owns the ledger (another run took it over); rerun to continue');
      throw new RunStoppedError();
    }
    writeInFlight = true;
    const res = await client.call<T>(endpoint, body);
    writeInFlight = false;
    run.probes.prove(endpoint);
    return res.results;
  } catch (error) {
    // Stop before the probe is released, so that no waiting record sends the same refused write.
    const kind = classifyError(error);
    if (kind === 'permission') run.stop('permission', permissionMessage(error, endpoint), toErrorInfo(error));
    if (kind === 'auth' && error instanceof AshbyError)
      run.stop('auth', authMessage(error), toErrorInfo(error));
    if (writeInFlight && !(error instanceof RunStoppedError) && kind !== 'outcome-unknown') {
      // Ashby answered: the write did not happen. Only an unknown outcome keeps the record in flight.
      await markNotSent(control.db, scope, record.key, kind === 'record' ? 'failed' : 'pending', null);
    }
    throw error;
  } finally {
    release?.();
  }
}

/** Runs the record's operation once, resuming from the ledger entry's step. */
async function attempt(run: PushRun, record: ValidRecord, entry: LedgerEntry): Promise<OperationOutcome> {
  const { client, control, operation, signal } = run.options;
  let data: Record<string, unknown> = { ...entry.stepData };
  const ctx: OperationContext = {
    record: record.body,
    onExisting: run.onExisting,
    dryRun: run.dryRun,
    resume: {
      step: entry.step ?? undefined,
      data: { ...entry.stepData },
      reconciling: entry.state === 'in-flight',
    },
    async read<T>(endpoint: string, body: Record<string, unknown>): Promise<T> {
      if (run.stopped) throw new RunStoppedError();
      const res = await client.call<T>(endpoint, body, signal ? { signal } : undefined);
      return res.results;
    },
    async write<T>(endpoint: string, body: Record<string, unknown>, wo: WriteOptions = {}): Promise<T> {
      if (run.dryRun) throw new DryRunStop(endpoint, body);
      return guardedWrite<T>(run, record, entry, endpoint, body, wo.step ?? endpoint, () => {
        data = { ...data, ...(wo.data ?? {}) };
        return data;
      });
    },
    async checkpoint(step: string, more: Record<string, unknown>) {
      if (run.dryRun) return;
      data = { ...data, ...more };
      await saveStep(control.db, entryScope(entry), record.key, step, data);
    },
  };
  return operation.execute(ctx);
}

/** A dry run of one record: what it would do, nothing written or recorded. */
async function dryRunRecord(run: PushRun, record: ValidRecord): Promise<void> {
  const { row, key } = record;
  const { control } = run.options;
  const done = run.ledgerUsed ? await getLedgerEntry(control.db, run.scope, key) : undefined;
  if (done?.state === 'done') {
    run.emit({
      ...run.base(row, key),
      status: 'skipped-done',
      ...(done.ashbyId ? { id: done.ashbyId } : {}),
    });
    return;
  }
  try {
    const outcome = await attempt(run, record, {
      ...run.scope,
      recordKey: key,
      state: 'pending',
      ashbyId: null,
      status: null,
      step: null,
      stepData: {},
      attempts: 0,
      runId: run.runId,
      error: null,
    });
    run.emit({ ...run.base(row, key), status: outcome.status, ...(outcome.id ? { id: outcome.id } : {}) });
  } catch (error) {
    if (error instanceof DryRunStop) {
      run.emit({
        ...run.base(row, key),
        status: 'dry-run',
        wouldSend: { endpoint: error.endpoint, body: error.body },
      });
    } else await failRecord(run, record, undefined, error);
  }
}

/** Applies one valid record exactly once, through the ledger. Never rejects for the record's own failure. */
export async function handleRecord(run: PushRun, record: ValidRecord): Promise<void> {
  if (run.dryRun) return dryRunRecord(run, record);
  const { row, key } = record;
  const { control } = run.options;
  let entry = await ensurePending(control.db, run.scope, key, run.runId);
  if (entry.state === 'done') {
    await run.applied(row);
    run.emit({
      ...run.base(row, key),
      status: 'skipped-done',
      ...(entry.ashbyId ? { id: entry.ashbyId } : {}),
    });
    return;
  }
  for (let tries = 0; ; tries++) {
    try {
      const outcome = await attempt(run, record, entry);
      await markDone(control.db, entryScope(entry), key, outcome.id, outcome.status);
      await run.applied(row);
      run.emit({
        ...run.base(row, key),
        status: outcome.status,
        ...(outcome.id ? { id: outcome.id } : {}),
        ...(outcome.reconciled ? { reconciled: true } : {}),
      });
      return;
    } catch (error) {
      if (classifyError(error) === 'outcome-unknown' && !run.stopped && tries + 1 < run.maxReconcile) {
        // Never resend blindly: the next attempt starts as a reconciliation, like a rerun after a crash.
        if (run.reconcileDelayMs > 0) await new Promise((r) => setTimeout(r, run.reconcileDelayMs));
        entry = (await getLedgerEntry(control.db, entryScope(entry), key)) as LedgerEntry;
        continue;
      }
      await failRecord(run, record, entry, error);
      return;
    }
  }
}

/** Sorts a record's failure: pending (the run stopped), quarantined (Ashby refused it), a stop, or failed. */
async function failRecord(
  run: PushRun,
  record: ValidRecord,
  /** The record's ledger entry (none in a dry run). */
  entry: LedgerEntry | undefined,
  error: unknown,
): Promise<void> {
  const { row, key } = record;
  const { control } = run.options;
  if (error instanceof RunStoppedError) {
    run.emit({ ...run.base(row, key), status: 'pending' });
    return;
  }
  if (error instanceof RecordRejectedError) {
    // An unknown outcome the operation cannot look up stays in flight: a rerun must not resend it;
    // `quarantine replay` does, once a person has checked Ashby.
    if (entry && error.code !== OUTCOME_UNKNOWN)
      await markNotSent(control.db, entryScope(entry), key, 'failed', error.message);
    const info: ErrorInfo = {
      code: error.code,
      message: error.message,
      ...(error.path ? { path: error.path } : {}),
    };
    await run.quarantine(row, key, info);
    return;
  }
  const info = toErrorInfo(error);
  const kind = classifyError(error);
  if ((kind === 'permission' || kind === 'auth') && error instanceof AshbyError) {
    const message = kind === 'auth' ? authMessage(error) : permissionMessage(error, error.endpoint);
    run.stop(kind, message, info);
    run.emit({ ...run.base(row, key), status: 'failed', error: info });
    return;
  }
  if (kind === 'record') {
    await run.quarantine(row, key, info);
    return;
  }
  // Transient, or an outcome still unknown after reconciling: the ledger keeps the record pending or
  // in flight, and the next run picks it up.
  run.emit({ ...run.base(row, key), status: 'failed', error: info });
}

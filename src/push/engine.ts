/**
 * The destination engine: reads records, maps, coerces and validates them, and applies each exactly
 * once through its operation, keeping the ledger, the quarantine and the results.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { safeStringify } from '../util/redact.js';
import type { SqliteDatabase } from '../util/sqlite.js';
import { authMessage, classifyError, type ErrorInfo, errorInfo, permissionMessage } from './errors.js';
import { coerceRecord, type FieldIssue, isBlank } from './fields.js';
import type { InputRow } from './input.js';
import {
  addQuarantine,
  ensurePending,
  finishRun,
  getLedgerEntry,
  hasLedgerEntries,
  type LedgerEntry,
  markDone,
  markInFlight,
  markNotSent,
  saveStep,
  startRun,
} from './ledger.js';
import { applyMapping, IDENTITY_MAPPING, type Mapping } from './mapping.js';
import { manualFields } from './operations/index.js';
import { OUTCOME_UNKNOWN, RecordRejectedError } from './operations/shared.js';
import type {
  AshbyCaller,
  OnExisting,
  Operation,
  OperationContext,
  OperationOutcome,
  RecordStatus,
  WriteOptions,
} from './types.js';

/** Options of {@link runPush}. */
export interface PushOptions {
  /** The Ashby client (its limiter and retry policy apply to every request). */
  client: AshbyCaller;
  /** The control store connection holding the ledger and the quarantine. */
  db: SqliteDatabase;
  /** What each record becomes in Ashby. @example findOperation('candidate.create') */
  operation: Operation;
  /** The records, in input order. */
  rows: AsyncIterable<InputRow> | Iterable<InputRow>;
  /** What the input was, for the run log. @example 'candidates.csv' */
  inputLabel?: string;
  /**
   * Identifies the input in the quarantine keys of rows that are not valid records, so that rows of two
   * inputs (or two flows) never share an entry.
   * @default inputLabel
   * @example 'flow:7d1c…' or '/data/candidates.csv'
   */
  inputKey?: string;
  /** @default every column keeps its name */
  mapping?: Mapping;
  /**
   * Input column (or mapped field path) whose value is the record's ledger key.
   * @default a hash of the normalised record (or the operation's natural key)
   */
  keyColumn?: string;
  /** @default 'skip' */
  onExisting?: OnExisting;
  /** Validate, run look-ups, report the bodies; send no write and record nothing. @default false */
  dryRun?: boolean;
  /**
   * Records handled at once. Requests still pass through the client's shared limiter.
   * @default 4
   */
  concurrency?: number;
  /** Wait before looking for the result of a write whose outcome is unknown. @default 1000 */
  reconcileDelayMs?: number;
  /** Reconciliation attempts within one run before the record is left for the next run. @default 3 */
  maxReconcileAttempts?: number;
  /** Called once per input record, in completion order. */
  onResult?: (result: RecordResult) => void;
  /** Called as each input record is read, before it is handled (progress totals). */
  onRead?: (row: InputRow) => void;
  /** Path of a JSONL file receiving one line per input record. */
  resultsFile?: string;
  /** Stored with quarantine entries so that a replay maps records the same way. */
  replayOptions?: Record<string, unknown>;
  /** Stops taking new records (a signal from the CLI on SIGINT). */
  signal?: AbortSignal;
}

/** The outcome of one input record. */
export interface RecordResult {
  row: number;
  line?: number;
  key?: string;
  status: RecordStatus;
  id?: string;
  reconciled?: boolean;
  error?: ErrorInfo;
  /** `--dry-run`: the write that would be sent, exactly (output paths mask registered secrets only). */
  wouldSend?: { endpoint: string; body: unknown };
  /** Quarantine entry id. */
  quarantineId?: number;
}

/** Why a run stopped before the end of its input. */
export interface RunStop {
  kind: 'permission' | 'auth' | 'aborted';
  message: string;
  error?: ErrorInfo;
}

/** What {@link runPush} returns. */
export interface PushSummary {
  runId: string;
  operation: string;
  dryRun: boolean;
  counts: Record<RecordStatus, number>;
  /** Records read from the input. */
  total: number;
  stopped?: RunStop;
}

/** Every record status at zero (a fresh object each call). */
export const emptyPushCounts = (): Record<RecordStatus, number> => ({
  created: 0,
  updated: 0,
  'skipped-existing': 0,
  'skipped-done': 0,
  quarantined: 0,
  failed: 0,
  'dry-run': 0,
  pending: 0,
});

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

/** JSON with sorted keys, so equal records hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value as Record<string, unknown>).sort();
    return `{${keys
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The ledger key of a normalised record without `--key`. */
export function recordHash(body: Record<string, unknown>): string {
  return `sha256:${createHash('sha256').update(canonicalJson(body)).digest('hex')}`;
}

/**
 * The quarantine key of a row that never became a valid record: the key it already has (a replayed
 * entry), its `--key` value when it has one, else a key of the input and the row — its line (or position)
 * for a row that could not be read at all, a hash of its content otherwise. It does not depend on the run,
 * so a rerun of the same input updates the row's open quarantine entry instead of adding another; it does
 * depend on the input, so two inputs (two flows) never share an entry.
 */
export function rawKey(row: InputRow, keyColumn?: string, input = ''): string {
  if (row.key !== undefined) return row.key;
  const record = row.record;
  if (keyColumn !== undefined && record !== undefined && Object.hasOwn(record, keyColumn)) {
    const v = record[keyColumn];
    if (!isBlank(v) && (typeof v !== 'object' || v === null)) return `key:${String(v).trim()}`;
  }
  const hash = (text: string) => createHash('sha256').update(text).digest('hex');
  if (record === undefined)
    return `row:${hash(`${input}\u0000${row.line !== undefined ? `line ${row.line}` : `row ${row.row}`}`)}`;
  return `raw:${hash(`${input}\u0000${canonicalJson(row.raw ?? null)}`)}`;
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  let node: unknown = obj;
  for (const seg of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[seg];
  }
  return node;
}

type Prepared =
  | { ok: true; row: InputRow; body: Record<string, unknown>; key: string }
  | { ok: false; row: InputRow; issues: FieldIssue[]; code: string; key: string };

/** Maps, coerces and validates one input row; computes its ledger key. Pure. */
export function prepareRow(
  row: InputRow,
  operation: Operation,
  mapping: Mapping = IDENTITY_MAPPING,
  keyColumn?: string,
  input = '',
): Prepared {
  const invalid = (code: string, issues: FieldIssue[]): Prepared => ({
    ok: false,
    row,
    code,
    issues,
    key: rawKey(row, keyColumn, input),
  });
  if (row.error !== undefined || row.record === undefined)
    return invalid('unreadable_row', [{ path: '', reason: row.error ?? 'no record' }]);
  const mapped = applyMapping(row.record, mapping);
  if (!mapped.ok) return invalid('invalid_record', mapped.issues);
  const fields = operation.name.startsWith('endpoint:') ? manualFields(mapped.value) : operation.fields;
  const coerced = coerceRecord(mapped.value, fields, { ignoreUnknown: mapping.ignoreUnknown });
  if (!coerced.ok) return invalid('invalid_record', coerced.issues);
  const extra = operation.check?.(coerced.value) ?? [];
  if (extra.length > 0) return invalid('invalid_record', extra);
  let key: string;
  if (keyColumn !== undefined) {
    const v = Object.hasOwn(row.record, keyColumn) ? row.record[keyColumn] : getPath(mapped.value, keyColumn);
    if (isBlank(v) || (typeof v === 'object' && v !== null))
      return invalid('invalid_record', [{ path: keyColumn, reason: 'the --key column is empty' }]);
    key = `key:${String(v).trim()}`;
  } else {
    key = operation.ledgerKey?.(coerced.value) ?? recordHash(coerced.value);
  }
  return { ok: true, row, body: coerced.value, key };
}

/**
 * Pushes records into Ashby exactly once. Resolves with the counts when the input is exhausted or the
 * run stopped (a missing permission, a refused key, an abort); per-record problems never reject.
 */
export async function runPush(options: PushOptions): Promise<PushSummary> {
  const { client, db, operation } = options;
  const dryRun = options.dryRun ?? false;
  const mapping = options.mapping ?? IDENTITY_MAPPING;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const reconcileDelayMs = options.reconcileDelayMs ?? 1000;
  const maxReconcile = options.maxReconcileAttempts ?? 3;
  const onExisting = options.onExisting ?? 'skip';
  const inputKey = options.inputKey ?? options.inputLabel ?? '';
  const counts = emptyPushCounts();
  const runId = dryRun
    ? `dry-run-${Date.now()}`
    : startRun(db, operation.name, options.inputLabel ?? '', dryRun);
  let stopped: RunStop | undefined;
  let total = 0;
  // A dry run of an operation never pushed before has nothing to find in the ledger: one query, not one per record.
  const ledgerUsed = !dryRun || hasLedgerEntries(db, operation.name);

  let resultsFd: number | undefined;
  try {
    resultsFd = options.resultsFile !== undefined ? openSync(options.resultsFile, 'w', 0o600) : undefined;
  } catch (error) {
    if (!dryRun) finishRun(db, runId, 'error', counts);
    throw error;
  }
  const emit = (result: RecordResult) => {
    counts[result.status] += 1;
    if (resultsFd !== undefined) writeSync(resultsFd, `${safeStringify(result)}\n`);
    options.onResult?.(result);
  };

  const base = (row: InputRow, key?: string): Pick<RecordResult, 'row' | 'line' | 'key'> => ({
    row: row.row,
    ...(row.line !== undefined ? { line: row.line } : {}),
    ...(key !== undefined ? { key } : {}),
  });

  /** Quarantines a record (not in a dry run) and reports it; `result` names the row (and key) reported. */
  const quarantine = (
    row: InputRow,
    key: string | undefined,
    info: ErrorInfo,
    result: Pick<RecordResult, 'row' | 'line' | 'key'> = base(row, key),
  ): void => {
    const qid = dryRun
      ? undefined
      : addQuarantine(db, {
          runId,
          operation: operation.name,
          rowNumber: row.row,
          recordKey: key,
          errorCode: info.code,
          errorMessage: info.message,
          fieldPath: info.path,
          requestId: info.requestId,
          // The row exactly as read: a replay sends it again, so it is never masked (see util/redact.ts).
          raw: row.raw,
          options: { ...(options.replayOptions ?? {}), mapping, onExisting, keyColumn: options.keyColumn },
        });
    emit({
      ...result,
      status: 'quarantined',
      error: info,
      ...(qid !== undefined ? { quarantineId: qid } : {}),
    });
  };

  // Until a write endpoint has succeeded once, only one request to it is in flight: a key without the
  // permission then costs exactly one refused write, whatever the concurrency.
  const proven = new Set<string>();
  const probes = new Map<string, Promise<void>>();

  const stop = (kind: RunStop['kind'], message: string, error?: ErrorInfo) => {
    if (!stopped) stopped = { kind, message, ...(error ? { error } : {}) };
  };

  async function attempt(
    prepared: Extract<Prepared, { ok: true }>,
    entry: LedgerEntry,
  ): Promise<OperationOutcome> {
    const { key } = prepared;
    let data: Record<string, unknown> = { ...entry.stepData };
    let writeInFlight = false;
    const ctx: OperationContext = {
      record: prepared.body,
      onExisting,
      dryRun,
      resume: {
        step: entry.step ?? undefined,
        data: { ...entry.stepData },
        reconciling: entry.state === 'in-flight',
      },
      async read<T>(endpoint: string, body: Record<string, unknown>): Promise<T> {
        if (stopped) throw new RunStoppedError();
        const res = await client.call<T>(
          endpoint,
          body,
          options.signal ? { signal: options.signal } : undefined,
        );
        return res.results;
      },
      async write<T>(endpoint: string, body: Record<string, unknown>, wo: WriteOptions = {}): Promise<T> {
        if (dryRun) throw new DryRunStop(endpoint, body);
        let release: (() => void) | undefined;
        while (!proven.has(endpoint)) {
          const running = probes.get(endpoint);
          if (!running) {
            probes.set(endpoint, new Promise<void>((r) => (release = r)));
            break;
          }
          await running;
        }
        try {
          if (stopped) throw new RunStoppedError();
          data = { ...data, ...(wo.data ?? {}) };
          markInFlight(db, operation.name, key, runId, wo.step ?? endpoint, data);
          writeInFlight = true;
          const res = await client.call<T>(endpoint, body);
          writeInFlight = false;
          proven.add(endpoint);
          return res.results;
        } catch (error) {
          // Stop before the probe is released, so that no waiting record sends the same refused write.
          const kind = classifyError(error);
          if (kind === 'permission') stop('permission', permissionMessage(error, endpoint), errorInfo(error));
          if (kind === 'auth') stop('auth', authMessage(error), errorInfo(error));
          if (
            writeInFlight &&
            !(error instanceof RunStoppedError) &&
            classifyError(error) !== 'outcome-unknown'
          ) {
            // Ashby answered: the write did not happen. Only an unknown outcome keeps the record in flight.
            writeInFlight = false;
            markNotSent(
              db,
              operation.name,
              key,
              classifyError(error) === 'record' ? 'failed' : 'pending',
              null,
            );
          }
          throw error;
        } finally {
          if (release) {
            probes.delete(endpoint);
            release();
          }
        }
      },
      checkpoint(step: string, more: Record<string, unknown>) {
        if (dryRun) return;
        data = { ...data, ...more };
        saveStep(db, operation.name, key, step, data);
      },
    };
    return operation.execute(ctx);
  }

  async function handle(prepared: Extract<Prepared, { ok: true }>): Promise<void> {
    const { row, key } = prepared;
    if (dryRun) {
      const done = ledgerUsed ? getLedgerEntry(db, operation.name, key) : undefined;
      if (done?.state === 'done') {
        emit({ ...base(row, key), status: 'skipped-done', ...(done.ashbyId ? { id: done.ashbyId } : {}) });
        return;
      }
      try {
        const outcome = await attempt(prepared, {
          operation: operation.name,
          recordKey: key,
          state: 'pending',
          ashbyId: null,
          status: null,
          step: null,
          stepData: {},
          attempts: 0,
          runId,
          error: null,
        });
        emit({ ...base(row, key), status: outcome.status, ...(outcome.id ? { id: outcome.id } : {}) });
      } catch (error) {
        if (error instanceof DryRunStop)
          emit({
            ...base(row, key),
            status: 'dry-run',
            wouldSend: { endpoint: error.endpoint, body: error.body },
          });
        else await fail(prepared, error);
      }
      return;
    }
    let entry = ensurePending(db, operation.name, key, runId);
    if (entry.state === 'done') {
      emit({ ...base(row, key), status: 'skipped-done', ...(entry.ashbyId ? { id: entry.ashbyId } : {}) });
      return;
    }
    for (let tries = 0; ; tries++) {
      try {
        const outcome = await attempt(prepared, entry);
        markDone(db, operation.name, key, outcome.id, outcome.status);
        emit({
          ...base(row, key),
          status: outcome.status,
          ...(outcome.id ? { id: outcome.id } : {}),
          ...(outcome.reconciled ? { reconciled: true } : {}),
        });
        return;
      } catch (error) {
        if (classifyError(error) === 'outcome-unknown' && !stopped && tries + 1 < maxReconcile) {
          // Never resend blindly: the next attempt starts as a reconciliation, like a rerun after a crash.
          if (reconcileDelayMs > 0) await new Promise((r) => setTimeout(r, reconcileDelayMs));
          entry = getLedgerEntry(db, operation.name, key) as LedgerEntry;
          continue;
        }
        await fail(prepared, error);
        return;
      }
    }
  }

  async function fail(prepared: Extract<Prepared, { ok: true }>, error: unknown): Promise<void> {
    const { row, key } = prepared;
    if (error instanceof RunStoppedError) {
      emit({ ...base(row, key), status: 'pending' });
      return;
    }
    if (error instanceof RecordRejectedError) {
      // An unknown outcome the operation cannot look up stays in flight: a rerun must not resend it;
      // `quarantine replay` does, once a person has checked Ashby.
      if (!dryRun && error.code !== OUTCOME_UNKNOWN)
        markNotSent(db, operation.name, key, 'failed', error.message);
      const info: ErrorInfo = {
        code: error.code,
        message: error.message,
        ...(error.path ? { path: error.path } : {}),
      };
      quarantine(row, key, info);
      return;
    }
    const info = errorInfo(error);
    const kind = classifyError(error);
    if (kind === 'permission') {
      const endpoint =
        typeof (error as { endpoint?: unknown }).endpoint === 'string'
          ? (error as { endpoint: string }).endpoint
          : operation.name;
      stop('permission', permissionMessage(error, endpoint), info);
      emit({ ...base(row, key), status: 'failed', error: info });
      return;
    }
    if (kind === 'auth') {
      stop('auth', authMessage(error), info);
      emit({ ...base(row, key), status: 'failed', error: info });
      return;
    }
    if (kind === 'record') {
      quarantine(row, key, info);
      return;
    }
    // Transient, or an outcome still unknown after reconciling: the ledger keeps the record pending or
    // in flight, and the next run picks it up.
    emit({ ...base(row, key), status: 'failed', error: info });
  }

  const running = new Set<Promise<void>>();
  const inRun = new Map<string, Promise<void>>();
  try {
    for await (const row of options.rows) {
      total += 1;
      options.onRead?.(row);
      if (!stopped && options.signal?.aborted) stop('aborted', 'the run was interrupted; rerun to continue');
      if (stopped) {
        // The rest of the input is read only to report it: each row gets a `pending` line.
        const p = prepareRow(row, operation, mapping, options.keyColumn, inputKey);
        emit({ ...base(row, p.ok ? p.key : undefined), status: 'pending' });
        continue;
      }
      const prepared = prepareRow(row, operation, mapping, options.keyColumn, inputKey);
      if (!prepared.ok) {
        const first = prepared.issues[0];
        const info: ErrorInfo = {
          code: prepared.code,
          message: prepared.issues.map((i) => (i.path ? `${i.path}: ${i.reason}` : i.reason)).join('; '),
          ...(first?.path ? { path: first.path } : {}),
        };
        quarantine(row, prepared.key, info, base(row));
        continue;
      }
      // The same record twice in one input, or two records of one Ashby object (same email): the second
      // waits for the first, then finds it done or finds what the first created.
      const natural = operation.naturalKey?.(prepared.body);
      const locks = natural !== undefined ? [prepared.key, `natural:${natural}`] : [prepared.key];
      const earlier = locks.map((k) => inRun.get(k)).filter((p) => p !== undefined);
      const task = (async () => {
        await Promise.all(earlier);
        await handle(prepared);
      })();
      for (const k of locks) inRun.set(k, task);
      running.add(task);
      void task.finally(() => {
        running.delete(task);
        // Forget finished records, or the map would grow with the input.
        for (const k of locks) if (inRun.get(k) === task) inRun.delete(k);
      });
      while (running.size >= concurrency) await Promise.race(running);
    }
    await Promise.all(running);
  } catch (error) {
    // The run ends here: it must not keep the ledger (a run lock) for the rest of this process.
    await Promise.allSettled(running);
    if (!dryRun) finishRun(db, runId, 'error', counts);
    throw error;
  } finally {
    if (resultsFd !== undefined) {
      fsyncSync(resultsFd);
      closeSync(resultsFd);
    }
  }
  if (!dryRun) finishRun(db, runId, stopped ? `stopped:${stopped.kind}` : 'finished', counts);
  return { runId, operation: operation.name, dryRun, counts, total, ...(stopped ? { stopped } : {}) };
}

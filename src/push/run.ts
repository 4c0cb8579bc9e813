/**
 * What one push run shares between its records: the options with their defaults, the counts, the results
 * file, the ledger's run, the quarantine, and why the run stopped.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { maskPersonalText, personalValuesOf } from '../privacy/messages.js';
import { defined } from '../util/defined.js';
import { safeStringify } from '../util/redact.js';
import type { PushOptions, RecordResult, RunStop } from './engine.js';
import type { ErrorInfo } from './errors.js';
import { isBlank } from './fields.js';
import type { InputRow } from './input.js';
import {
  addQuarantine,
  beatRun,
  clearExpiredQuarantineInput,
  entryScope,
  finishRun,
  getLedgerEntry,
  hasLedgerEntries,
  hasResolvableQuarantine,
  markNotSent,
  RUN_HEARTBEAT_MS,
  resolveByInput,
  SHARED_ACCOUNT,
  startRun,
} from './ledger.js';
import { IDENTITY_MAPPING, type Mapping } from './mapping.js';
import type { OnExisting, RecordStatus } from './types.js';

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

/** The row (and key) a result names. */
export type ResultBase = Pick<RecordResult, 'row' | 'line' | 'key'>;

/**
 * Until a write endpoint has succeeded once, only one request to it is in flight: a key without the
 * permission then costs exactly one refused write, whatever the concurrency.
 */
class WriteProbes {
  private readonly proven = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();

  /** Waits for the endpoint's probe; returns the release of a new probe when this write is it. */
  async enter(endpoint: string): Promise<(() => void) | undefined> {
    while (!this.proven.has(endpoint)) {
      const running = this.running.get(endpoint);
      if (!running) {
        let release!: () => void;
        this.running.set(endpoint, new Promise<void>((r) => (release = r)));
        return () => {
          this.running.delete(endpoint);
          release();
        };
      }
      await running;
    }
    return undefined;
  }

  /** The endpoint answered a write: later writes to it need no probe. */
  prove(endpoint: string): void {
    this.proven.add(endpoint);
  }
}

/** One push run's shared state. */
export class PushRun {
  readonly counts = emptyPushCounts();
  readonly runId: string;
  /** The operation's ledger on the push's account. */
  readonly scope: { operation: string; account: string };
  readonly dryRun: boolean;
  readonly mapping: Mapping;
  readonly concurrency: number;
  readonly reconcileDelayMs: number;
  readonly maxReconcile: number;
  readonly onExisting: OnExisting;
  /** Identifies the input in the quarantine keys of unreadable or invalid rows. */
  readonly inputKey: string;
  /** A dry run of an operation never pushed before has nothing to find in the ledger: one query, not one per record. */
  readonly ledgerUsed: boolean;
  readonly probes = new WriteProbes();
  /** Whether applied records may close earlier entries: one query per run, not one per record when none can. */
  private readonly resolvable: boolean;
  stopped: RunStop | undefined;
  total = 0;
  private readonly resultsFd: number | undefined;
  /** Keeps the run's heartbeat fresh while it owns the ledger (not in a dry run). */
  private readonly heartbeat: NodeJS.Timeout | undefined;

  private constructor(
    readonly options: PushOptions,
    runId: string,
    ledgerUsed: boolean,
    resolvable: boolean,
    resultsFd: number | undefined,
  ) {
    this.dryRun = options.dryRun ?? false;
    this.mapping = options.mapping ?? IDENTITY_MAPPING;
    this.concurrency = Math.max(1, options.concurrency ?? 4);
    this.reconcileDelayMs = options.reconcileDelayMs ?? 1000;
    this.maxReconcile = options.maxReconcileAttempts ?? 3;
    this.onExisting = options.onExisting ?? 'skip';
    this.inputKey = options.inputKey ?? options.inputLabel ?? '';
    this.runId = runId;
    this.scope = { operation: options.operation.name, account: options.account ?? SHARED_ACCOUNT };
    this.ledgerUsed = ledgerUsed;
    this.resolvable = resolvable;
    this.resultsFd = resultsFd;
    if (!this.dryRun) {
      // A heartbeat that fails (the database away for a moment) is written again at the next beat.
      this.heartbeat = setInterval(() => {
        beatRun(options.control.db, runId).catch(() => {});
      }, RUN_HEARTBEAT_MS);
      this.heartbeat.unref();
    }
  }

  /** Starts a run: expired quarantine input cleared, the run recorded (it owns the ledger), results opened. */
  static async start(options: PushOptions): Promise<PushRun> {
    const { control, operation } = options;
    const dryRun = options.dryRun ?? false;
    if (!dryRun) await clearExpiredQuarantineInput(control, options.quarantineRetentionDays);
    const scope = { operation: operation.name, account: options.account ?? SHARED_ACCOUNT };
    const ledgerUsed = !dryRun || (await hasLedgerEntries(control.db, scope));
    const resolvable = !dryRun && (await hasResolvableQuarantine(control.db, scope));
    const runId = dryRun
      ? `dry-run-${Date.now()}`
      : await startRun(control, scope, options.inputLabel ?? '', dryRun);
    let resultsFd: number | undefined;
    try {
      if (!dryRun)
        for (const key of options.resendInFlight ?? []) {
          // Only a write still in flight: one applied since (done) must never be sent again.
          const entry = await getLedgerEntry(control.db, scope, key);
          if (entry?.state === 'in-flight')
            await markNotSent(control.db, entryScope(entry), key, 'pending', null);
        }
      resultsFd = options.resultsFile !== undefined ? openSync(options.resultsFile, 'w', 0o600) : undefined;
    } catch (error) {
      if (!dryRun) await finishRun(control.db, runId, 'error', emptyPushCounts());
      throw error;
    }
    return new PushRun(options, runId, ledgerUsed, resolvable, resultsFd);
  }

  /** Counts a record's outcome and reports it (results file, `onResult`). */
  emit(result: RecordResult): void {
    // Reasons may quote the input; the email regex of maskPersonalText covers the rest.
    if (result.error) result.error = { ...result.error, message: maskPersonalText(result.error.message) };
    this.counts[result.status] += 1;
    if (this.resultsFd !== undefined) writeSync(this.resultsFd, `${safeStringify(result)}\n`);
    this.options.onResult?.(result);
  }

  base(row: InputRow, key?: string): ResultBase {
    return {
      row: row.row,
      ...defined({ line: row.line, key }),
    };
  }

  /**
   * The row's place in its input, which stays when the row is corrected: the key it already has (a
   * replayed entry), its `--key` value, else its row number in this input (file or flow).
   */
  inputKeyOf(row: InputRow): string {
    if (row.inputKey !== undefined) return row.inputKey;
    const { keyColumn } = this.options;
    const v = keyColumn !== undefined ? row.record?.[keyColumn] : undefined;
    if (!isBlank(v) && (typeof v !== 'object' || v === null)) return `key:${String(v).trim()}`;
    return `row:${createHash('sha256').update(`${this.inputKey}\u0000${row.row}`).digest('hex')}`;
  }

  /**
   * The row's record was applied (or found applied): earlier entries of its place in the input are
   * closed as `resolved` by this run.
   */
  async applied(row: InputRow): Promise<void> {
    if (this.resolvable)
      await resolveByInput(
        this.options.control.db,
        this.scope,
        this.inputKeyOf(row),
        `push run ${this.runId}`,
      );
  }

  /** Quarantines a record (not in a dry run) and reports it; `result` names the row (and key) reported. */
  async quarantine(
    row: InputRow,
    key: string | undefined,
    reported: ErrorInfo,
    result: ResultBase = this.base(row, key),
  ): Promise<void> {
    const { options } = this;
    // The reason is kept beyond the raw input's retention: the personal values it quotes are masked.
    const message = maskPersonalText(reported.message, [
      ...personalValuesOf(row.record),
      ...personalValuesOf(row.raw),
    ]);
    const info = { ...reported, message };
    const qid = this.dryRun
      ? undefined
      : await addQuarantine(options.control, {
          runId: this.runId,
          operation: options.operation.name,
          account: this.scope.account,
          rowNumber: row.row,
          recordKey: key,
          inputKey: this.inputKeyOf(row),
          errorCode: info.code,
          errorMessage: info.message,
          fieldPath: info.path,
          requestId: info.requestId,
          // The row exactly as read: a replay sends it again, so it is never masked (see util/redact.ts).
          raw: row.raw,
          options: {
            ...(options.replayOptions ?? {}),
            mapping: this.mapping,
            onExisting: this.onExisting,
            keyColumn: options.keyColumn,
          },
        });
    this.emit({
      ...result,
      status: 'quarantined',
      error: info,
      ...defined({ quarantineId: qid }),
    });
  }

  /** Stops the run (the first reason wins): the rest of the input is reported pending. */
  stop(kind: RunStop['kind'], message: string, error?: ErrorInfo): void {
    if (!this.stopped) this.stopped = { kind, message, ...(error ? { error } : {}) };
  }

  /** Flushes the results file. */
  closeResults(): void {
    if (this.resultsFd !== undefined) {
      fsyncSync(this.resultsFd);
      closeSync(this.resultsFd);
    }
  }

  /** Records how the run ended in the ledger. */
  async finish(status: string): Promise<void> {
    clearInterval(this.heartbeat);
    if (!this.dryRun) await finishRun(this.options.control.db, this.runId, status, this.counts);
  }
}

/**
 * The destination engine: reads records, maps, coerces and validates them, and applies each exactly
 * once through its operation, keeping the ledger, the quarantine and the results.
 */
import { createHash } from 'node:crypto';
import type { Control } from '../control/open.js';
import { inSpan } from '../observability/tracing.js';
import type { ErrorInfo } from './errors.js';
import { coerceRecord, type FieldIssue, isBlank } from './fields.js';
import type { InputRow } from './input.js';
import { applyMapping, IDENTITY_MAPPING, type Mapping } from './mapping.js';
import { manualFields } from './operations/index.js';
import { handleRecord } from './record.js';
import { PushRun } from './run.js';
import type { AshbyCaller, OnExisting, Operation, RecordStatus } from './types.js';

export { emptyPushCounts } from './run.js';

/** Options of {@link runPush}. */
export interface PushOptions {
  /** The Ashby client (its limiter and retry policy apply to every request). */
  client: AshbyCaller;
  /** The control store (SQLite or PostgreSQL) holding the ledger, the runs and the quarantine. */
  control: Control;
  /**
   * The Ashby account the push writes to (`pushAccount` in `src/push/account.ts`): the ledger, the run
   * and the one-push-at-a-time rule are its own, so another account pushing the same records gets them
   * too, at the same time.
   * @default the shared scope, as before accounts: one ledger and one push at a time for every account
   * @example 'credential:3f2c…'
   */
  account?: string;
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
  /**
   * Days a quarantined record's raw input is kept; older inputs are cleared when the run starts.
   * @default 30
   */
  quarantineRetentionDays?: number;
  /**
   * Record keys whose write had an unknown outcome and that the operation cannot look up, to send again on
   * a person's word that Ashby does not have them (a quarantine replay): their in-flight ledger entries
   * are set back to pending once the run owns its account's ledger.
   */
  resendInFlight?: readonly string[];
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

/** JSON with sorted keys, so equal records hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
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
function recordHash(body: Record<string, unknown>): string {
  return `sha256:${createHash('sha256').update(canonicalJson(body)).digest('hex')}`;
}

/**
 * The quarantine key of a row that never became a valid record: the key it already has (a replayed
 * entry), its `--key` value when it has one, else a key of the input and the row — its line (or position)
 * for a row that could not be read at all, a hash of its content otherwise. It does not depend on the run,
 * so a rerun of the same input updates the row's open quarantine entry instead of adding another; it does
 * depend on the input, so two inputs (two flows) never share an entry.
 */
function rawKey(row: InputRow, keyColumn?: string, input = ''): string {
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

/** A row after mapping and validation: a record to apply, or why it cannot be. */
export type Prepared =
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

/** Why a row never became a valid record, as the quarantine keeps it. */
function invalidInfo(prepared: Extract<Prepared, { ok: false }>): ErrorInfo {
  const first = prepared.issues[0];
  return {
    code: prepared.code,
    message: prepared.issues.map((i) => (i.path ? `${i.path}: ${i.reason}` : i.reason)).join('; '),
    ...(first?.path ? { path: first.path } : {}),
  };
}

/**
 * Pushes records into Ashby exactly once. Resolves with the counts when the input is exhausted or the
 * run stopped (a missing permission, a refused key, an abort); per-record problems never reject.
 * Records run `concurrency` at a time; two records of one ledger key or one natural key (the same email)
 * run one after the other, so the second finds what the first did.
 */
export function runPush(options: PushOptions): Promise<PushSummary> {
  // One trace per run when tracing is on: each Ashby request is a span under it.
  return inSpan(
    'ashpipe push',
    { 'ashpipe.operation': options.operation.name },
    async (span) => {
      const summary = await pushInSpan(options);
      span.setAttribute('ashpipe.records', summary.total);
      return summary;
    },
    { root: true },
  );
}

async function pushInSpan(options: PushOptions): Promise<PushSummary> {
  const run = await PushRun.start(options);
  const running = new Set<Promise<void>>();
  const inRun = new Map<string, Promise<void>>();
  try {
    for await (const row of options.rows) {
      run.total += 1;
      options.onRead?.(row);
      if (!run.stopped && options.signal?.aborted)
        run.stop('aborted', 'the run was interrupted; rerun to continue');
      const prepared = prepareRow(row, options.operation, run.mapping, options.keyColumn, run.inputKey);
      if (run.stopped) {
        // The rest of the input is read only to report it: each row gets a `pending` line.
        run.emit({ ...run.base(row, prepared.ok ? prepared.key : undefined), status: 'pending' });
        continue;
      }
      if (!prepared.ok) {
        await run.quarantine(row, prepared.key, invalidInfo(prepared), run.base(row));
        continue;
      }
      const natural = options.operation.naturalKey?.(prepared.body);
      const keys = natural !== undefined ? [prepared.key, `natural:${natural}`] : [prepared.key];
      const earlier = keys.map((k) => inRun.get(k)).filter((p) => p !== undefined);
      const task = (async () => {
        await Promise.all(earlier);
        await handleRecord(run, prepared);
      })();
      for (const k of keys) inRun.set(k, task);
      running.add(task);
      void task.finally(() => {
        running.delete(task);
        // Forget finished records, or the map would grow with the input.
        for (const k of keys) if (inRun.get(k) === task) inRun.delete(k);
      });
      while (running.size >= run.concurrency) await Promise.race(running);
    }
    await Promise.all(running);
  } catch (error) {
    // The run ends here: it must not keep the ledger (a run lock) for the rest of this process.
    await Promise.allSettled(running);
    await run.finish('error');
    throw error;
  } finally {
    run.closeResults();
  }
  await run.finish(run.stopped ? `stopped:${run.stopped.kind}` : 'finished');
  return {
    runId: run.runId,
    operation: options.operation.name,
    dryRun: run.dryRun,
    counts: run.counts,
    total: run.total,
    ...(run.stopped ? { stopped: run.stopped } : {}),
  };
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installAnalytics, openAnalyticsTarget } from '../analytics/index.js';
import { AshbyClient } from '../ashby/client.js';
import { toErrorInfo } from '../ashby/errors.js';
import { logClientEvent } from '../ashby/log-events.js';
import type { Control } from '../control/open.js';
import { ATTR } from '../observability/tracing.js';
import {
  controlStoreEraser,
  eraseFromControlStore,
  type HashKeySource,
  loadTransformer,
  type OnDelete,
  type PiiPolicy,
  PiiPolicyError,
  type PiiTransformer,
  parseOnDelete,
  parsePolicyDocument,
  policyHashes,
  policyOf,
} from '../privacy/index.js';
import { credentialAccount } from '../push/account.js';
import { emptyPushCounts, type PushSummary, runPush } from '../push/engine.js';
import { type InputRow, type InputSource, inputLabelOf, readInput } from '../push/input.js';
import { PushRunConflictError } from '../push/ledger.js';
import { IDENTITY_MAPPING, type Mapping } from '../push/mapping.js';
import { resolveOperation } from '../push/operations/resolve.js';
import type { OnExisting, Operation } from '../push/types.js';
import { selectStreams } from '../streams/index.js';
import { readFirstPage } from '../sync/first-page.js';
import { HistoryOptionError, parseHistoryStreams } from '../sync/history-option.js';
import { parseRefreshAfter, type RefreshAfter, RefreshAfterError } from '../sync/refresh.js';
import { syncToTarget } from '../sync/run.js';
import type { StreamResult, SyncEvent } from '../sync/types.js';
import { defined } from '../util/defined.js';
import { ValidationError } from './errors.js';
import type { DestinationFlowConfig, RunCount, RunErrorInfo, Target } from './model.js';
import type { DryRunReport, FlowEngine, RunOutcome } from './services.js';

/** The sink target string of a source flow's target (the same strings `ashpipe sync --target` takes). */
export function targetString(target: Target): string {
  if (target.type === 'sqlite') return `sqlite:${path.resolve(target.path)}`;
  if (target.type === 'jsonl') return `jsonl:${path.resolve(target.path)}`;
  if (!target.schema) return target.url;
  const url = new URL(target.url);
  url.searchParams.set('schema', target.schema);
  return url.toString();
}

/**
 * A source flow's `options.refreshAfter` (the CLI's `--refresh-after` syntax, e.g. `"12h,approvals=0"`) as
 * the engine's option.
 * @throws ValidationError naming the option and the part that is wrong
 */
export function refreshAfterOption(value: unknown): { refreshAfter?: RefreshAfter } {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'string') {
    throw new ValidationError(
      'options.refreshAfter: expected a string like "24h" or "sources=7d,approvals=0"',
    );
  }
  try {
    return { refreshAfter: parseRefreshAfter(value) };
  } catch (error) {
    if (error instanceof RefreshAfterError)
      throw new ValidationError(`options.refreshAfter: ${error.message}`);
    throw error;
  }
}

function countOf(r: StreamResult): RunCount {
  const status = r.status === 'ok' ? 'succeeded' : r.status === 'aborted' ? 'failed' : r.status;
  return {
    name: r.stream,
    status,
    read: r.records,
    written: r.inserted + r.updated + r.undeleted,
    deleted: r.deleted,
    // The requests it took and how many Ashby answered 429: the run-health charts of the console.
    requests: r.requests,
    rateLimited: r.rateLimited,
    // Kept with the run: alerts (`schema_changed`) and the console read them from there.
    ...(r.newColumns.length > 0 ? { newColumns: r.newColumns } : {}),
    // A stream left alone because its last read is still fresh says so, and when it is next read.
    ...(r.error ? { message: r.error.message } : r.notDue ? { message: r.reason } : {}),
  };
}

/** A positive number option of a flow, or undefined when absent; a 422 naming it when unusable. */
function positiveOption(
  options: Record<string, unknown>,
  name: string,
  integer: boolean,
): number | undefined {
  const v = options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v) || (integer && !Number.isInteger(v)))
    throw new ValidationError(
      `options.${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`,
      [{ path: `options.${name}`, message: `expected a positive ${integer ? 'integer' : 'number'}` }],
    );
  return v;
}

/**
 * The request options of a source flow, as `syncToTarget` takes them; checked when the flow is saved and
 * again when it runs.
 * @throws ValidationError (422) naming an option that is not a positive number.
 */
export function sourceRequestOptions(options: Record<string, unknown>): {
  requestsPerSecond?: number;
  maxConcurrent?: number;
} {
  const requestsPerSecond = positiveOption(options, 'requestsPerSecond', false);
  const maxConcurrent = positiveOption(options, 'concurrency', true);
  return {
    ...defined({ requestsPerSecond, maxConcurrent }),
  };
}

/**
 * Source flows run the CLI's sync (`syncToTarget`): same client, limiter, sinks, checkpoints and summary.
 * Options as `ashpipe sync` takes them: `fullRefresh`, `excludeConfidential`, `includeArchived`,
 * `requestsPerSecond` (cap on request starts per second, default none) and `concurrency` (requests in
 * flight at once, default 2); `analytics` (the views of `ashpipe analytics` installed after each run that
 * did not fail, as `sync --analytics`); `history` (stream names or `all`: every version kept in
 * `<stream>_history`, as `sync --history`); `piiPolicy` ({@link flowPolicy}) and `onDelete`
 * ({@link flowOnDelete}).
 */
export const syncEngine: FlowEngine = (flow, ctx) => sourceEngine()(flow, ctx);

/**
 * The source engine, with where its PII policy finds the hash key (the home's master key): a flow whose
 * `options.piiPolicy` is `default` (or a document) has its records hashed, masked or dropped before they
 * are written.
 */
export function sourceEngine(hashKey?: HashKeySource, control?: Control): FlowEngine {
  return (flow, ctx) => runSource(flow, ctx, hashKey, control);
}

/**
 * Whether a source flow installs the analytics views after its runs (`options.analytics`).
 * @throws ValidationError when it is not a boolean, or is on for a JSONL target (no SQL, so no views)
 */
export function flowAnalytics(options: Record<string, unknown>, target: Target): boolean {
  const value = options.analytics;
  if (value === undefined || value === false) return false;
  if (value !== true)
    throw new ValidationError(`options.analytics: expected true or false, got ${JSON.stringify(value)}`, [
      { path: 'options.analytics', message: 'expected a boolean' },
    ]);
  if (target.type === 'jsonl')
    throw new ValidationError(
      'options.analytics: the analytics views need a SQLite or PostgreSQL target; a JSONL target has no SQL',
      [{ path: 'options.analytics', message: 'needs a SQLite or PostgreSQL target' }],
    );
  return true;
}

/**
 * The streams a source flow keeps history of (`options.history`: stream names, or `all`), as
 * `ashpipe sync --history` takes them; undefined when absent.
 * @throws ValidationError when it is neither a list of stream names nor `all`, or names an unknown stream
 */
export function flowHistory(options: Record<string, unknown>): string[] | undefined {
  const value = options.history;
  if (value === undefined) return undefined;
  const list = value === 'all' ? ['all'] : value;
  if (!Array.isArray(list) || !list.every((s): s is string => typeof s === 'string'))
    throw new ValidationError(
      `options.history: expected a list of stream names or "all", got ${JSON.stringify(value)}`,
      [{ path: 'options.history', message: 'expected a list of stream names or "all"' }],
    );
  try {
    return parseHistoryStreams(list);
  } catch (error) {
    if (error instanceof HistoryOptionError)
      throw new ValidationError(`options.history: ${error.message}`, [
        { path: 'options.history', message: error.message },
      ]);
    throw error;
  }
}

/**
 * Creates or replaces the analytics views in the flow's target, as `ashpipe sync --analytics` does; a
 * failure is the run's error (the synced data stays), not a lost run.
 */
async function installFlowAnalytics(
  target: Target,
  ctx: Parameters<FlowEngine>[1],
  outcome: RunOutcome,
): Promise<RunOutcome> {
  try {
    const views = openAnalyticsTarget(targetString(target));
    try {
      const installed = await installAnalytics(views);
      const analytics = {
        installed: installed.filter((v) => v.status === 'installed').map((v) => v.name),
        skipped: installed
          .filter((v) => v.status === 'skipped')
          .map((v) => ({ name: v.name, missing: v.missing })),
      };
      ctx.logger.info('analytics views installed', {
        installed: analytics.installed,
        skipped: analytics.skipped.map((v) => v.name),
      });
      // The run record lists them: what the Insights page and a person reading the run can rely on.
      return { ...outcome, analytics };
    } finally {
      await views.close();
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      ...outcome,
      status: 'partial',
      errors: [...outcome.errors, { scope: 'analytics', code: 'analytics_install_failed', message }],
    };
  }
}

/**
 * The policy `options.piiPolicy` names: `none` (or absent), `default`, or a policy document (what a policy
 * file holds, as JSON: `{ "extends": "default", "streams": { "candidates": { "name": "mask" } } }`).
 * @throws ValidationError (422) naming `options.piiPolicy` and the path of the mistake inside it
 */
export function flowPolicy(options: Record<string, unknown>): PiiPolicy {
  const spec = options.piiPolicy;
  if (spec === undefined || spec === 'none' || spec === 'default') return policyOf(spec ?? 'none');
  try {
    if (typeof spec === 'string')
      throw new PiiPolicyError(
        `options.piiPolicy: expected none, default or a policy document, got ${JSON.stringify(spec)}`,
      );
    return parsePolicyDocument(spec, 'options.piiPolicy');
  } catch (error) {
    if (!(error instanceof PiiPolicyError)) throw error;
    // `options.piiPolicy: streams.candidates.name: unknown action…`: the path is the detail's.
    const inner = /^options\.piiPolicy: ([\w.[\]*-]+): /.exec(error.message)?.[1];
    throw new ValidationError(error.message, [
      {
        path: inner ? `options.piiPolicy.${inner}` : 'options.piiPolicy',
        message: error.message.replace(/^options\.piiPolicy: (?:[\w.[\]*-]+: )?/, ''),
      },
    ]);
  }
}

/** The flow's PII policy; `undefined` for none. The hash key is loaded only when the policy hashes. */
export async function flowPiiPolicy(
  options: Record<string, unknown>,
  hashKey: HashKeySource | undefined,
): Promise<PiiTransformer | undefined> {
  const policy = flowPolicy(options);
  if (!hashKey && policyHashes(policy))
    throw new Error('this server cannot hash personal data: it has no home to find the master key in');
  return loadTransformer(policy, hashKey ?? Buffer.alloc(0));
}

/**
 * `options.onDelete` of a source flow: `soft` (default) or `purge` (deleted and merged candidates are
 * erased after each run and as their webhooks arrive, as `ashpipe erase` does).
 * @throws ValidationError (422) naming `options.onDelete`
 */
export function flowOnDelete(options: Record<string, unknown>): OnDelete {
  try {
    return parseOnDelete(options.onDelete, 'options.onDelete');
  } catch (error) {
    throw new ValidationError(error instanceof Error ? error.message : String(error), [
      { path: 'options.onDelete', message: 'expected soft or purge' },
    ]);
  }
}

async function runSource(
  flow: Parameters<FlowEngine>[0],
  ctx: Parameters<FlowEngine>[1],
  hashKey: HashKeySource | undefined,
  /** The server's control store: a purge erases the person from its quarantine and ledger too. */
  control?: Control,
): Promise<RunOutcome> {
  if (flow.config.kind !== 'source') throw new Error('not a source flow');
  const config = flow.config;
  const streams = selectStreams(config.streams.length > 0 ? { streams: config.streams } : {});
  const counts = new Map<string, RunCount>(
    streams.map((s) => [s.name, { name: s.name, status: 'pending', read: 0, written: 0 }]),
  );
  const report = () => ctx.progress({ counts: [...counts.values()] });
  if (ctx.dryRun) return sampleStreams(streams, counts, ctx, report);
  const requestOptions = sourceRequestOptions(config.options);
  const piiPolicy = await flowPiiPolicy(config.options, hashKey);
  const onDelete = flowOnDelete(config.options);
  const analytics = flowAnalytics(config.options, config.target);
  const history = flowHistory(config.options);
  const summary = await syncToTarget({
    traceAttributes: { [ATTR.flowId]: flow.id, [ATTR.runId]: ctx.runId },
    ...(history ? { history } : {}),
    ...(piiPolicy ? { piiPolicy } : {}),
    ...(onDelete === 'purge'
      ? {
          onDelete,
          ...(control
            ? {
                eraseFromControl: async (needles: readonly string[]) => {
                  await eraseFromControlStore(control, needles);
                },
              }
            : hashKey
              ? { eraseFromControl: controlStoreEraser(hashKey.home) }
              : {}),
        }
      : {}),
    apiKey: ctx.apiKey,
    baseUrl: ctx.baseUrl,
    target: targetString(config.target),
    streams,
    signal: ctx.signal,
    logger: ctx.logger,
    onClientEvent: (event) => {
      logClientEvent(ctx.logger, event);
      ctx.onClientEvent?.(event);
    },
    // The same locks as `ashpipe sync`: a flow and a CLI run never write one stream of a target at once.
    lockLabel: `flow "${flow.name}" (run ${ctx.runId})`,
    ...(config.options.fullRefresh === true ? { fullRefresh: true } : {}),
    ...(config.options.refresh === true ? { refresh: true } : {}),
    ...refreshAfterOption(config.options.refreshAfter),
    ...(config.options.excludeConfidential === true ? { excludeConfidential: true } : {}),
    ...(config.options.includeArchived === false ? { includeArchived: false } : {}),
    ...requestOptions,
    ...(ctx.limiter ? { limiter: ctx.limiter } : {}),
    onEvent: (event: SyncEvent) => {
      ctx.onSyncEvent?.(event);
      if (event.type === 'stream-start') {
        counts.set(event.stream, { name: event.stream, status: 'running', read: 0, written: 0 });
      } else if (event.type === 'page') {
        const c = counts.get(event.stream) ?? {
          name: event.stream,
          status: 'running',
          read: 0,
          written: 0,
        };
        counts.set(event.stream, { ...c, read: event.records });
      } else if (event.type === 'stream-end') {
        counts.set(event.result.stream, countOf(event.result));
      } else {
        return;
      }
      report();
    },
  });
  const outcome: RunOutcome = {
    status: summary.exitCode === 0 ? 'succeeded' : summary.exitCode === 3 ? 'partial' : 'failed',
    counts: summary.streams.map(countOf),
    errors: [
      ...(summary.fatal ? [{ code: summary.fatal.code ?? 'fatal', message: summary.fatal.message }] : []),
      ...summary.streams
        .filter((s) => s.error)
        .map((s) => ({
          scope: s.stream,
          code: s.error?.code ?? s.status,
          message: s.error?.message ?? s.status,
        })),
    ],
  };
  // As `sync --analytics`: not after a failed run, whose tables may not be there to build on.
  if (analytics && outcome.status !== 'failed') return installFlowAnalytics(config.target, ctx, outcome);
  return outcome;
}

/** Records a source's dry run reads per stream. */
const DRY_RUN_SAMPLE = 5;

/**
 * A source's dry run: the first page (a few records) of each stream with the flow's key, nothing
 * written to the target. Tells which streams the key can read before the first real run.
 */
async function sampleStreams(
  streams: ReturnType<typeof selectStreams>,
  counts: Map<string, RunCount>,
  ctx: Parameters<FlowEngine>[1],
  report: () => void,
): Promise<RunOutcome> {
  const client = new AshbyClient({
    apiKey: ctx.apiKey,
    baseUrl: ctx.baseUrl,
    ...(ctx.onClientEvent ? { onEvent: ctx.onClientEvent } : {}),
  });
  const errors: RunErrorInfo[] = [];
  for (const stream of streams) {
    if (ctx.signal.aborted) break;
    try {
      const read = (await readFirstPage(client, stream, DRY_RUN_SAMPLE, ctx.signal)).length;
      counts.set(stream.name, { name: stream.name, status: 'succeeded', read, written: 0 });
    } catch (error) {
      const { code, message } = toErrorInfo(error);
      counts.set(stream.name, { name: stream.name, status: 'failed', read: 0, written: 0, message });
      errors.push({ scope: stream.name, code, message });
    }
    report();
  }
  const values = [...counts.values()];
  return {
    status: errors.length === 0 ? 'succeeded' : errors.length === values.length ? 'failed' : 'partial',
    counts: values,
    errors,
  };
}

// --- destinations: the push engine -----------------------------------------------------------------

/** A destination flow's `mapping` (Ashby field ← input column) as the push engine's mapping. */
function pushMapping(config: DestinationFlowConfig): Mapping {
  const entries = Object.entries(config.mapping);
  if (entries.length === 0) return IDENTITY_MAPPING;
  const columns: Mapping['columns'] = {};
  for (const [field, column] of entries) columns[column] = field;
  // With an explicit mapping, columns it does not name are dropped rather than sent under their own name.
  const ignoreUnknown = config.options.ignoreUnknown !== false;
  return { ...IDENTITY_MAPPING, columns, ignoreUnknown };
}

/** The push operation of a destination flow: its template, or manual mode for a raw endpoint. */
export function flowOperation(config: DestinationFlowConfig): Operation {
  return config.endpoint !== undefined
    ? resolveOperation(config.endpoint, true)
    : resolveOperation(config.operation ?? '');
}

/**
 * The records of a destination flow's input. Inline content is written to a private temporary file for
 * the push engine's readers and removed by `cleanup`.
 */
function flowRows(config: DestinationFlowConfig): {
  rows: AsyncIterable<InputRow>;
  label: string;
  cleanup: () => void;
} {
  const input = config.input;
  if (input.type === 'sql') {
    if (!input.query || !input.database) throw new ValidationError('a SQL input needs query and database');
    const source: InputSource = { kind: 'sql', from: input.database, query: input.query };
    return {
      rows: readInput(source),
      label: inputLabelOf(source),
      cleanup: () => {},
    };
  }
  if (input.path !== undefined) {
    return {
      rows: readInput({ kind: 'file', file: path.resolve(input.path), format: input.type }),
      label: input.path,
      cleanup: () => {},
    };
  }
  if (input.content === undefined || input.content.trim() === '')
    throw new ValidationError('the input has neither a path nor content');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ashpipe-input-'));
  const file = path.join(dir, `input.${input.type}`);
  writeFileSync(file, input.content, { mode: 0o600 });
  return {
    rows: readInput({ kind: 'file', file, format: input.type }),
    label: `inline ${input.type}`,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Only the first `limit` rows (the Test step looks at a few records). */
async function* firstRows(rows: AsyncIterable<InputRow>, limit: number): AsyncGenerator<InputRow> {
  if (limit <= 0) return;
  let n = 0;
  for await (const row of rows) {
    yield row;
    n += 1;
    if (n >= limit) return;
  }
}

/** The run's single count row from the push engine's counts. */
export function pushCount(operation: string, summary: Pick<PushSummary, 'counts' | 'total' | 'stopped'>) {
  const c = summary.counts;
  const problems = c.quarantined + c.failed + c.pending;
  const count: RunCount = {
    name: operation,
    status: summary.stopped && summary.stopped.kind !== 'aborted' ? 'failed' : 'succeeded',
    read: summary.total,
    written: c.created + c.updated,
    quarantined: c.quarantined,
    failed: c.failed,
  };
  const skipped = c['skipped-existing'] + c['skipped-done'];
  const parts = [
    ...(skipped > 0 ? [`${skipped} skipped (already applied)`] : []),
    ...(c.pending > 0 ? [`${c.pending} pending`] : []),
    ...(c['dry-run'] > 0 ? [`${c['dry-run']} would be sent`] : []),
  ];
  if (parts.length > 0) count.message = parts.join(', ');
  return { count, problems };
}

/** Options of {@link pushEngine}. */
export interface PushEngineOptions {
  /**
   * Records handled at once when the flow's options name none.
   * @default 4
   */
  concurrency?: number;
  /** Wait before looking up a write whose outcome is unknown. @default 1000 */
  reconcileDelayMs?: number;
  /**
   * How often a run whose operation's ledger another push owns (another flow, an `ashpipe push`, a dead
   * worker's run not yet known dead) looks again, in milliseconds.
   * @default 1000
   */
  ledgerWaitMs?: number;
}

/** Minimum time between two progress updates of a destination run. */
const PROGRESS_INTERVAL_MS = 250;

/**
 * Destination flows run the CLI's push engine on the control store's ledger: exactly-once writes,
 * quarantine entries tagged with the flow and run, a dry run for the console's Test step.
 */
export function pushEngine(control: Control, engineOptions: PushEngineOptions = {}): FlowEngine {
  return async (flow, ctx) => {
    if (flow.config.kind !== 'destination') throw new Error('not a destination flow');
    const config = flow.config;
    const operation = flowOperation(config);
    const client = new AshbyClient({
      apiKey: ctx.apiKey,
      baseUrl: ctx.baseUrl,
      ...(ctx.onClientEvent ? { onEvent: ctx.onClientEvent } : {}),
      ...(ctx.limiter ? { limiter: ctx.limiter } : {}),
    });
    const counts: Record<string, number> = {};
    let total = 0;
    let lastReport = 0;
    const report = (force = false) => {
      const now = Date.now();
      if (!force && now - lastReport < PROGRESS_INTERVAL_MS) return;
      lastReport = now;
      const { count } = pushCount(operation.name, {
        counts: { ...emptyPushCounts(), ...counts },
        total,
      });
      ctx.progress({ counts: [{ ...count, status: 'running' }] });
    };
    const errors: RunErrorInfo[] = [];
    const push = async (): Promise<PushSummary> => {
      const { rows, label, cleanup } = flowRows(config);
      try {
        return await runPush({
          client,
          control,
          // The flow's credential is its account: flows on other credentials push the same records too.
          account: credentialAccount(flow.credentialId),
          operation,
          rows,
          inputLabel: `${label} (flow ${flow.name})`,
          inputKey: `flow:${flow.id}`,
          mapping: pushMapping(config),
          onExisting: onExistingOf(config.options),
          dryRun: ctx.dryRun,
          concurrency: numberOption(config.options.concurrency) ?? engineOptions.concurrency ?? 4,
          ...(engineOptions.reconcileDelayMs !== undefined
            ? { reconcileDelayMs: engineOptions.reconcileDelayMs }
            : {}),
          ...(typeof config.options.keyColumn === 'string' ? { keyColumn: config.options.keyColumn } : {}),
          ...(typeof config.options.quarantineRetentionDays === 'number'
            ? { quarantineRetentionDays: config.options.quarantineRetentionDays }
            : {}),
          replayOptions: { flowId: flow.id, flowRunId: ctx.runId },
          signal: ctx.signal,
          onRead: () => {
            total += 1;
            report();
          },
          onResult: (r) => {
            ctx.onPushResult?.(operation.name, r.status);
            counts[r.status] = (counts[r.status] ?? 0) + 1;
            if (r.error && errors.length < MAX_RUN_ERRORS)
              errors.push({ scope: `row ${r.row}`, code: r.error.code, message: r.error.message });
            report();
          },
        });
      } finally {
        cleanup();
      }
    };
    const summary = await pushWhenLedgerFree(push, {
      signal: ctx.signal,
      waitMs: engineOptions.ledgerWaitMs ?? 1000,
      onWait: (owner) => {
        const message = `waiting for another push of ${operation.name} to finish`;
        ctx.logger.info(message, { owner });
        ctx.progress({
          counts: [{ name: operation.name, status: 'running', read: 0, written: 0, message }],
        });
      },
    });
    if (summary === undefined) {
      // Stopped while waiting: nothing was read or sent.
      const message = `the run was interrupted while it waited for another push of ${operation.name} to finish`;
      return {
        status: 'failed',
        counts: [{ name: operation.name, status: 'failed', read: 0, written: 0, message }],
        errors: [{ code: 'aborted', message }],
      };
    }
    const { count, problems } = pushCount(operation.name, summary);
    if (summary.stopped)
      errors.unshift({
        code: summary.stopped.error?.code ?? summary.stopped.kind,
        message: summary.stopped.message,
      });
    const status: RunOutcome['status'] =
      summary.stopped && summary.stopped.kind !== 'aborted'
        ? 'failed'
        : summary.stopped || problems > 0
          ? 'partial'
          : 'succeeded';
    return { status, counts: [count], errors };
  };
}

/**
 * Runs `push` once the operation's ledger is free. One push of an operation owns its ledger at a time
 * (see `startRun` in `src/push/ledger.ts`): another flow of the operation running on another worker or in
 * this process, an `ashpipe push`, or the run of a worker that died and is not yet known dead (its push
 * heartbeat not yet older than the lease, on another machine). The CLI refuses such a push; a flow's run
 * waits for its turn instead, so runs queued together all end, one after the other, and a run resumed on
 * another machine takes the dead worker's ledger over once its lease is out.
 * @returns the push's summary, or `undefined` when `signal` aborted the wait
 */
async function pushWhenLedgerFree(
  push: () => Promise<PushSummary>,
  options: { signal: AbortSignal; waitMs: number; onWait: (owner: string) => void },
): Promise<PushSummary | undefined> {
  let told = false;
  for (;;) {
    try {
      return await push();
    } catch (error) {
      if (!(error instanceof PushRunConflictError)) throw error;
      // Told once, naming the run that owns the ledger; the wait itself is silent.
      if (!told) options.onWait(error.message);
      told = true;
    }
    if (!(await abortableSleep(options.waitMs, options.signal))) return undefined;
  }
}

/** Waits `ms`; answers `false` at once when `signal` aborts (or had). */
function abortableSleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (slept: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(slept);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Errors kept per run (the quarantine holds every record; the run lists the first few). */
const MAX_RUN_ERRORS = 50;

function onExistingOf(options: Record<string, unknown>): OnExisting {
  const v = options.onExisting;
  return v === 'update' || v === 'create' ? v : 'skip';
}

function numberOption(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

/**
 * A dry run of an (unsaved) destination flow over its first `limit` records: mapping, validation and
 * look-ups against Ashby, nothing written and nothing recorded. The bodies are shown as they would be
 * sent (the API masks registered secrets in every response).
 */
export async function dryRunDestination(
  control: Control,
  config: DestinationFlowConfig,
  access: { apiKey: string; baseUrl: string },
  limit: number,
): Promise<DryRunReport> {
  const operation = flowOperation(config);
  const { rows, cleanup } = flowRows(config);
  const results: DryRunReport['results'] = [];
  try {
    const summary = await runPush({
      client: new AshbyClient({ apiKey: access.apiKey, baseUrl: access.baseUrl }),
      control,
      account: credentialAccount(config.credentialId),
      operation,
      rows: firstRows(rows, limit),
      mapping: pushMapping(config),
      onExisting: onExistingOf(config.options),
      dryRun: true,
      concurrency: 1,
      ...(typeof config.options.keyColumn === 'string' ? { keyColumn: config.options.keyColumn } : {}),
      onResult: (r) => {
        results.push({
          row: r.row,
          status: r.status,
          ...(r.wouldSend ? { wouldSend: r.wouldSend } : {}),
          ...(r.error ? { error: r.error } : {}),
          ...(r.id ? { id: r.id } : {}),
        });
      },
    });
    results.sort((a, b) => a.row - b.row);
    return { operation: operation.name, total: summary.total, counts: summary.counts, results };
  } finally {
    cleanup();
  }
}

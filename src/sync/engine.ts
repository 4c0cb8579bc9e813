/**
 * `runSync`: plans the run, starts every stream's runner at once (each waits for the streams it needs and
 * takes its own lock), and sums their results up. What one stream does is in `runner.ts`.
 */
import { setMaxListeners } from 'node:events';
import type { PiiTransformer } from '../privacy/transform.js';
import type { Sink } from '../sinks/index.js';
import type { ConfidentialContext, ResolvedStream } from '../streams/index.js';
import { type Logger, silentLogger } from '../util/logger.js';
import type { PageSource, RunContext, RunSettings } from './context.js';
import { EndpointCounters } from './counters.js';
import { planSync, rememberedConfidentialIds } from './plan.js';
import type { RefreshAfter } from './refresh.js';
import { runStream } from './runner.js';
import { readState } from './state.js';
import type { StreamResult, SyncEvent, SyncSummary } from './types.js';

export type { PageSource } from './context.js';

/** Default age of the last full pass after which an incremental stream is read in full again. */
export const DEFAULT_RECONCILE_AFTER_MS = 7 * 86_400_000;

/** What a run is called in the lock records it writes, unless its caller says otherwise. */
export const DEFAULT_LOCK_LABEL = 'ashpipe sync';

export interface SyncOptions {
  /** The Ashby client (or anything that pages like it). */
  client: PageSource;
  /** Where records and state go; opened and closed by the caller. */
  sink: Sink;
  /** Streams to sync, usually from `selectStreams()`. Missing parents are added when they never synced. */
  streams: readonly ResolvedStream[];
  /**
   * Read every stream in full, whatever state is stored; rows not seen are soft-deleted.
   * @default false
   */
  fullRefresh?: boolean;
  /**
   * Ask for archived jobs, deactivated users, disabled tracking links… A warehouse wants everything.
   * @default true
   */
  includeArchived?: boolean;
  /**
   * Leave out confidential jobs and projects, and the applications, offers, openings, postings,
   * schedules and feedback of confidential jobs, even when the key can see them.
   * @default false
   */
  excludeConfidential?: boolean;
  /**
   * Read an incremental stream in full (to catch deletions) when its last full pass is older than this;
   * `null` never does.
   * @default 7 days
   * @example 86_400_000
   */
  reconcileAfterMs?: number | null;
  /**
   * Read the streams without a sync token now, whatever their refresh interval.
   * @default false
   */
  refresh?: boolean;
  /**
   * Refresh intervals of the streams without a sync token: a run leaves such a stream alone while its last
   * complete read is younger than its interval (0 reads it every run). `parseRefreshAfter('12h,approvals=0')`
   * reads the CLI's syntax.
   * @default each stream's own: 24 hours, 1 hour for approvals, job postings and survey submissions
   * @example { all: 3_600_000, streams: { sources: 604_800_000 } }
   */
  refreshAfter?: RefreshAfter;
  /**
   * Records per page (Ashby's maximum is 100). Smaller pages mean smaller transactions and checkpoints.
   * @default 100
   * @example 50
   */
  pageSize?: number;
  /**
   * How long a stream waits when another run holds its lock in the target; after that it is skipped with
   * a message naming the holder (and the run exits 3).
   * @default 0: do not wait
   * @example 300_000
   */
  lockWaitMs?: number;
  /**
   * What this run is called in its lock records, for a run that finds them taken.
   * @default 'ashpipe sync'
   * @example 'flow "Nightly" (run 42)'
   */
  lockLabel?: string;
  /**
   * The PII policy every record goes through before it is written (`resolvePiiPolicy('default', …)`).
   * @default none: records are stored as Ashby sends them
   */
  piiPolicy?: PiiTransformer;
  /**
   * Streams that keep every distinct version of their records in `<stream>_history` (history mode, see
   * docs/history.md; `parseHistoryStreams` reads the CLI's syntax). A synced stream not listed turns
   * history off (its history table stays). Only the SQL sinks keep history tables.
   * @default none
   * @example ['applications', 'candidates']
   */
  history?: readonly string[];
  /**
   * Receives the ids of candidates Ashby anonymised during this run: their stored record had an email
   * address or phone number, the one written now has neither (`onDelete: 'purge'` rewrites their older
   * copies and overwrites the freed space).
   * @default not collected
   */
  anonymised?: Set<string>;
  /** Counts requests, retries and 429s per endpoint; wire its `onEvent` into the client. */
  counters?: EndpointCounters;
  /** Stops the run; streams in flight end as `aborted`. */
  signal?: AbortSignal;
  onEvent?: (event: SyncEvent) => void;
  logger?: Logger;
  /** Clock, for tests of the reconcile schedule. */
  now?: () => Date;
}

function settingsOf(options: SyncOptions): RunSettings {
  return {
    fullRefresh: options.fullRefresh ?? false,
    includeArchived: options.includeArchived ?? true,
    excludeConfidential: options.excludeConfidential ?? false,
    reconcileAfterMs:
      options.reconcileAfterMs === undefined ? DEFAULT_RECONCILE_AFTER_MS : options.reconcileAfterMs,
    refresh: options.refresh ?? false,
    refreshAfter: options.refreshAfter ?? {},
    pageSize: options.pageSize,
    lockWaitMs: Math.max(0, options.lockWaitMs ?? 0),
    lockLabel: options.lockLabel ?? DEFAULT_LOCK_LABEL,
    history: new Set(options.history ?? []),
  };
}

/**
 * Runs one sync: every stream concurrently (parents before children) through the client's shared limiter,
 * one writer per (target, stream), one transaction per page with its checkpoint, soft deletes after
 * complete full passes only. Never throws for a stream's failure: the summary says what happened and which
 * exit code it means.
 */
export async function runSync(options: SyncOptions): Promise<SyncSummary> {
  const started = Date.now();
  const settings = settingsOf(options);
  const abort = new AbortController();
  // Every stream and every request in flight listens to the one signal of the run.
  setMaxListeners(0, abort.signal);
  const onOuterAbort = () => abort.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) abort.abort();
  let fatal: SyncSummary['fatal'];
  const results = new Map<string, Promise<StreamResult>>();
  const plan = await planSync(options.streams, (s) => options.sink.getState(s), settings);
  const confidential: ConfidentialContext = settings.excludeConfidential
    ? await rememberedConfidentialIds(plan, options.sink)
    : { jobIds: new Set(), applicationIds: new Set(), projectIds: new Set() };
  await warnOfChangedPolicy(
    options,
    plan.map((p) => p.stream.name),
  );
  const ctx: RunContext = {
    pii: options.piiPolicy,
    anonymised: options.anonymised,
    client: options.client,
    sink: options.sink,
    settings,
    signal: abort.signal,
    counters: options.counters ?? new EndpointCounters(),
    confidential,
    logger: options.logger ?? silentLogger,
    now: options.now ?? (() => new Date()),
    emit: (event) => options.onEvent?.(event),
    results,
    stopAll: (error) => {
      fatal ??= error;
      abort.abort();
    },
  };
  for (const planned of plan) results.set(planned.stream.name, runStream(ctx, planned));
  const streams = await Promise.all(plan.map((p) => results.get(p.stream.name) as Promise<StreamResult>));
  options.signal?.removeEventListener('abort', onOuterAbort);
  return summarize(options, streams, started, fatal);
}

/**
 * Says once when streams of the target were written under another PII policy than this run's: their rows
 * keep the old form until they are written again, which `--full-refresh` does for all of them.
 */
async function warnOfChangedPolicy(options: SyncOptions, streams: readonly string[]): Promise<void> {
  const now = options.piiPolicy?.fingerprint;
  const changed: string[] = [];
  for (const name of streams) {
    const state = readState(await options.sink.getState(name));
    if (state?.pagesCommitted === undefined && state?.lastCompletedAt === undefined) continue;
    if (state.piiPolicy !== now) changed.push(name);
  }
  if (changed.length === 0) return;
  const message = options.fullRefresh
    ? `the PII policy changed for ${changed.length} stream(s) of this target: this full refresh rewrites their rows (rows Ashby no longer returns keep the old form)`
    : `the PII policy changed for ${changed.length} stream(s) of this target: rows stored before keep the old form until re-synced with --full-refresh`;
  options.logger?.warn('pii policy changed', { streams: changed });
  options.onEvent?.({ type: 'warning', message });
}

/** The run's summary and exit code: 1 when it stopped, 3 when a stream did not complete or records were rejected. */
function summarize(
  options: SyncOptions,
  streams: StreamResult[],
  started: number,
  fatal: SyncSummary['fatal'],
): SyncSummary {
  const finished = Date.now();
  const totals = {
    records: 0,
    inserted: 0,
    updated: 0,
    deleted: 0,
    requests: 0,
    retries: 0,
    rateLimited: 0,
    rejected: 0,
    notDue: 0,
  };
  for (const r of streams) {
    if (r.notDue) totals.notDue += 1;
    totals.records += r.records;
    totals.inserted += r.inserted;
    totals.updated += r.updated;
    totals.deleted += r.deleted;
    totals.requests += r.requests;
    totals.retries += r.retries;
    totals.rateLimited += r.rateLimited;
    totals.rejected += r.rejected ?? 0;
  }
  const partial = streams.some((r) => r.status !== 'ok') || totals.rejected > 0;
  const exitCode: SyncSummary['exitCode'] = fatal || options.signal?.aborted ? 1 : partial ? 3 : 0;
  return {
    target: options.sink.location,
    startedAt: new Date(started).toISOString(),
    finishedAt: new Date(finished).toISOString(),
    durationMs: finished - started,
    exitCode,
    streams,
    totals,
    ...(fatal ? { fatal } : {}),
  };
}

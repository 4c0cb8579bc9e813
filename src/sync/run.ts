import { AshbyClient, type ClientEvent, Limiter, type RetryOptions } from '../ashby/index.js';
import { inSpan } from '../observability/tracing.js';
import { rewriteAnonymisedCopies } from '../privacy/anonymised.js';
import { candidatePurger, type OnDelete, purgeDeletedCandidates } from '../privacy/purge.js';
import type { PiiTransformer } from '../privacy/transform.js';
import { type OutputMode, openSink, type Sink } from '../sinks/index.js';
import type { ResolvedStream } from '../streams/index.js';
import { defined } from '../util/defined.js';
import type { Logger } from '../util/logger.js';
import { redact } from '../util/redact.js';
import { EndpointCounters } from './counters.js';
import { runSync } from './engine.js';
import type { RefreshAfter } from './refresh.js';
import type { SyncEvent, SyncSummary } from './types.js';

/** Everything one sync run needs, as the CLI and the demo gather it. */
export interface SyncRunOptions {
  apiKey: string;
  baseUrl: string;
  /** Sink target (`sqlite:PATH`, `postgres://…`, `jsonl:DIR`). */
  target: string;
  /**
   * Permissions of files and directories the sink creates.
   * @default 'private' (0600 / 0700)
   * @example 'umask'
   */
  outputMode?: OutputMode;
  streams: readonly ResolvedStream[];
  fullRefresh?: boolean;
  includeArchived?: boolean;
  excludeConfidential?: boolean;
  reconcileAfterMs?: number | null;
  /** Read the streams without a sync token whatever their refresh interval (`--refresh`). */
  refresh?: boolean;
  /** Refresh intervals of the streams without a sync token (`runSync`'s `refreshAfter`). */
  refreshAfter?: RefreshAfter;
  /** Records per page, at most 100. */
  pageSize?: number;
  /**
   * How long a stream waits for another run holding its lock in the target before it is skipped.
   * @default 0: do not wait
   * @example 60_000
   */
  lockWaitMs?: number;
  /**
   * What this run is called in its lock records.
   * @default 'ashpipe sync'
   */
  lockLabel?: string;
  /**
   * Most request starts per second for this run (Ashby publishes no general limit; set it to stay under
   * the share of the organisation's limit this sync may use).
   * @default no cap: the shared limiter only caps concurrency and backs off on 429s
   * @example 10
   */
  requestsPerSecond?: number;
  /**
   * Most requests in flight at once.
   * @default 2 (the client's default)
   * @example 1
   */
  maxConcurrent?: number;
  /**
   * Streams that keep every version in `<stream>_history` (`runSync`'s `history`).
   * @default none
   * @example ['applications']
   */
  history?: readonly string[];
  /**
   * The PII policy records go through before they are written.
   * @default none
   */
  piiPolicy?: PiiTransformer;
  /**
   * What a candidate deleted in Ashby leaves in the target: `soft` marks its row deleted; `purge` erases
   * every soft-deleted candidate after the run (gone from a full pass, merged, deleted by a webhook) as
   * `ashpipe erase` does, with an erasure record per reason, and rewrites the older copies (JSONL lines,
   * history versions) of candidates Ashby anonymised.
   * @default 'soft'
   * @example 'purge'
   */
  onDelete?: OnDelete;
  /**
   * With `onDelete: 'purge'`: erases the purged people's push quarantine and ledger entries from the control
   * store (see `controlStoreEraser`).
   * @default none: the control store is left as it is
   */
  eraseFromControl?: (needles: readonly string[]) => Promise<void>;
  /** Receives the run's events (streams starting and ending, pages, warnings), e.g. for a progress display. */
  onEvent?: (event: SyncEvent) => void;
  /**
   * Counts requests, retries and 429s per endpoint; pass one to read the figures while the run goes on.
   * @default a new one per run
   */
  counters?: EndpointCounters;
  /**
   * The limiter of the run's requests, e.g. one paced by a fleet-wide budget (`src/fleet/budget.ts`);
   * `requestsPerSecond` and `maxConcurrent` are then the limiter's own.
   * @default a new limiter when `requestsPerSecond` or `maxConcurrent` is set, else the key's process-wide one
   * @example new Limiter({ requestsPerSecond: 10, shared: budget })
   */
  limiter?: Limiter;
  /** Client retry policy overrides (tests use a short backoff). */
  retry?: Partial<RetryOptions>;
  logger?: Logger;
  signal?: AbortSignal;
  /** Also receives every client event (requests, responses, retries, 429s), e.g. for timing. */
  onClientEvent?: (event: ClientEvent) => void;
  /**
   * Attributes of the run's trace span (when tracing is on), e.g. the flow and run ids.
   * @default none
   * @example { 'ashpipe.flow_id': 'flow_1', 'ashpipe.run_id': 'run_2' }
   */
  traceAttributes?: Record<string, string>;
}

/**
 * Opens the sink, syncs the streams with progress, closes the sink, and returns the summary. The run is one
 * trace (a root span) when tracing is on.
 */
export function syncToTarget(options: SyncRunOptions): Promise<SyncSummary> {
  const attributes = { ...options.traceAttributes, 'ashpipe.streams': options.streams.map((s) => s.name) };
  return inSpan(
    'ashpipe sync',
    attributes,
    async (span) => {
      const summary = await syncInSpan(options);
      span.setAttribute('ashpipe.exit_code', summary.exitCode);
      return summary;
    },
    { root: true },
  );
}

async function syncInSpan(options: SyncRunOptions): Promise<SyncSummary> {
  const counters = options.counters ?? new EndpointCounters();
  const limiter =
    options.limiter ??
    (options.requestsPerSecond !== undefined || options.maxConcurrent !== undefined
      ? new Limiter({
          ...(options.requestsPerSecond !== undefined
            ? { requestsPerSecond: options.requestsPerSecond }
            : {}),
          ...defined({ maxConcurrent: options.maxConcurrent }),
        })
      : undefined);
  const client = new AshbyClient({
    apiKey: options.apiKey,
    ...(limiter ? { limiter } : {}),
    baseUrl: options.baseUrl,
    onEvent: options.onClientEvent
      ? (event) => {
          counters.onEvent(event);
          options.onClientEvent?.(event);
        }
      : counters.onEvent,
    ...(options.retry ? { retry: options.retry } : {}),
  });
  const sink = openSink(options.target, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.outputMode ? { outputMode: options.outputMode } : {}),
  });
  await sink.open();
  const startedAt = new Date().toISOString();
  const anonymised = new Set<string>();
  try {
    const summary = await runSync({
      client,
      sink,
      streams: options.streams,
      counters,
      ...defined({ fullRefresh: options.fullRefresh, includeArchived: options.includeArchived }),
      ...(options.excludeConfidential !== undefined
        ? { excludeConfidential: options.excludeConfidential }
        : {}),
      ...defined({
        reconcileAfterMs: options.reconcileAfterMs,
        refresh: options.refresh,
        refreshAfter: options.refreshAfter,
        pageSize: options.pageSize,
        lockWaitMs: options.lockWaitMs,
        lockLabel: options.lockLabel,
        piiPolicy: options.piiPolicy,
        history: options.history,
      }),
      ...(options.onDelete === 'purge' ? { anonymised } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    // A stopped run stops: the rows stay soft-deleted and the next run purges them.
    if (options.onDelete !== 'purge' || options.signal?.aborted) return summary;
    return await purgeAfterRun(summary, sink, options, startedAt, anonymised);
  } finally {
    await sink.close();
  }
}

/** `onDelete: 'purge'`: the soft-deleted candidates erased; a failure is the run's (exit code 3), not lost. */
async function purgeAfterRun(
  summary: SyncSummary,
  sink: Sink,
  options: SyncRunOptions,
  startedAt: string,
  anonymised: ReadonlySet<string>,
): Promise<SyncSummary> {
  try {
    const purge = candidatePurger(options.target, {
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.eraseFromControl ? { eraseFromControl: options.eraseFromControl } : {}),
    });
    const reports = await purgeDeletedCandidates(sink, purge, startedAt);
    const rewrite = await rewriteAnonymisedCopies(options.target, sink, anonymised);
    if (rewrite.candidateIds.length > 0)
      options.logger?.info('older copies of anonymised candidates rewritten', {
        candidates: rewrite.candidateIds.length,
        tables: rewrite.tables,
      });
    return {
      ...summary,
      purged: {
        candidates: reports.reduce((n, r) => n + r.candidateIds.length, 0),
        applications: reports.reduce((n, r) => n + r.applicationIds.length, 0),
        anonymised: rewrite.candidateIds.length,
      },
    };
  } catch (error) {
    const message = redact(error instanceof Error ? error.message : String(error));
    options.logger?.error('purge of deleted candidates failed', { error: message });
    return {
      ...summary,
      exitCode: summary.exitCode === 0 ? 3 : summary.exitCode,
      purged: { candidates: 0, applications: 0, error: message },
    };
  }
}

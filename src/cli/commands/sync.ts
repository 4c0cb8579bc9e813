import { Command, Option } from 'commander';
import { type InstalledView, installAnalytics, openAnalyticsTarget } from '../../analytics/index.js';
import { checkReach } from '../../ashby/reach.js';
import { resolveHome } from '../../control/home.js';
import { controlUrl } from '../../control/open.js';
import { isOwnFile } from '../../control/own-files.js';
import { controlStoreEraser } from '../../privacy/purge.js';
import { parseStreamList, selectStreams, UnknownStreamError } from '../../streams/index.js';
import {
  EndpointCounters,
  HistoryOptionError,
  parseDuration,
  parseHistoryStreams,
  parseRefreshAfter,
  type RefreshAfter,
  RefreshAfterError,
  type SyncSummary,
  syncToTarget,
} from '../../sync/index.js';
import { defined } from '../../util/defined.js';
import type { CliContext } from '../context.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { addKeyOptions, type KeyOptions, resolveAshbyAccess } from '../key-options.js';
import { addOnDeleteOption, addPiiPolicyOption, resolveOnDelete, resolvePiiOption } from '../pii-option.js';
import { describeInstall } from '../render/analytics.js';
import { formatSummary } from '../render/summary.js';
import { createSyncProgress } from '../render/sync-progress.js';
import { count } from '../render/words.js';
import {
  addLogFileOption,
  addLogFormatOption,
  describeTarget,
  type LogFileOptions,
  logged,
  openRunLog,
} from '../run-log.js';
import { isMissingDatabase, resolveTarget } from '../target.js';

/** Where `ashpipe sync` writes when `--to` is not given. */
export const DEFAULT_SYNC_TARGET = 'sqlite:./ashpipe.db';

interface SyncCliOptions extends KeyOptions, LogFileOptions {
  piiPolicy?: string;
  onDelete?: string;
  to: string;
  streams?: string;
  excludeStreams?: string;
  fullRefresh?: boolean;
  reconcileAfter: string;
  refresh?: boolean;
  refreshAfter?: string;
  excludeConfidential?: boolean;
  includeArchived: boolean;
  pageSize: string;
  requestsPerSecond?: string;
  concurrency?: string;
  outputMode: 'private' | 'umask';
  wait: string;
  wide?: boolean;
  json?: boolean;
  analytics?: boolean;
  history?: string;
}

/**
 * Runs `work` with Ctrl-C turned into `abort`: the first press stops the run at the next page boundary
 * (what is committed stays), a second one ends the process at once after `onForce` gave the terminal back.
 */
export async function withInterrupt<T>(
  work: (signal: AbortSignal) => Promise<T>,
  onForce: () => void,
): Promise<{ value: T; interrupted: boolean }> {
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) {
      onForce();
      process.exit(ExitCode.Interrupted);
    }
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const value = await work(abort.signal);
    return { value, interrupted: abort.signal.aborted };
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Pages committed by a run, all streams together: what a rerun does not read again. */
export function committedPages(summary: SyncSummary): number {
  return summary.streams.reduce((n, s) => n + s.pages, 0);
}

/** `ashpipe sync`: every stream from Ashby into SQLite, Postgres or JSONL, incremental after the first run. */
export function syncCommand(ctx: CliContext): Command {
  const cmd = new Command('sync').description(
    'Copy Ashby data into a database: a full pass first, then only changes; safe to interrupt and rerun',
  );
  addKeyOptions(cmd);
  addLogFileOption(cmd);
  addLogFormatOption(cmd);
  addPiiPolicyOption(cmd);
  addOnDeleteOption(cmd);
  return cmd
    .option(
      '--to <target>',
      'sqlite:PATH, postgres://USER@HOST/DB[?schema=NAME] or jsonl:DIR; a bare ./x.db (.sqlite, .sqlite3) is SQLite, a directory JSONL',
      DEFAULT_SYNC_TARGET,
    )
    .option('--streams <list>', 'comma-separated streams to sync (`all` adds the opt-in child streams)')
    .option('--exclude-streams <list>', 'comma-separated streams to leave out')
    .option('--full-refresh', 'read every stream in full and soft-delete rows Ashby no longer returns')
    .option(
      '--reconcile-after <duration>',
      'read an incremental stream in full when its last full pass is older than this (e.g. 7d, 12h; never)',
      '7d',
    )
    .option(
      '--refresh',
      'read the streams without a sync token (locations, sources, interview plans…) now, even if still fresh',
    )
    .option(
      '--refresh-after <list>',
      'how long a read of a stream without a sync token stays fresh: 24h (all), sources=7d,approvals=0 (per stream), or both; 0 = every run (default 24h; 1h for approvals, job_postings, survey_submissions)',
    )
    .option('--exclude-confidential', 'leave out confidential jobs and projects and what hangs off them')
    .option('--no-include-archived', 'skip archived jobs, deactivated users and other archived records')
    .option('--page-size <n>', 'records per request and per committed page (1-100)', '100')
    .option(
      '--requests-per-second <n>',
      'cap on request starts per second (default: no cap, back off on 429)',
    )
    .option('--concurrency <n>', 'most requests in flight at once (default 2)')
    .addOption(
      new Option(
        '--output-mode <mode>',
        'permissions of the files and directories a sync creates: private (0600/0700) or umask',
      )
        .choices(['private', 'umask'])
        .default('private'),
    )
    .option(
      '--wait <duration>',
      'when another run is syncing a stream into the same target, wait this long for it (e.g. 30s, 10m) before skipping the stream',
      '0',
    )
    .option(
      '--analytics',
      'after the sync, create or replace the analytics_* views (`ashpipe analytics`) in a SQLite or PostgreSQL target',
    )
    .option(
      '--history <list>',
      "keep every version of these streams' records in <stream>_history tables (comma-separated, or all); a synced stream not listed stops adding versions",
    )
    .option('--wide', 'print every column of the summary (pages, unchanged, retries, 429s, why)')
    .option('--json', 'print the summary as JSON on stdout')
    .action(async (opts: SyncCliOptions) => {
      const out = ctx.output(Boolean(opts.json));
      const target = resolveTarget(opts.to);
      if (opts.analytics && target.startsWith('jsonl:')) {
        throw new UsageError(
          '--analytics needs a SQL target (sqlite:PATH or postgres://…); JSONL has no views',
        );
      }
      const reconcileAfterMs = parseDuration(opts.reconcileAfter);
      if (reconcileAfterMs === undefined) {
        throw new UsageError(
          `--reconcile-after: expected a duration like 7d, 12h or never, got ${opts.reconcileAfter}`,
        );
      }
      let refreshAfter: RefreshAfter | undefined;
      if (opts.refreshAfter !== undefined) {
        try {
          refreshAfter = parseRefreshAfter(opts.refreshAfter);
        } catch (error) {
          if (error instanceof RefreshAfterError) throw new UsageError(`--refresh-after: ${error.message}`);
          throw error;
        }
      }
      const pageSize = Number(opts.pageSize);
      if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
        throw new UsageError(`--page-size: expected a whole number from 1 to 100, got ${opts.pageSize}`);
      }
      const positive = (value: string | undefined, flag: string): number | undefined => {
        if (value === undefined) return undefined;
        const n = Number(value);
        if (!Number.isFinite(n) || n <= 0)
          throw new UsageError(`${flag}: expected a positive number, got ${value}`);
        return n;
      };
      const lockWaitMs = parseDuration(opts.wait);
      if (lockWaitMs === undefined) {
        throw new UsageError(`--wait: expected a duration like 30s, 10m or 0, got ${opts.wait}`);
      }
      const requestsPerSecond = positive(opts.requestsPerSecond, '--requests-per-second');
      const maxConcurrent = positive(opts.concurrency, '--concurrency');
      let streams: ReturnType<typeof selectStreams>;
      try {
        streams = selectStreams({
          ...(opts.streams !== undefined ? { streams: parseStreamList(opts.streams) ?? [] } : {}),
          ...(opts.excludeStreams !== undefined
            ? { excludeStreams: parseStreamList(opts.excludeStreams) ?? [] }
            : {}),
        });
      } catch (error) {
        if (error instanceof UnknownStreamError) throw new UsageError(error.message);
        throw error;
      }
      if (streams.length === 0) throw new UsageError('no stream selected');
      let history: string[] | undefined;
      if (opts.history !== undefined) {
        try {
          history = parseHistoryStreams(opts.history);
        } catch (error) {
          if (error instanceof HistoryOptionError) throw new UsageError(`--history: ${error.message}`);
          throw error;
        }
      }
      const sqliteFile = /^sqlite:(?:\/\/)?(.+)$/i.exec(target)?.[1];
      if (
        sqliteFile !== undefined &&
        sqliteFile !== ':memory:' &&
        isOwnFile(resolveHome(ctx.env), sqliteFile)
      )
        throw new UsageError(
          `--to ${opts.to} is ashpipe's own control store (or master key): syncing into it would corrupt the vault; choose another file`,
        );
      const piiPolicy = await resolvePiiOption(ctx, opts.piiPolicy);
      const onDelete = resolveOnDelete(opts.onDelete);
      const log = openRunLog(ctx, 'sync', opts);
      log.logger.info('sync started', {
        target: describeTarget(target),
        streams: streams.map((s) => s.name),
        ...defined({ credential: opts.credential }),
        ...(opts.fullRefresh ? { fullRefresh: true } : {}),
        ...(piiPolicy ? { piiPolicy: piiPolicy.policy.source } : {}),
        ...(history ? { history } : {}),
      });
      const counters = new EndpointCounters();
      const progress = createSyncProgress(ctx.io.stderr, { counters });
      const { value: summary, interrupted } = await withInterrupt(
        (signal) =>
          logged(log, async () => {
            const access = await resolveAshbyAccess(ctx, opts, 'sync');
            // One cause every stream would share is said once, before any stream spends its retries.
            await checkReach({
              apiKey: access.apiKey,
              baseUrl: access.baseUrl,
              onEvent: (e) => {
                counters.onEvent(e);
                log.onClientEvent(e);
              },
              signal,
            });
            try {
              return await syncToTarget({
                traceAttributes: { 'ashpipe.command': 'sync', 'ashpipe.run_id': log.runId },
                apiKey: access.apiKey,
                baseUrl: access.baseUrl,
                target,
                outputMode: opts.outputMode,
                streams,
                reconcileAfterMs,
                ...(opts.refresh ? { refresh: true } : {}),
                ...(refreshAfter ? { refreshAfter } : {}),
                pageSize,
                lockWaitMs: lockWaitMs ?? 0,
                ...defined({ requestsPerSecond }),
                ...(maxConcurrent !== undefined ? { maxConcurrent: Math.floor(maxConcurrent) } : {}),
                includeArchived: opts.includeArchived,
                ...(opts.fullRefresh ? { fullRefresh: true } : {}),
                ...(opts.excludeConfidential ? { excludeConfidential: true } : {}),
                counters,
                ...(piiPolicy ? { piiPolicy } : {}),
                ...(onDelete === 'purge'
                  ? {
                      onDelete,
                      eraseFromControl: controlStoreEraser(
                        resolveHome(ctx.env),
                        controlUrl(undefined, ctx.env),
                      ),
                    }
                  : {}),
                ...(history ? { history } : {}),
                onEvent: (e) => progress.onEvent(e),
                signal,
                logger: log.logger,
                onClientEvent: log.onClientEvent,
              });
            } catch (error) {
              if (isMissingDatabase(error))
                throw new UsageError(
                  `--to ${describeTarget(target)}: the database does not exist; create it first (createdb) or name another`,
                );
              throw error;
            }
          }).finally(() => progress.stop()),
        () => progress.stop(),
      );
      for (const r of summary.streams) {
        log.logger[r.status === 'ok' ? 'info' : 'warn']('stream finished', {
          stream: r.stream,
          endpoint: r.endpoint,
          status: r.status,
          mode: r.mode,
          records: r.records,
          inserted: r.inserted,
          updated: r.updated,
          deleted: r.deleted,
          requests: r.requests,
          retries: r.retries,
          rateLimited: r.rateLimited,
          durationMs: r.durationMs,
          ...(r.error ? { error: r.error } : {}),
        });
      }
      log.logger[summary.exitCode === 0 ? 'info' : 'error']('sync finished', {
        exitCode: summary.exitCode,
        durationMs: summary.durationMs,
        totals: summary.totals,
        ...(summary.fatal ? { fatal: summary.fatal } : {}),
        ...(summary.purged ? { purged: summary.purged } : {}),
      });
      if (interrupted) {
        if (opts.json) out.result(summary, () => '');
        out.info(
          `interrupted: ${count(committedPages(summary), 'page')} committed; run the same command to resume`,
        );
        ctx.setExitCode(ExitCode.Interrupted);
        return;
      }
      let analytics: InstalledView[] | undefined;
      if (opts.analytics && summary.exitCode !== 1) {
        const views = openAnalyticsTarget(target);
        try {
          analytics = await installAnalytics(views);
        } finally {
          await views.close();
        }
        for (const line of describeInstall(analytics)) out.info(line);
        log.logger.info('analytics views installed', {
          installed: analytics.filter((v) => v.status === 'installed').map((v) => v.name),
        });
      }
      if (summary.purged?.error) out.info(`purge of deleted candidates failed: ${summary.purged.error}`);
      else if (summary.purged && summary.purged.candidates > 0)
        out.info(
          `purged ${count(summary.purged.candidates, 'deleted candidate')} and ${count(summary.purged.applications, 'application')} (erasure records in the target)`,
        );
      out.result(analytics ? { ...summary, analytics } : summary, () =>
        formatSummary(summary, { wide: Boolean(opts.wide) }),
      );
      if (summary.exitCode === 1) ctx.setExitCode(ExitCode.Failure);
      else if (summary.exitCode === 3) ctx.setExitCode(ExitCode.Partial);
    });
}

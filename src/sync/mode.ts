/**
 * Which kind of pass a stream gets, and why: a pure decision over its stored state, what the stream is,
 * the run's options and the time.
 */
import type { StreamState } from '../sinks/index.js';
import { defined } from '../util/defined.js';
import { formatDuration } from './duration.js';
import type { PassMode } from './types.js';

/** What {@link chooseMode} needs to know about a stream. */
export interface ModeStream {
  /** The endpoint takes a `syncToken` and the stream reads it as one list. */
  incremental: boolean;
  /** The stream reads one list per parent (a child stream). */
  child: boolean;
}

/** The options of a run that bear on the mode. */
export interface ModeOptions {
  /** `--full-refresh`: every stream is read in full. */
  fullRefresh: boolean;
  /** A full pass is due when the last one is older than this; `null` never. */
  reconcileAfterMs: number | null;
  /** `--refresh`: streams without a sync token are read whatever their refresh interval. */
  refresh?: boolean;
  /**
   * Streams without a sync token: the last complete read stays fresh this long (0: read every run).
   * @default 0
   */
  refreshAfterMs?: number;
}

/** The pass a stream gets. */
export interface ModeChoice {
  mode: PassMode;
  /** Continue the interrupted pass from its stored cursor (or parent) instead of starting over. */
  resume: boolean;
  /** Why, for the summary. */
  reason: string;
  /**
   * Set when the stream is not read at all: it has no sync token and its last complete read is still
   * within its refresh interval. `nextReadAt` is absent when the interval is endless (`never`).
   */
  notDue?: { lastReadAt: string; nextReadAt?: string };
}

/** Whether the stored state is a pass interrupted between two pages. */
function interrupted(state: StreamState | undefined, stream: ModeStream): boolean {
  if (state?.passId === undefined) return false;
  if (state.cursor !== undefined) return true;
  return stream.child && (state.parentDone !== undefined || state.parentCurrent !== undefined);
}

/**
 * The pass a stream gets: `--full-refresh` wins; then an interrupted pass is resumed; then a stream
 * without a sync token is left alone while its last complete read is within its refresh interval (unless
 * `refresh`), else read in full; a stream without a token stored is read in full; then an incremental stream is reconciled in
 * full when its last full pass is too old; otherwise it reads the changes since its token.
 * @example chooseMode(undefined, { incremental: true, child: false }, options, now) // full, 'first sync'
 */
export function chooseMode(
  state: StreamState | undefined,
  stream: ModeStream,
  options: ModeOptions,
  now: Date,
): ModeChoice {
  if (options.fullRefresh) return { mode: 'full', resume: false, reason: '--full-refresh' };
  if (interrupted(state, stream)) {
    const mode = state?.passKind ?? 'full';
    return {
      mode,
      resume: true,
      reason: `resumed the interrupted ${mode} pass after page ${state?.pagesCommitted ?? 0}`,
    };
  }
  if (!stream.incremental) {
    const last = state?.lastFullPassCompletedAt;
    const lastAt = last === undefined ? Number.NaN : Date.parse(last);
    const interval = options.refreshAfterMs ?? 0;
    if (!options.refresh && last !== undefined && !Number.isNaN(lastAt) && interval > 0) {
      const age = now.getTime() - lastAt;
      // A clock set back (age < 0) reads the stream rather than trusting a read from the future.
      if (age >= 0 && age < interval) {
        const next = Number.isFinite(interval) ? new Date(lastAt + interval).toISOString() : undefined;
        return {
          mode: 'full',
          resume: false,
          reason: `not due: read ${formatDuration(age)} ago; ${next === undefined ? 'read again only on --refresh' : `next read after ${next}`}`,
          notDue: { lastReadAt: last, ...defined({ nextReadAt: next }) },
        };
      }
    }
    const reason = stream.child ? 'child stream: read per parent' : 'endpoint has no sync token';
    return { mode: 'full', resume: false, reason };
  }
  // A changed-parents stream's "token" is the parent update time its last pass covered.
  if (!state?.syncToken && state?.parentsChangedAfter === undefined) {
    return {
      mode: 'full',
      resume: false,
      reason: state?.lastCompletedAt ? 'no sync token stored' : 'first sync',
    };
  }
  if (options.reconcileAfterMs !== null) {
    const last = state.lastFullPassCompletedAt;
    const age = last === undefined ? undefined : now.getTime() - Date.parse(last);
    if (age === undefined || Number.isNaN(age) || age >= options.reconcileAfterMs) {
      const when = age === undefined || Number.isNaN(age) ? 'never ran' : `${formatDuration(age)} ago`;
      return { mode: 'full', resume: false, reason: `reconcile: last full pass ${when}` };
    }
  }
  return { mode: 'incremental', resume: false, reason: 'changes since the last sync' };
}

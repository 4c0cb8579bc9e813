/**
 * What a failure means for a stream, decided in one place from the error's class: the whole run stops,
 * the stream is skipped, its pass starts again, or the stream fails while the others go on.
 */
import { AshbyError, classifyAshbyError } from '../ashby/errors.js';
import type { PassMode } from './types.js';

/** How often a cursor that expired mid-pass may restart that pass before the stream fails. */
export const MAX_PASS_RESTARTS = 3;

/** The run was stopped (its signal aborted) while a stream was reading. */
export class AbortedError extends Error {
  override name = 'AbortedError';
}

/** What to do about an error raised while a stream synced. */
export type FailureAction =
  /** The key is refused: every stream stops, the run exits 1. */
  | { action: 'fatal' }
  /** The run is stopping: the stream ends as `aborted`. */
  | { action: 'aborted' }
  /** The key may not read this stream: it is skipped with the scope it needs. */
  | { action: 'skip' }
  /** Start a new pass: `full` after a refused sync token (which is discarded), `same` after an expired cursor. */
  | { action: 'restart'; pass: 'full' | 'same'; code: string }
  /** The stream fails with the error's message; the others go on. */
  | { action: 'fail' };

/** Where the stream was when the error came. */
export interface FailureContext {
  /** The run's signal has fired. */
  aborted: boolean;
  /** Mode of the pass that failed. */
  mode: PassMode;
  /** Restarts already made by this stream in this run. */
  restarts: number;
}

/**
 * Classifies an error raised by a stream's pass. The class decides, never a code string: a refused key is
 * fatal whatever else is going on; a stopping run aborts; a missing permission skips; a refused sync token
 * on an incremental pass restarts in full; an expired cursor restarts the pass (at most
 * {@link MAX_PASS_RESTARTS} times); anything else fails the stream.
 */
export function classifyFailure(error: unknown, context: FailureContext): FailureAction {
  const kind = classifyAshbyError(error);
  if (kind === 'auth') return { action: 'fatal' };
  if (context.aborted || error instanceof AbortedError) return { action: 'aborted' };
  if (kind === 'permission') return { action: 'skip' };
  const code = error instanceof AshbyError ? (error.code ?? kind ?? 'error') : 'error';
  if (kind === 'sync-token' && context.mode === 'incremental')
    return { action: 'restart', pass: 'full', code };
  if (kind === 'cursor' && context.restarts < MAX_PASS_RESTARTS)
    return { action: 'restart', pass: 'same', code };
  return { action: 'fail' };
}
